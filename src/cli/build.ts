import { statSync } from 'node:fs';
import { DenseDataset } from '../data/dense.js';
import { fail } from '../errors.js';
import { FlatIndex } from '../indexes/flat.js';
import type { Layout } from '../indexes/hnsw/graph/locality-layout.js';
import { HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import { itemInfo } from '../indexes/hnsw/living/mutations.js';
import { DATA_FORMATS } from '../io/formats.js';
import { readDatasetFile, saveIndexFile } from '../node/index.js';
import { WorkerPool } from '../parallel/pool.js';
import { denseRowsFit } from '../quant/dense/store.js';
import { PQ_KSUB } from '../quant/pq/codebook.js';
import { trainPqParallel } from '../quant/pq/parallel-kmeans.js';
import { ProductQuantizer } from '../quant/pq/quantizer.js';
import { RabitqQuantizer } from '../quant/rabitq/quantizer.js';
import { ScalarQuantizer } from '../quant/scalar/quantizer.js';
import type { Metric } from '../types.js';
import {
  aboutFile,
  bool,
  type CliIo,
  type Command,
  checkWritable,
  formatBytes,
  formatSeconds,
  num,
  type ParsedArgs,
  println,
  round,
  secondsSince,
  str,
  UsageError,
  writingFile,
} from './args.js';
import { checkFlags, RERANK_CODES_FLAG, rerankKept } from './build-checks.js';
import { type BuildItems, buildShardFiles, SHARDS_FLAG } from './build-shards.js';
import { readKeysFile, readLabelsFile } from './item-files.js';
import { Progress } from './progress.js';

/** `webannolo build`: dataset file -> index file. */
export const buildCommand: Command = {
  name: 'build',
  summary: 'build an index over a dataset file and save it',
  synopsis:
    '--data FILE --metric l2|ip --out INDEX [--index-type hnsw|flat] [--m 16] [--ef-construction 200] [--seed 1] [--format F] [--limit N]' +
    ' [--quantizer plain|f16|sq8|pq|rabitq [--pq-m M [--pq-train-sample N] [--pq-iterations N]] [--bits B] [--keep-plain true|false] [--rerank-codes f32|f16|sq8]] [--threads N] [--keys FILE] [--labels FILE] [--layout locality|insertion] [--shards N]',
  flags: [
    {
      name: 'data',
      type: 'string',
      placeholder: 'FILE',
      required: true,
      help: 'dataset to index (.fvecs, .bvecs, .npy, .csr, .bin, idx3-ubyte)',
    },
    { name: 'metric', type: 'enum', values: ['l2', 'ip'], required: true, help: 'distance: squared Euclidean (l2) or inner product (ip)' },
    { name: 'out', type: 'string', placeholder: 'INDEX', required: true, help: 'index file to write (written atomically)' },
    { name: 'index-type', type: 'enum', values: ['hnsw', 'flat'], default: 'hnsw', help: 'hnsw graph, or flat (exact search)' },
    { name: 'm', type: 'int', min: 2, max: 255, default: 16, help: 'HNSW links per node (level 0 gets 2m)' },
    { name: 'ef-construction', type: 'int', min: 1, default: 200, help: 'HNSW beam width while building' },
    {
      name: 'seed',
      type: 'int',
      min: 0,
      max: 0xffffffff,
      default: 1,
      help: 'seed of the HNSW level draws (and of the PQ training sample)',
    },
    {
      name: 'format',
      type: 'enum',
      values: DATA_FORMATS,
      placeholder: 'FORMAT',
      help: `dataset format, overriding the extension: ${DATA_FORMATS.join(', ')}`,
    },
    { name: 'limit', type: 'int', min: 1, help: 'index only the first N vectors' },
    {
      name: 'quantizer',
      type: 'enum',
      values: ['plain', 'f16', 'sq8', 'pq', 'rabitq'],
      default: 'plain',
      help: 'search on plain f32 vectors, or (dense data) on f16 halves (2 B/component), sq8 bytes (1 B/component, min/max per dimension), product-quantization codes or RaBitQ codes (--bits per rotated component)',
    },
    { name: 'bits', type: 'int', min: 1, max: 8, placeholder: 'B', help: 'rabitq: bits per rotated component, 1 to 8 (default 1)' },
    {
      name: 'pq-m',
      type: 'int',
      min: 1,
      max: 65535,
      placeholder: 'M',
      help: 'PQ subspaces = bytes per vector; must divide the dimension (required with --quantizer pq)',
    },
    { name: 'pq-train-sample', type: 'int', min: 1, placeholder: 'N', help: 'vectors PQ trains its codebooks on (default min(n, 20000))' },
    { name: 'pq-iterations', type: 'int', min: 1, placeholder: 'N', help: 'k-means iterations per PQ subspace at most (default 15)' },
    {
      name: 'keep-plain',
      type: 'boolean',
      help: 'hnsw with f16/sq8/pq/rabitq: keep the plain f32 vectors in the file for `search --rerank` (default true for pq, sq8 and rabitq, false for f16)',
    },
    RERANK_CODES_FLAG,
    {
      name: 'threads',
      type: 'int',
      min: 1,
      max: 1024,
      placeholder: 'N',
      help: "worker threads for the HNSW build and PQ training (default: every core; 1 = hnswlib's serial insertion)",
    },
    {
      name: 'keys',
      type: 'string',
      placeholder: 'FILE',
      help: 'hnsw: a key per vector, one per line (integers below 2^53, or any text); results then report keys',
    },
    {
      name: 'labels',
      type: 'string',
      placeholder: 'FILE',
      help: 'hnsw: labels per vector, one line each, separated by commas (empty line: none), for `search --filter-label`',
    },
    {
      name: 'layout',
      type: 'enum',
      values: ['locality', 'insertion'],
      default: 'locality',
      help: 'hnsw: items in memory in breadth-first graph order (faster search on large sets; ids unchanged) or in input order',
    },
    SHARDS_FLAG,
    { name: 'quiet', type: 'boolean', help: 'no progress bar' },
  ],
  notes:
    'The last line of stdout is one JSON object: {"items","dim","metric","seconds","graphBytes","storeBytes","out","index","fileBytes","quantizer","threads",...};' +
    ' with --quantizer f16/sq8/pq/rabitq also "rerankBytes","keepPlain" and, when a re-ranking store is kept, "rerankCodes" (f32, f16 or sq8); with pq also "pqM","pqKsub","pqDsub","codebookBytes","trainSeconds".' +
    ' With --shards N: one index file per shard, {"shards","files","itemsPerShard",...} (see --shards).',
  async run(args, io) {
    const data = str(args, 'data');
    const out = str(args, 'out');
    const type = str(args, 'index-type');
    const quantizer = str(args, 'quantizer');
    checkFlags(args, type, quantizer);
    const shards = num(args, 'shards', true);
    if (shards !== undefined && type !== 'hnsw') throw new UsageError('build: --shards needs --index-type hnsw (shards carry keys)');
    checkWritable('out', out);
    const threads = await WorkerPool.threadsFor(num(args, 'threads', true), (line) => println(io.stderr, line));

    const t = performance.now();
    const dataset = await aboutFile(data, () =>
      readDatasetFile(data, { format: str(args, 'format', true), limit: num(args, 'limit', true) }),
    );
    println(
      io.stdout,
      `read ${dataset.size} ${dataset.kind} vectors of dimension ${dataset.dim} from ${data} (${formatSeconds(secondsSince(t))})`,
    );
    const keysPath = str(args, 'keys', true);
    const labelsPath = str(args, 'labels', true);
    const keys = keysPath === undefined ? undefined : await readKeysFile(keysPath, dataset.size);
    const labels = labelsPath === undefined ? undefined : await readLabelsFile(labelsPath, dataset.size);
    const items: BuildItems = { dataset, keys, labels };
    const json =
      shards === undefined
        ? await buildIndexFile(args, io, items, out, threads)
        : await buildShardFiles(shards, items, out, io, (part, file, annotations) =>
            buildIndexFile(args, io, part, file, threads, annotations),
          );
    println(io.stdout, JSON.stringify(json));
    return 0;
  },
};

/**
 * Builds one index over `items` as the flags say, writes it to `out` (with `annotations` in
 * its header) and returns the JSON object the command reports.
 */
async function buildIndexFile(
  args: ParsedArgs,
  io: CliIo,
  items: BuildItems,
  out: string,
  threads: number,
  annotations?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const { dataset, keys, labels } = items;
  const data = str(args, 'data');
  const metric = str(args, 'metric') as Metric;
  const type = str(args, 'index-type');
  const quantizer = str(args, 'quantizer');
  const scalar = quantizer === 'f16' || quantizer === 'sq8' ? new ScalarQuantizer(quantizer) : null;
  const rabitq = quantizer === 'rabitq' ? new RabitqQuantizer({ bits: (args.values.get('bits') as number | undefined) ?? 1 }) : null;
  const rerankCodes = rerankKept(args, type, quantizer);
  const t = performance.now();
  let pq: ProductQuantizer | null = null;
  let trainSeconds = 0;
  if (quantizer === 'pq') {
    if (!(dataset instanceof DenseDataset))
      fail('INVALID_ARGUMENT', `${data} holds sparse vectors: product quantization (--quantizer pq) needs dense vectors`);
    pq = await trainPq(args, dataset, io, threads);
    trainSeconds = secondsSince(t);
  }
  if ((scalar || rabitq) && !(dataset instanceof DenseDataset))
    fail('INVALID_ARGUMENT', `${data} holds sparse vectors: --quantizer ${quantizer} needs dense vectors`);
  let index: HnswIndex | FlatIndex;
  let graphBytes = 0;
  if (type === 'flat') {
    const q = pq ?? scalar ?? rabitq;
    index = q ? new FlatIndex(q.encode(dataset as DenseDataset, metric)) : FlatIndex.build(dataset, { metric });
  } else {
    const m = num(args, 'm');
    const efConstruction = num(args, 'ef-construction');
    const seed = num(args, 'seed');
    const progress = new Progress('build', io.stderr, { enabled: !bool(args, 'quiet') });
    // f16/sq8 vectors too large for f32 in the SIMD memory are built on their codes directly.
    const onCodes = scalar !== null && !denseRowsFit(dataset.size, dataset.dim);
    if (onCodes && (args.values.get('keep-plain') === true || args.given.has('rerank-codes'))) {
      fail(
        'INVALID_ARGUMENT',
        `${dataset.size} vectors of dimension ${dataset.dim} are too many to keep as f32 for --rerank: build with --keep-plain false`,
      );
    }
    const buildParams = { metric, m, efConstruction, seed, threads, onProgress: (d: number, n: number) => progress.update(d, n) };
    const layout = str(args, 'layout') as Layout;
    try {
      index = onCodes
        ? (
            await HnswIndex.buildOnStoreAsync(scalar.encode(dataset as DenseDataset, metric), {
              m,
              efConstruction,
              seed,
              threads,
              onProgress: buildParams.onProgress,
            })
          ).withItems(itemInfo({ keys, labels }, dataset.size))
        : await HnswIndex.buildAsync(dataset, { ...buildParams, keys, labels, layout });
    } finally {
      progress.done();
    }
    // Otherwise the graph is built on the plain vectors; searches then run on the codes.
    const q = pq ?? scalar ?? rabitq;
    if (q && !onCodes) index = index.quantize(q, rerankCodes === null ? { keepPlain: false } : { rerankCodes });
    else if (onCodes)
      println(
        io.stdout,
        `built the graph on the ${quantizer} codes: ${dataset.size} f32 vectors of dimension ${dataset.dim} do not fit the SIMD kernels' 4 GiB memory (no plain vectors kept; items stay in insertion layout)`,
      );
    graphBytes = index.memory.graphBytes;
  }
  const seconds = secondsSince(t);
  const storeBytes = index.store.byteLength;
  const rerankBytes = index instanceof HnswIndex ? index.memory.rerankBytes : 0;
  const params =
    index instanceof HnswIndex
      ? ` (m=${index.buildParams.m}, efConstruction=${index.buildParams.efConstruction}, seed=${index.buildParams.seed})`
      : '';
  const onPq = pq ? ` on PQ codes (m=${pq.m})` : scalar || rabitq ? ` on ${quantizer} codes` : '';
  const onThreads = type === 'hnsw' ? ` on ${threads} thread${threads === 1 ? '' : 's'}` : '';
  println(
    io.stdout,
    `built ${type} index${onPq}, metric ${metric}${params}, in ${formatSeconds(seconds)}${onThreads}${pq ? ' (PQ training included)' : ''}`,
  );
  const per = (b: number) => `${(b / index.size).toFixed(1)} B/vector`;
  // With a quantizer the store holds its codes: PQ's bytes are the codes plus the codebooks.
  const storeText = pq
    ? `store ${formatBytes(storeBytes)} (PQ codes ${per(storeBytes - pq.codebooks.byteLength)} + codebooks ${formatBytes(pq.codebooks.byteLength)})`
    : `store ${formatBytes(storeBytes)} (${per(storeBytes)}${scalar ? `, ${quantizer}` : rabitq ? `, rabitq ${rabitq.bits}-bit codes and factors` : ''})`;
  const kept = index instanceof HnswIndex && index.rerankStore !== null;
  const rerankText =
    quantizer !== 'plain' && type === 'hnsw'
      ? `, re-rank ${kept ? `${rerankCodes === 'f32' ? 'vectors' : `${rerankCodes} codes`} ${formatBytes(rerankBytes)} (${per(rerankBytes)})` : `vectors none${rerankCodes !== null ? '' : ' (--keep-plain false)'}`}`
      : '';
  println(io.stdout, `memory: graph ${formatBytes(graphBytes)} (${per(graphBytes)}), ${storeText}${rerankText}`);

  await writingFile(out, () => saveIndexFile(index, out, annotations === undefined ? {} : { annotations }));
  const fileBytes = statSync(out).size;
  println(io.stdout, `wrote ${out} (${formatBytes(fileBytes)})`);
  const json: Record<string, unknown> = {
    items: index.size,
    dim: index.dim,
    metric,
    seconds: round(seconds),
    graphBytes,
    storeBytes,
    out,
    index: type,
    fileBytes,
    quantizer,
    threads,
  };
  if (index instanceof HnswIndex && index.keys) json['keys'] = index.keys.kind;
  if (index instanceof HnswIndex && index.labels) json['labels'] = true;
  if (rabitq) json['rabitqBits'] = rabitq.bits;
  if (quantizer !== 'plain') Object.assign(json, { rerankBytes, keepPlain: kept, ...(kept ? { rerankCodes } : {}) });
  if (pq)
    Object.assign(json, {
      pqM: pq.m,
      pqKsub: PQ_KSUB,
      pqDsub: pq.dsub,
      codebookBytes: pq.codebooks.byteLength,
      trainSeconds: round(trainSeconds),
    });
  return json;
}

/** Trains the product quantizer on the dataset, with a progress bar per subspace. */
async function trainPq(args: ParsedArgs, dataset: DenseDataset, io: CliIo, threads: number): Promise<ProductQuantizer> {
  const pq = new ProductQuantizer({
    m: num(args, 'pq-m'),
    trainSample: num(args, 'pq-train-sample', true),
    maxIterations: num(args, 'pq-iterations', true),
    seed: num(args, 'seed'),
  });
  const start = performance.now();
  const progress = new Progress('pq training', io.stderr, { enabled: !bool(args, 'quiet') });
  try {
    await trainPqParallel(pq, dataset, threads, { onProgress: (d, n) => progress.update(d, n) });
  } finally {
    progress.done();
  }
  const sample = Math.min(dataset.size, num(args, 'pq-train-sample', true) ?? 20_000);
  println(
    io.stdout,
    `trained PQ codebooks: m=${pq.m} subspaces of ${pq.dsub} dimensions, ${PQ_KSUB} centroids each, on ${sample} vectors (${formatSeconds(secondsSince(start))})`,
  );
  return pq;
}
