/**
 * How long opening a saved index takes against the time to read its bytes: a synthetic HNSW
 * index (random vectors and links, valid as a file: the point is the bytes, not the graph),
 * written once, then read and opened in turns, fastest of several runs each (the file stays
 * in the page cache, so this measures decoding, not the disk).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/open.js [--n 1000000] [--dim 128] [--runs 3] [--file /tmp/open-bench.wann]
 */
import { existsSync, openAsBlob, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { DenseDataset } from '../src/data/dense.js';
import { HnswGraph } from '../src/indexes/hnsw/graph/graph.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { deserializeIndex } from '../src/indexes/index-codec.js';
import { crc32 } from '../src/io/crc32.js';
import { loadIndexFile, saveIndexFile } from '../src/node/index-files.js';
import { PlainDenseStore } from '../src/quant/dense/store.js';
import { readIndexBlob } from '../src/storage/read-index.js';
import { Rng } from '../src/util/rng.js';

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

const n = Number(flag('n', '1000000'));
const dim = Number(flag('dim', '128'));
const runs = Number(flag('runs', '3'));
const file = flag('file', `/tmp/webannolo-open-${n}x${dim}.wann`);
const M = 16;

/** A valid HNSW index over random data: levels drawn as a build draws them, random links. */
function syntheticIndex(): HnswIndex {
  const rng = new Rng(7);
  const vectors = new Float32Array(n * dim);
  for (let i = 0; i < vectors.length; i++) vectors[i] = rng.nextOpenUnit();
  const levels = new Uint8Array(n);
  const mult = 1 / Math.log(M);
  let maxLevel = 0;
  let entry = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.min(16, Math.floor(-Math.log(rng.nextOpenUnit()) * mult));
    levels[i] = l;
    if (l > maxLevel) [maxLevel, entry] = [l, i];
  }
  const g = new HnswGraph(M, levels, 2 * M);
  const link = (list: Uint32Array, at: number, count: number) => {
    list[at] = count;
    for (let j = 1; j <= count; j++) list[at + j] = rng.nextInt(n);
  };
  for (let i = 0; i < n; i++) link(g.level0, i * (2 * M + 1), 2 * M);
  for (let i = 0; i < n; i++) for (let l = 0; l < levels[i]!; l++) link(g.upper[i]!, l * (M + 1), M);
  g.entryPoint = entry;
  g.maxLevel = maxLevel;
  return new HnswIndex(g, new PlainDenseStore(new DenseDataset(vectors, dim), 'l2'), { m: M, efConstruction: 100, seed: 7 });
}

async function best(what: string, fn: () => Promise<unknown> | unknown): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t0);
  }
  console.log(`${what.padEnd(44)} ${min.toFixed(0).padStart(6)} ms`);
  return min;
}

if (!existsSync(file)) {
  const t0 = performance.now();
  await saveIndexFile(syntheticIndex(), file);
  console.log(`wrote ${file} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
const bytes = statSync(file).size;
console.log(`${file}: ${(bytes / 2 ** 20).toFixed(0)} MiB, ${n} x ${dim}`);

const read = await best('read the bytes (fs.readFile)', () => readFile(file));
const readBlob = await best('read the bytes (openAsBlob + arrayBuffer)', async () => (await openAsBlob(file)).arrayBuffer());
const buf = await readFile(file);
await best('  crc32 of the bytes', () => crc32(buf));
await best('  deserializeIndex (bytes in memory)', () => deserializeIndex(buf));
const whole = await best('open: readFile + deserializeIndex', async () => deserializeIndex(await readFile(file)));
const blob = await best('open: readIndexBlob (chunks straight into place)', async () => readIndexBlob(await openAsBlob(file)));
const streamed = await best('open: loadIndexFile (Node, streamed)', () => loadIndexFile(file, { stream: true }));
const ratio = (x: number) => (x / read).toFixed(2);
console.log(
  `open / read (fs.readFile): readFile + deserializeIndex ${ratio(whole)}, readIndexBlob ${ratio(blob)}, loadIndexFile ${ratio(streamed)}`,
);
console.log(`readIndexBlob / reading the Blob's bytes: ${(blob / readBlob).toFixed(2)}`);
