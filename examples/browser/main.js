// 2,000 random 32-d vectors, an HNSW index, and 50 searches on WebGPU when the browser has it.
import { DenseDataset, FlatIndex, HnswIndex, recallAtK, requestGpu } from 'webannolo';

let seed = 7;
const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32; // a seeded LCG
const data = new DenseDataset(Float32Array.from({ length: 2000 * 32 }, random), 32);
const queries = new DenseDataset(Float32Array.from({ length: 50 * 32 }, random), 32);

const index = await HnswIndex.buildAsync(data, { metric: 'l2' }); // Web Workers on an isolated page
const gpu = await requestGpu(); // null without WebGPU
const found = await index.searchBatch(queries, 10, { ef: 64, backend: gpu ? 'gpu' : 'cpu', gpu });
const exact = await FlatIndex.build(data, { metric: 'l2' }).searchBatch(queries, 10);
const recall = recallAtK(found.ids, 10, { rows: queries.size, dim: 10, data: exact.ids });
document.getElementById('out').textContent =
  `backend ${found.backend} (${gpu ? gpu.description : 'no WebGPU adapter'}), ` +
  `${found.threads} thread(s), recall@10 ${recall.toFixed(3)}`;
