import { readFileSync } from 'node:fs';
import { type BatchSearchResult, type DenseDataset, FlatIndex, type GroundTruth, type SparseDataset } from '../../src/index.js';
import { readCsr } from '../../src/io/csr.js';
import { readFvecs, readIvecs } from '../../src/io/vecs.js';
import { loadMnist } from '../../src/node/mnist.js';
import { sharedPath } from './shared-data.js';

const bytes = (...parts: string[]) => new Uint8Array(readFileSync(sharedPath(...parts)));

export function loadBge(): { base: DenseDataset; queries: DenseDataset; gt: GroundTruth } {
  const ids = readIvecs(bytes('bge-base-beir', 'groundtruth.ivecs'));
  const dists = readFvecs(bytes('bge-base-beir', 'groundtruth.dist.fvecs'));
  return {
    base: readFvecs(bytes('bge-base-beir', 'base.fvecs')),
    queries: readFvecs(bytes('bge-base-beir', 'queries.fvecs')),
    gt: { ...ids, scores: dists.data },
  };
}

/** SPLADE base and the first `nq` queries with their ground truth rows. */
export function loadSplade(nq: number): { base: SparseDataset; queries: SparseDataset; gt: GroundTruth } {
  const ids = readIvecs(bytes('splade-pp-ed', 'groundtruth.ivecs'), nq);
  const dists = readFvecs(bytes('splade-pp-ed', 'groundtruth.dist.fvecs'), nq);
  return {
    base: readCsr(bytes('splade-pp-ed', 'base.csr')),
    queries: readCsr(bytes('splade-pp-ed', 'queries.csr'), nq),
    gt: { ...ids, scores: dists.data },
  };
}

/** MNIST subset with exact ground truth from FlatIndex (cached per process). */
const mnistCache = new Map<string, { base: DenseDataset; queries: DenseDataset; gt: GroundTruth }>();
export async function loadMnistWithTruth(n: number, nq: number, k = 10) {
  const key = `${n}/${nq}/${k}`;
  const hit = mnistCache.get(key);
  if (hit) return hit;
  const { train, test } = loadMnist(n, nq);
  const exact = await FlatIndex.build(train, { metric: 'l2' }).searchBatch(test, k);
  const value = { base: train, queries: test, gt: truthOf(exact) };
  mnistCache.set(key, value);
  return value;
}

export function truthOf(r: BatchSearchResult): GroundTruth {
  return { rows: r.count, dim: r.k, data: r.ids, scores: r.scores };
}
