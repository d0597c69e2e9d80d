import { statSync } from 'node:fs';
import { FlatIndex } from '../index/flat.js';
import { HnswIndex } from '../index/hnsw/hnsw-index.js';
import { DATA_FORMATS } from '../io/formats.js';
import { readDatasetFile, saveIndexFile } from '../node/index.js';
import type { Metric } from '../types.js';
import {
  aboutFile, bool, writingFile, checkWritable, formatBytes, formatSeconds, num, println, round, secondsSince, str, UsageError,
  type Command,
} from './args.js';
import { Progress } from './progress.js';

/** `webannolo build`: dataset file -> index file. */
export const buildCommand: Command = {
  name: 'build',
  summary: 'build an index over a dataset file and save it',
  synopsis: '--data FILE --metric l2|ip --out INDEX [--index-type hnsw|flat] [--m 16] [--ef-construction 200] [--seed 1] [--format F] [--limit N]',
  flags: [
    { name: 'data', type: 'string', placeholder: 'FILE', required: true, help: 'dataset to index (.fvecs, .bvecs, .npy, .csr, .bin, idx3-ubyte)' },
    { name: 'metric', type: 'enum', values: ['l2', 'ip'], required: true, help: 'distance: squared Euclidean (l2) or inner product (ip)' },
    { name: 'out', type: 'string', placeholder: 'INDEX', required: true, help: 'index file to write (written atomically)' },
    { name: 'index-type', type: 'enum', values: ['hnsw', 'flat'], default: 'hnsw', help: 'hnsw graph, or flat (exact search)' },
    { name: 'm', type: 'int', min: 2, max: 255, default: 16, help: 'HNSW links per node (level 0 gets 2m)' },
    { name: 'ef-construction', type: 'int', min: 1, default: 200, help: 'HNSW beam width while building' },
    { name: 'seed', type: 'int', min: 0, max: 0xffffffff, default: 1, help: 'seed of the HNSW level draws' },
    { name: 'format', type: 'enum', values: DATA_FORMATS, placeholder: 'FORMAT', help: `dataset format, overriding the extension: ${DATA_FORMATS.join(', ')}` },
    { name: 'limit', type: 'int', min: 1, help: 'index only the first N vectors' },
    { name: 'quiet', type: 'boolean', help: 'no progress bar' },
  ],
  async run(args, io) {
    const data = str(args, 'data');
    const out = str(args, 'out');
    const metric = str(args, 'metric') as Metric;
    const type = str(args, 'index-type');
    if (type === 'flat') {
      for (const f of ['m', 'ef-construction', 'seed']) {
        if (args.given.has(f)) throw new UsageError(`build: --${f} only applies to --index-type hnsw`);
      }
    }
    checkWritable('out', out);

    let t = performance.now();
    const dataset = await aboutFile(data, () => readDatasetFile(data, { format: str(args, 'format', true), limit: num(args, 'limit', true) }));
    println(io.stdout, `read ${dataset.size} ${dataset.kind} vectors of dimension ${dataset.dim} from ${data} (${formatSeconds(secondsSince(t))})`);

    t = performance.now();
    let index: HnswIndex | FlatIndex;
    let graphBytes = 0;
    if (type === 'flat') {
      index = FlatIndex.build(dataset, { metric });
    } else {
      const m = num(args, 'm');
      const efConstruction = num(args, 'ef-construction');
      const seed = num(args, 'seed');
      const progress = new Progress('build', io.stderr, { enabled: !bool(args, 'quiet') });
      try {
        index = HnswIndex.build(dataset, { metric, m, efConstruction, seed, onProgress: (d, n) => progress.update(d, n) });
      } finally {
        progress.done();
      }
      graphBytes = index.memory.graphBytes;
    }
    const seconds = secondsSince(t);
    const storeBytes = index.store.byteLength;
    const params = index instanceof HnswIndex
      ? ` (m=${index.buildParams.m}, efConstruction=${index.buildParams.efConstruction}, seed=${index.buildParams.seed})`
      : '';
    println(io.stdout, `built ${type} index, metric ${metric}${params}, in ${formatSeconds(seconds)}`);
    const per = (b: number) => `${(b / index.size).toFixed(1)} B/vector`;
    println(io.stdout, `memory: graph ${formatBytes(graphBytes)} (${per(graphBytes)}), store ${formatBytes(storeBytes)} (${per(storeBytes)})`);

    await writingFile(out, () => saveIndexFile(index, out));
    const fileBytes = statSync(out).size;
    println(io.stdout, `wrote ${out} (${formatBytes(fileBytes)})`);
    println(io.stdout, JSON.stringify({
      items: index.size, dim: index.dim, metric, seconds: round(seconds), graphBytes, storeBytes, out, index: type, fileBytes,
    }));
    return 0;
  },
};
