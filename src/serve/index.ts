/**
 * The query service (Node only): import from 'webannolo/serve'. An HTTP front, a write-ahead
 * log that keeps every acknowledged change, and shards with replicas on NATS.
 */

export type { AddChange, BackendInfo, Hits, QueryParams, ServeBackend, SnapshotInfo, WriteAck } from './backend.js';
export { DurableIndex, type DurableOptions, type DurableStats } from './durable/durable-index.js';
export type { LogStats } from './durable/write-ahead-log.js';
export type { HttpAuthOptions, WriteAccess } from './http/auth.js';
export type { SearchDefaults } from './http/context.js';
export { type BackendStatsLike, ServeMetrics } from './http/metrics.js';
export { DEFAULT_LIMITS, type RequestLimits } from './http/schemas.js';
export { createHttpApp, type HttpServer, type HttpServerOptions, startHttpServer } from './http/server.js';
export { LocalBackend, type LocalBackendOptions, type LocalBackendStats } from './local-backend.js';
export type { ApplyOutcome } from './nats/apply-results.js';
export { GatewayBackend, type GatewayOptions, type GatewayStats } from './nats/gateway-backend.js';
export { LocalShardIndex, type ShardIndex } from './nats/shard-index.js';
export { shardOfKey } from './nats/shard-of-key.js';
export { type ShardInfo, ShardReplica, type ShardReplicaOptions } from './nats/shard-replica.js';
export {
  connectNats,
  ShardedClient,
  type ShardedClientOptions,
  type ShardedHits,
  type ShardedSearchOptions,
} from './nats/sharded-client.js';
