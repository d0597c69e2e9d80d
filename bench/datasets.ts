import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DenseDataset } from '../src/data/dense.js';
import { FlatIndex } from '../src/indexes/flat.js';
import { readFvecs, readIvecs, writeFvecs, writeIvecs } from '../src/io/vecs.js';
import { loadMnist } from '../src/node/mnist.js';
import type { Metric } from '../src/types.js';
import { type BenchArgs, type DatasetName, isSynthetic, ROOT, SYNTHETIC_N, type SyntheticName } from './args.js';
import { ensureBgePca, loadBgePca } from './bge-pca.js';
import { exactDistance } from './measure.js';
import { SYNTHETIC_DIM, SYNTHETIC_VERSION, syntheticData } from './synthetic.js';

/** Ground-truth neighbours kept per query (the MNIST and synthetic caches store this many). */
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

/** Distance of each set: bge is inner product, the others squared L2 (bge-pca128 too: bench/bge-pca.ts says why). */
export const metricOf = (name: DatasetName): Metric => (name === 'bge' ? 'ip' : 'l2');

function mnistGtPath(args: BenchArgs): string {
  return join(args.out, `mnist-gt-${args.n}-${args.nq}.ivecs`);
}

/**
 * Makes sure the ground truth of `name` exists. MNIST's and the synthetic sets' are computed
 * once with webannolo's exact FlatIndex (top 100, squared L2) and cached under the results
 * folder; bge ships its own; bge-pca128's is derived with the set (bench/bge-pca.ts).
 */
export async function ensureGroundTruth(name: DatasetName, args: BenchArgs): Promise<void> {
  if (isSynthetic(name)) return syntheticGroundTruth(name, args);
  if (name === 'bge-pca128') return ensureBgePca(args);
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
  if (isSynthetic(name)) return loadSynthetic(name, args);
  if (name === 'bge-pca128') return loadBgePca(args);
  if (name === 'mnist') {
    const { train, test } = loadMnist(args.n, args.nq);
    const path = mnistGtPath(args);
    const gt = readIvecs(new Uint8Array(readFileSync(path)));
    if (gt.rows !== test.size) throw new Error(`${path}: ${gt.rows} rows for ${test.size} queries`);
    return {
      name,
      metric: 'l2',
      base: train,
      queries: test,
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
    name,
    metric: 'ip',
    base,
    queries,
    description: `bge-base-beir: ${base.size} base, ${nq} queries (${base.dim}-d, inner product)`,
    gt: { depth: gt.dim, ids: gt.data.subarray(0, nq * gt.dim) },
    gtSource: `${join(BGE_DIR, 'groundtruth.ivecs')} (shipped)`,
  };
}

// ---------------------------------------------------------------------------------- synthetic

/** Base size of a synthetic set: its nominal 200k / 1M, or --n when given (a quick run). */
const syntheticSize = (name: SyntheticName, args: BenchArgs) => args.syntheticN ?? SYNTHETIC_N[name];

/**
 * The data is regenerated (a few seconds at 1M) in every process rather than cached: only the
 * ground truth is, keyed by everything that shapes the data.
 */
function syntheticGtPath(n: number, args: BenchArgs): string {
  return join(args.out, `synthetic-v${SYNTHETIC_VERSION}-gt-${n}-${args.nq}-seed${args.seed}.ivecs`);
}

function generate(name: SyntheticName, args: BenchArgs, log: boolean) {
  const n = syntheticSize(name, args);
  const t0 = performance.now();
  const data = syntheticData(n, args.nq, args.seed);
  if (log)
    process.stderr.write(
      `[gt] ${name}: generated ${n} + ${args.nq} queries x ${SYNTHETIC_DIM}-d, ${data.clusters} clusters, seed ${args.seed} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  return { n, ...data };
}

/** Exact top-100 (squared L2) of every query with FlatIndex, one query at a time for progress. */
async function syntheticGroundTruth(name: SyntheticName, args: BenchArgs): Promise<void> {
  const path = syntheticGtPath(syntheticSize(name, args), args);
  if (existsSync(path)) return;
  const { base, queries } = generate(name, args, true);
  const nq = queries.size;
  const depth = Math.min(GT_DEPTH, base.size);
  process.stderr.write(`[gt] ${name}: exact top-${depth} of ${nq} queries over ${base.size} items (FlatIndex, CPU)...\n`);
  const t0 = performance.now();
  const flat = FlatIndex.build(base, { metric: 'l2' });
  const ids = new Int32Array(nq * depth);
  const dists = new Float32Array(nq * depth);
  let lastLog = t0;
  for (let q = 0; q < nq; q++) {
    const r = flat.search(queries.get(q), depth);
    ids.set(r.ids, q * depth);
    dists.set(r.scores, q * depth);
    const now = performance.now();
    if (now - lastLog > 10_000 || q === nq - 1) {
      lastLog = now;
      const s = (now - t0) / 1000;
      process.stderr.write(
        `[gt] ${name}: ${q + 1}/${nq} queries, ${s.toFixed(0)} s, ~${((s / (q + 1)) * (nq - q - 1)).toFixed(0)} s left\n`,
      );
    }
  }
  process.stderr.write(`[gt] ${name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${path}\n`);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(path, writeIvecs(nq, depth, ids));
  writeFileSync(path.replace(/\.ivecs$/, '.dist.fvecs'), writeFvecs(new DenseDataset(dists, depth)));
}

/**
 * Regenerates the set and reads its cached ground truth, checking the stored exact distances of
 * a few queries against the generated data (a changed generator or runtime would otherwise
 * score recall against another data set's neighbours).
 */
function loadSynthetic(name: SyntheticName, args: BenchArgs): BenchDataset {
  const { n, base, queries, clusters } = generate(name, args, false);
  const path = syntheticGtPath(n, args);
  const gt = readIvecs(new Uint8Array(readFileSync(path)));
  const dists = readFvecs(new Uint8Array(readFileSync(path.replace(/\.ivecs$/, '.dist.fvecs'))));
  if (gt.rows !== queries.size || dists.size !== gt.rows) throw new Error(`${path}: ${gt.rows} rows for ${queries.size} queries`);
  for (let q = 0; q < gt.rows; q += Math.max(1, Math.floor(gt.rows / 8))) {
    for (const rank of [0, gt.dim - 1]) {
      const want = dists.data[q * gt.dim + rank]!;
      const got = exactDistance('l2', queries.get(q), base.get(gt.data[q * gt.dim + rank]!));
      if (Math.abs(got - want) > 1e-4 * Math.max(1, want)) {
        throw new Error(
          `${path} does not match the generated ${name} data (query ${q}: distance ${got} vs ${want} cached); delete it to recompute`,
        );
      }
    }
  }
  return {
    name,
    metric: 'l2',
    base,
    queries,
    description: `synthetic clustered ${SYNTHETIC_DIM}-d, L2, seeded — not a recall claim (scale only; seed ${args.seed}): ${n} base points from ${clusters} Gaussian clusters, ${queries.size} queries from the same generator (another seed stream), bench/synthetic.ts v${SYNTHETIC_VERSION}`,
    gt: { depth: gt.dim, ids: gt.data },
    gtSource: `webannolo FlatIndex (exact), cached in ${path}`,
  };
}
