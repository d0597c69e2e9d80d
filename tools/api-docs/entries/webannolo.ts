/**
 * The main entry, for Node and browsers: datasets, the HNSW and flat indexes, quantizers,
 * WebGPU search, the query batcher, index files as bytes, and saved indexes in the browser.
 *
 * @module webannolo
 */
export * from '../../../src/index.js';
