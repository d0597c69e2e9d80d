import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LIBS = ['webannolo', 'hnswlib', 'usearch'] as const;
export type LibName = (typeof LIBS)[number];
export const DATASETS = ['mnist', 'bge'] as const;
export type DatasetName = (typeof DATASETS)[number];

export interface BenchArgs {
  datasets: DatasetName[];
  /** MNIST base size (first n training images). */
  n: number;
  /** Queries per dataset (capped by what the dataset has). */
  nq: number;
  efs: number[];
  libs: LibName[];
  out: string;
  k: number;
  m: number;
  efConstruction: number;
  seed: number;
  /** Batch size of the batched modes (webannolo searchBatch, usearch matrix search). */
  batchSize: number;
  /** Each timed (mode, ef) point repeats whole passes over the queries until this much time passed. */
  minTimeMs: number;
  /** ... and at least this many passes; QPS comes from the fastest pass. */
  minPasses: number;
  /** Queries searched untimed before each timed point. */
  warmup: number;
  /** Product-quantization part (webannolo only): off with --no-pq. */
  pq: boolean;
  /** Only the PQ part: webannolo alone, no plain-only sweep, writes only <dataset>-pq.json/.svg. */
  pqOnly: boolean;
  /** PQ subspaces (bytes per code) per dataset. */
  pqM: Record<DatasetName, number>;
  /** Vectors drawn to train the PQ codebooks (capped at the base size). */
  pqTrainSample: number;
  /** Lloyd iterations per subspace at most. */
  pqIterations: number;
  /** Plain-vector re-ranking depth of the 'PQ rerank' series (capped at ef by the library). */
  rerank: number;
}

/** Default PQ m: 8-d subspaces on both (768/96, 784/98); see bench/README.md for the choice. */
export const DEFAULT_PQ_M: Record<DatasetName, number> = { mnist: 98, bge: 96 };

/** Repository root: dist/bench/args.js -> ../.. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const USAGE = `usage: node dist/bench/run.js [--datasets mnist,bge] [--n 60000] [--nq 1000]
  [--efs 10,16,24,32,48,64,96,128,192,256] [--libs webannolo,hnswlib,usearch] [--out bench/results]
  [--k 10] [--m 16] [--ef-construction 200] [--seed 1] [--batch 64] [--min-time 300] [--passes 3] [--warmup 20]
  [--pq-m bge=96,mnist=98 | --pq-m 96] [--pq-train-sample 20000] [--pq-iterations 15] [--rerank 100]
  [--no-pq] [--pq-only]`;

export function parseArgs(argv: readonly string[]): BenchArgs {
  const a: BenchArgs = {
    datasets: ['mnist', 'bge'],
    n: 60000,
    nq: 1000,
    efs: [10, 16, 24, 32, 48, 64, 96, 128, 192, 256],
    libs: [...LIBS],
    out: resolve(ROOT, 'bench', 'results'),
    k: 10,
    m: 16,
    efConstruction: 200,
    seed: 1,
    batchSize: 64,
    minTimeMs: 300,
    minPasses: 3,
    warmup: 20,
    pq: true,
    pqOnly: false,
    pqM: { ...DEFAULT_PQ_M },
    pqTrainSample: 20000,
    pqIterations: 15,
    rerank: 100,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (flag === '--no-pq') {
      a.pq = false;
      continue;
    }
    if (flag === '--pq-only') {
      a.pqOnly = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    switch (flag) {
      case '--datasets': a.datasets = list(value, DATASETS, flag); break;
      case '--libs': a.libs = list(value, LIBS, flag); break;
      case '--efs': a.efs = value.split(',').map((s) => int(s, flag)); break;
      case '--n': a.n = int(value, flag); break;
      case '--nq': a.nq = int(value, flag); break;
      case '--out': a.out = resolve(value); break;
      case '--k': a.k = int(value, flag); break;
      case '--m': a.m = int(value, flag); break;
      case '--ef-construction': a.efConstruction = int(value, flag); break;
      case '--seed': a.seed = int(value, flag); break;
      case '--batch': a.batchSize = int(value, flag); break;
      case '--min-time': a.minTimeMs = int(value, flag, 0); break;
      case '--passes': a.minPasses = int(value, flag); break;
      case '--warmup': a.warmup = int(value, flag, 0); break;
      case '--pq-m': a.pqM = pqM(value, flag); break;
      case '--pq-train-sample': a.pqTrainSample = int(value, flag); break;
      case '--pq-iterations': a.pqIterations = int(value, flag, 0); break;
      case '--rerank': a.rerank = int(value, flag); break;
      default: throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  a.efs = [...new Set(a.efs)].sort((x, y) => x - y);
  if (a.pqOnly) {
    if (!a.pq) throw new Error(`--pq-only and --no-pq contradict each other\n${USAGE}`);
    a.libs = ['webannolo'];
  }
  return a;
}

function int(s: string, flag: string, min = 1): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v < min) throw new Error(`${flag}: expected an integer >= ${min}, got '${s}'`);
  return v;
}

/** '96' (every dataset) or 'bge=96,mnist=98' (the datasets named; the others keep their default). */
function pqM(s: string, flag: string): Record<DatasetName, number> {
  const out = { ...DEFAULT_PQ_M };
  if (/^\d+$/.test(s.trim())) {
    for (const d of DATASETS) out[d] = int(s.trim(), flag);
    return out;
  }
  for (const item of s.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const [name, value] = item.split('=');
    if (!(DATASETS as readonly string[]).includes(name ?? '') || value === undefined) {
      throw new Error(`${flag}: expected a number or dataset=m pairs (${DATASETS.join(', ')}), got '${item}'`);
    }
    out[name as DatasetName] = int(value, flag);
  }
  return out;
}

function list<T extends string>(s: string, allowed: readonly T[], flag: string): T[] {
  const out: T[] = [];
  for (const item of s.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`${flag}: '${item}' is not one of ${allowed.join(', ')}`);
    out.push(item as T);
  }
  if (out.length === 0) throw new Error(`${flag}: empty list`);
  return out;
}
