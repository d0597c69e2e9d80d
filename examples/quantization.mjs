// Smaller vectors, same graph: f16 halves, SQ8 bytes and product-quantization codes, the last
// two re-ranking their best candidates by the f32 vectors they keep.
import { FlatIndex, HnswIndex, ProductQuantizer, recallAtK, ScalarQuantizer } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train, test } = loadMnist(4000, 200);
const index = HnswIndex.build(train, { metric: 'l2' }); // f32 vectors
const exact = await FlatIndex.build(train, { metric: 'l2' }).searchBatch(test, 10);
const recall = async (ix, params) =>
  recallAtK((await ix.searchBatch(test, 10, params)).ids, 10, { rows: test.size, dim: 10, data: exact.ids }).toFixed(3);
const kib = (ix) => `${Math.round(ix.memory.storeBytes / 1024)} KiB`;

const half = index.quantize(new ScalarQuantizer('f16'), { keepPlain: false }); // 2 bytes a component
const bytes = index.quantize(new ScalarQuantizer('sq8')); // 1 byte a component; keeps f32 to re-rank
const pq = index.quantize(new ProductQuantizer({ m: 49, trainSample: 1000, maxIterations: 8, seed: 1 })); // 49 bytes a vector
console.log(`f32  store ${kib(index)}, recall@10 ${await recall(index, { ef: 64 })}`);
console.log(`f16  store ${kib(half)}, recall@10 ${await recall(half, { ef: 64 })}`);
console.log(`sq8  store ${kib(bytes)}, recall@10 ${await recall(bytes, { ef: 64, rerank: 64 })} (re-ranked)`);
console.log(`pq   store ${kib(pq)}, recall@10 ${await recall(pq, { ef: 64 })}, re-ranked ${await recall(pq, { ef: 64, rerank: 64 })}`);
await index.close();
