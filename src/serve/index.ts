/**
 * The query service (Node only): import from 'webannolo/serve'. An HTTP front, a write-ahead
 * log that keeps every acknowledged change, and shards with replicas on NATS.
 */

export type { AddChange, BackendInfo, Hits, QueryParams, ServeBackend, SnapshotInfo, WriteAck } from './backend.js';
