// Index files: bytes anywhere (serializeIndex), files in Node (written atomically), and the
// clear error a damaged file gives instead of a wrong index.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DenseDataset, deserializeIndex, HnswIndex, serializeIndex, WebannoloError, writeFvecs } from 'webannolo';
import { loadIndexFile, readDatasetFile, saveIndexFile } from 'webannolo/node';

const dir = mkdtempSync(join(tmpdir(), 'webannolo-example-'));
try {
  // A dataset file (.fvecs: per row an int32 dimension, then the float32 values).
  const vectors = Float32Array.from({ length: 1000 * 16 }, (_, i) => Math.sin(i * 0.731));
  writeFileSync(join(dir, 'base.fvecs'), writeFvecs(new DenseDataset(vectors, 16)));
  const data = await readDatasetFile(join(dir, 'base.fvecs')); // format from the extension
  const index = HnswIndex.build(data, { metric: 'l2' });

  const bytes = serializeIndex(index); // a Uint8Array: IndexedDB, fetch, postMessage...
  const copy = deserializeIndex(bytes);
  console.log(`serialized ${bytes.length} bytes; same answer: ${copy.search(data.get(5), 1).ids[0] === 5}`);

  await saveIndexFile(index, join(dir, 'small.wann')); // a temporary file, then a rename
  const loaded = await loadIndexFile(join(dir, 'small.wann'));
  console.log(`loaded ${loaded.size} items of dimension ${loaded.dim}, metric ${loaded.metric}`);

  const damaged = readFileSync(join(dir, 'small.wann'));
  damaged[damaged.length >> 1] ^= 0xff; // flip a byte in the middle
  writeFileSync(join(dir, 'damaged.wann'), damaged);
  try {
    await loadIndexFile(join(dir, 'damaged.wann'));
  } catch (error) {
    if (!(error instanceof WebannoloError)) throw error;
    console.log(`damaged file: ${error.code}: ${error.message}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
