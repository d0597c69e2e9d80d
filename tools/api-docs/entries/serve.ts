/**
 * The query service (Node only): an HTTP front, a write-ahead log that keeps every
 * acknowledged change, and shards with replicas on NATS.
 *
 * @module webannolo/serve
 */
export * from '../../../src/serve/index.js';
