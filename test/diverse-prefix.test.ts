import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeWorkers,
  type DenseDataset,
  HnswGraph,
  HnswIndex,
  PlainDenseStore,
  PlainSparseStore,
  ScalarQuantizer,
  SparseDataset,
} from '../src/index.js';
import { buildGraph, drawLevels, insertNodes } from '../src/indexes/hnsw/build/build-graph.js';
import { BatchInserter, type BatchSpan, layoutScratch } from '../src/indexes/hnsw/build/insertion-batch.js';
import { batchSizeAfter } from '../src/indexes/hnsw/build/parallel-build.js';
import { WorkerPool } from '../src/parallel/pool.js';
import type { QueryEvaluator, VectorStore } from '../src/types.js';
import { loadMnistWithTruth } from './helpers/data.js';

// The Linker's diverse prefix (src/indexes/hnsw/build/linker.ts) skips heuristic checks whose answer
// it already knows. It must never change a graph: every build here is compared word for word
// with the same build without it (insertNodes and an untracked BatchInserter run the plain
// heuristic). Small m makes lists overflow, and so pruning run, often.
const N = 2500;
const M = 6;
const EFC = 48;

/** The store with a count of one-pair distances (the heuristic's unit of work). */
function counting(store: VectorStore): { store: VectorStore; pairs: () => number } {
  let pairs = 0;
  const wrapped = Object.create(store) as VectorStore;
  wrapped.itemEvaluator = (id: number): QueryEvaluator => {
    const ev = store.itemEvaluator(id);
    return {
      distance: (other: number) => {
        pairs++;
        return ev.distance(other);
      },
      distances: (ids, count, out) => ev.distances(ids, count, out),
      release: () => ev.release?.(),
    };
  };
  return { store: wrapped, pairs: () => pairs };
}

function words(g: HnswGraph): number[][] {
  return [Array.from(g.level0), Array.from(g.upperPool), [g.entryPoint, g.maxLevel]];
}

/** The graph the plain heuristic builds: serial insertion without prefix tracking. */
function untrackedBuild(store: VectorStore, seed: number, keepPruned = false): HnswGraph {
  const g = new HnswGraph(M, drawLevels(store.size, M, seed));
  insertNodes(
    store,
    g,
    Array.from({ length: store.size }, (_, i) => i),
    EFC,
    keepPruned,
  );
  return g;
}

/** The parallel build's batches, run on this thread (as one worker would run them). */
function batchBuild(store: VectorStore, seed: number, track: boolean): HnswGraph {
  const g = new HnswGraph(M, drawLevels(store.size, M, seed));
  g.entryPoint = 0;
  g.maxLevel = g.levels[0]!;
  const inserter = new BatchInserter(store, g, EFC, false, track);
  const slotAt = new Uint32Array(128);
  for (let at = 1; at < store.size; ) {
    const end = Math.min(store.size, at + batchSizeAfter(at));
    const scratch = new Uint32Array(layoutScratch(g.levels, M, at, end, slotAt));
    const span: BatchSpan = { from: at, to: end, entryPoint: g.entryPoint, maxLevel: g.maxLevel, slotAt, scratch };
    for (let x = at; x < end; x++) inserter.select(span, x);
    inserter.link(span, 0, 1);
    for (let x = at; x < end; x++) {
      if (g.levels[x]! > g.maxLevel) {
        g.entryPoint = x;
        g.maxLevel = g.levels[x]!;
      }
    }
    at = end;
  }
  return g;
}

describe('diverse prefix: pruning skips known checks, the graph stays the same', () => {
  let base: DenseDataset;
  beforeAll(async () => {
    base = (await loadMnistWithTruth(N, 1)).base;
  });
  afterAll(async () => {
    await closeWorkers();
  });

  it('a serial build equals the plain heuristic word for word, with fewer one-pair distances', () => {
    const plain = counting(new PlainDenseStore(base, 'l2'));
    const expected = untrackedBuild(plain.store, 5);
    const tracked = counting(new PlainDenseStore(base, 'l2'));
    const g = buildGraph(tracked.store, { m: M, efConstruction: EFC, seed: 5 });
    expect(words(g)).toEqual(words(expected));
    // The saving is real: 5 % of one-pair distances here (a third in a 200k x 128 build,
    // where lists overflow more often).
    expect(tracked.pairs()).toBeLessThan(0.97 * plain.pairs());
    // A different seed gives a different graph: the comparison can fail.
    expect(words(buildGraph(tracked.store, { m: M, efConstruction: EFC, seed: 6 }))).not.toEqual(words(expected));
  });

  it('holds with keepPruned, on JavaScript kernels, on inner products, on sparse vectors and on f16/SQ8 codes', () => {
    const js = new PlainDenseStore(base, 'l2', { simd: false });
    expect(words(buildGraph(js, { m: M, efConstruction: EFC, seed: 2 }))).toEqual(words(untrackedBuild(js, 2)));
    const dense = new PlainDenseStore(base, 'l2');
    expect(words(buildGraph(dense, { m: M, efConstruction: EFC, seed: 3, keepPruned: true }))).toEqual(
      words(untrackedBuild(dense, 3, true)),
    );
    const ip = new PlainDenseStore(base, 'ip');
    expect(words(buildGraph(ip, { m: M, efConstruction: EFC, seed: 4 }))).toEqual(words(untrackedBuild(ip, 4)));
    // MNIST rows as sparse vectors (most pixels are 0).
    const rows = Array.from({ length: 1200 }, (_, i) => {
      const v = base.get(i);
      const indices: number[] = [];
      const values: number[] = [];
      v.forEach((x, j) => {
        if (x !== 0) {
          indices.push(j);
          values.push(x);
        }
      });
      return { indices: Uint32Array.from(indices), values: Float32Array.from(values) };
    });
    const sparse = new PlainSparseStore(SparseDataset.fromRows(rows, base.dim), 'ip');
    expect(words(buildGraph(sparse, { m: M, efConstruction: EFC, seed: 1 }))).toEqual(words(untrackedBuild(sparse, 1)));
    // Encoded stores (a graph built on codes with buildOnStore): f16 and SQ8, both metrics.
    const some = base.slice(0, 1200);
    for (const encoding of ['f16', 'sq8'] as const) {
      for (const metric of ['l2', 'ip'] as const) {
        const codes = new ScalarQuantizer(encoding).encode(some, metric);
        expect(words(buildGraph(codes, { m: M, efConstruction: EFC, seed: 8 }))).toEqual(words(untrackedBuild(codes, 8)));
      }
    }
  });

  it('the parallel build (batches, worker threads) equals its batches without tracking', async () => {
    const store = new PlainDenseStore(base, 'l2');
    const plain = batchBuild(store, 9, false);
    expect(words(batchBuild(store, 9, true))).toEqual(words(plain));
    const tasks = WorkerPool.shared().tasksFinished;
    const index = await HnswIndex.buildAsync(base, { metric: 'l2', m: M, efConstruction: EFC, seed: 9, threads: 2, layout: 'insertion' });
    // Workers really built it (two phases per batch, a task per worker each).
    expect(WorkerPool.shared().tasksFinished - tasks).toBeGreaterThanOrEqual(4);
    expect(words(index.graph)).toEqual(words(plain));
  });
});
