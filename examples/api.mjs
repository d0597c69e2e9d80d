// The API in one program: dense and sparse data, exact search, f16/SQ8/PQ, early termination,
// worker threads, and saving (here on 1,000 MNIST images and 20 queries).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DenseDataset,
  deserializeIndex,
  FlatIndex,
  HnswIndex,
  ProductQuantizer,
  ScalarQuantizer,
  SparseDataset,
  serializeIndex,
} from 'webannolo';
import { loadIndexFile, loadMnist, saveIndexFile } from 'webannolo/node';

const mnist = loadMnist(1000, 20);
const vectors = mnist.train.data; // a Float32Array, row-major
const queries = mnist.test;
const query = queries.get(0);

// Dense, L2 (squared Euclidean) or 'ip' (inner product; cosine = ip on normalised vectors).
const data = new DenseDataset(vectors, 784);
const index = HnswIndex.build(data, {
  metric: 'l2',
  m: 16,
  efConstruction: 200,
  seed: 1,
  onProgress: (done, n) => done === n && console.log(`built ${n}`),
});
const { ids, scores } = index.search(query /* Float32Array */, 10, { ef: 100 }); // best first
const batch = await index.searchBatch(queries /* Dataset or Float32Array[] */, 10, { ef: 100 });
// batch.ids / batch.scores: row q at [q*k, (q+1)*k); batch.backend says what computed distances
console.log('dense:', ids.slice(0, 3).join(' '), 'nearest at', scores[0], '| batch', batch.count, 'x', batch.k, 'on', batch.backend);

// Sparse (CSR; ids sorted and unique per row), same index code.
const vocabSize = 100;
const rows = Array.from({ length: 200 }, (_, i) => ({
  indices: Uint32Array.of(i % 97, 97 + (i % 3)),
  values: Float32Array.of(1 + (i % 5), 0.5),
}));
const sparse = SparseDataset.fromRows([{ indices: Uint32Array.of(3, 17), values: Float32Array.of(0.5, 1.2) }, ...rows], vocabSize);
const sparseIndex = HnswIndex.build(sparse, { metric: 'ip' });
const sparseHits = sparseIndex.search({ indices: Uint32Array.of(17), values: Float32Array.of(1) }, 10, { ef: 100 });
console.log('sparse:', sparseHits.ids[0], 'first of', sparseIndex.size);

// Exact search (also computes ground truth).
const exact = await FlatIndex.build(data, { metric: 'l2' }).searchBatch(queries, 100);

// f16 (2 bytes per component, recall as f32) or SQ8 (1 byte, per-dimension min/max; pair it
// with re-ranking): same graph, codes decoded inside the WebAssembly SIMD kernels and on the GPU.
const half = index.quantize(new ScalarQuantizer('f16'), { keepPlain: false });
const bytes8 = index.quantize(new ScalarQuantizer('sq8')); // keeps f32 for rerank
bytes8.search(query, 10, { ef: 100, rerank: 100 });
// Too many vectors for f32 in one 4 GiB WebAssembly memory: build on the codes directly.
const big = await HnswIndex.buildOnStoreAsync(new ScalarQuantizer('f16').encode(data, 'ip'), { m: 16 });

// Distance-adaptive early termination: stop once the best unexpanded candidate is worse than
// the k-th result by lambda x its distance; ef stays the cap (docs/early-termination.md).
index.search(query, 10, { ef: 200, lambda: 0.2 });

// Product quantization: same graph (built on plain vectors), search over m-byte codes,
// optionally re-ranking the best candidates by the plain vectors kept in memory.
const pqIndex = index.quantize(new ProductQuantizer({ m: 98, trainSample: 1000, maxIterations: 4, seed: 1 }));
pqIndex.search(query, 10, { ef: 100, rerank: 100 });
console.log(
  'exact:',
  exact.ids[0],
  '| f16:',
  half.search(query, 1).ids[0],
  '| pq:',
  pqIndex.search(query, 1, { ef: 100, rerank: 100 }).ids[0],
  '| codes:',
  big.size,
);

// Every core: build and batched search on worker threads (Node worker_threads, browser Web
// Workers), sharing one copy of the index through SharedArrayBuffer. Default: all cores.
const abortController = new AbortController();
const fast = await HnswIndex.buildAsync(data, { metric: 'l2', threads: 2, signal: abortController.signal });
const many = await fast.searchBatch(queries, 10, { ef: 100, threads: 2 }); // many.threads === 2
console.log('threads:', many.threads);
await fast.close(); // optional: idle workers never keep Node alive; this ends them now

// Save and load: bytes in browsers, files in Node (written atomically).
const bytes = serializeIndex(index); // Uint8Array
const again = deserializeIndex(bytes); // HnswIndex | FlatIndex
const dir = mkdtempSync(join(tmpdir(), 'webannolo-api-'));
await saveIndexFile(index, join(dir, 'mnist.wann'));
const loaded = await loadIndexFile(join(dir, 'mnist.wann'));
console.log(
  'saved:',
  bytes.length,
  'bytes; same answer:',
  again.search(query, 1).ids[0] === ids[0] && loaded.search(query, 1).ids[0] === ids[0],
);
rmSync(dir, { recursive: true, force: true });
await Promise.all([index.close(), big.close()]);
