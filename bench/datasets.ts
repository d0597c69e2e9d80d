import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DenseDataset } from '../src/data/dense.js';
import { FlatIndex } from '../src/index/flat.js';
import { loadMnist } from '../src/node/mnist.js';
import type { Metric } from '../src/types.js';
import { ROOT, type BenchArgs, type DatasetName } from './args.js';
import { readFvecs, readIvecs, writeFvecs, writeIvecs } from '../src/io/vecs.js';

/** Ground-truth neighbours kept per query (the MNIST cache stores this many). */
const GT_DEPTH = 100;

export interface GroundTruth {
  /** Neighbours stored per query (>= the k of recall@k). */
  depth: number;
  /** Row q holds the true neighbours of query q, best first, at [q*depth, (q+1)*depth). */
  ids: Int32Array;
}

export interface BenchDataset {
  name: DatasetName;
  description: string;
  metric: Metric;
  base: DenseDataset;
  queries: DenseDataset;
  gt: GroundTruth;
  gtSource: string;
}

export const BGE_DIR = resolve(ROOT, '..', 'shared', 'data', 'bge-base-beir');

function mnistGtPath(args: BenchArgs): string {
  return join(args.out, `mnist-gt-${args.n}-${args.nq}.ivecs`);
}

/**
 * Makes sure the ground truth of `name` exists. MNIST's is computed once with webannolo's exact
 * FlatIndex (top 100, squared L2) and cached under the results folder; bge ships its own.
 */
export async function ensureGroundTruth(name: DatasetName, args: BenchArgs): Promise<void> {
  if (name !== 'mnist') return;
  const path = mnistGtPath(args);
  if (existsSync(path)) return;
  const { train, test } = loadMnist(args.n, args.nq);
  const depth = Math.min(GT_DEPTH, train.size);
  process.stderr.write(`[gt] mnist: exact top-${depth} of ${test.size} queries over ${train.size} items (FlatIndex)... `);
  const t0 = performance.now();
  const flat = FlatIndex.build(train, { metric: 'l2' });
  const r = await flat.searchBatch(test, depth);
  process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(path, writeIvecs(test.size, depth, r.ids));
  writeFileSync(path.replace(/\.ivecs$/, '.dist.fvecs'), writeFvecs(new DenseDataset(r.scores, depth)));
}

/** Loads base, queries and ground truth (after ensureGroundTruth). */
export function loadDataset(name: DatasetName, args: BenchArgs): BenchDataset {
  if (name === 'mnist') {
    const { train, test } = loadMnist(args.n, args.nq);
    const path = mnistGtPath(args);
    const gt = readIvecs(new Uint8Array(readFileSync(path)));
    if (gt.rows !== test.size) throw new Error(`${path}: ${gt.rows} rows for ${test.size} queries`);
    return {
      name, metric: 'l2', base: train, queries: test,
      description: `MNIST ${train.size} train images as base, first ${test.size} test images as queries (784-d, squared L2)`,
      gt: { depth: gt.dim, ids: gt.data },
      gtSource: `webannolo FlatIndex (exact), cached in ${path}`,
    };
  }
  const read = (f: string) => new Uint8Array(readFileSync(join(BGE_DIR, f)));
  const base = readFvecs(read('base.fvecs'));
  const gt = readIvecs(read('groundtruth.ivecs'));
  const queries = readFvecs(read('queries.fvecs'), Math.min(args.nq, gt.rows));
  const nq = queries.size;
  return {
    name, metric: 'ip', base, queries,
    description: `bge-base-beir: ${base.size} base, ${nq} queries (${base.dim}-d, inner product)`,
    gt: { depth: gt.dim, ids: gt.data.subarray(0, nq * gt.dim) },
    gtSource: `${join(BGE_DIR, 'groundtruth.ivecs')} (shipped)`,
  };
}
