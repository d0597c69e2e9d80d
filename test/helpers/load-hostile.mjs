// Loads every file in a folder with both index loaders, searching each index that loads, and
// prints one JSON line per file and loader: what happened ('ok' or the error's code, with
// 'UNTYPED' for anything but a WebannoloError). Run by test/file-fuzz.test.ts under a lowered
// heap limit (--max-old-space-size): hostile files must never make a loader allocate what
// their sizes claim. Uses the compiled library (dist/, built by the tests' global setup).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deserializeIndex, HnswIndex, WebannoloError } from '../../dist/src/index.js';
import { loadIndexFile } from '../../dist/src/node/index.js';

const dir = process.argv[2];

function queryFor(index) {
  const dim = index.dim;
  if (index.store.kind !== 'sparse') return Float32Array.from({ length: dim }, (_, i) => (i % 7) / 7);
  const ids = dim > 1 ? [0, dim - 1] : [0];
  return { indices: Uint32Array.from(ids), values: Float32Array.from(ids, () => 1) };
}

function newKey(index) {
  if (!index.keys) return undefined;
  return [index.keys.kind === 'string' ? 'fuzz-added' : 2 ** 52];
}

async function exercise(load) {
  try {
    const index = await load();
    const k = Math.min(3, index instanceof HnswIndex ? index.capacity : index.size);
    index.search(queryFor(index), k);
    if (index instanceof HnswIndex && index.rerankStore) index.search(queryFor(index), k, { rerank: 10 });
    // A change sizes its beam by the file's efConstruction.
    if (index instanceof HnswIndex) index.add([queryFor(index)], newKey(index));
    return 'ok';
  } catch (e) {
    if (e instanceof WebannoloError) return e.code;
    return `UNTYPED ${e?.constructor?.name}: ${String(e?.message ?? e).slice(0, 200)}`;
  }
}

for (const name of readdirSync(dir).sort()) {
  const path = join(dir, name);
  const memory = await exercise(() => deserializeIndex(new Uint8Array(readFileSync(path))));
  const streamed = await exercise(() => loadIndexFile(path, { stream: true, chunkBytes: 4096 }));
  process.stdout.write(`${JSON.stringify({ name, memory, streamed })}\n`);
}
process.stdout.write(`${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS })}\n`);
