// RaBitQ: one bit per rotated component and five floats per vector, about 20x smaller than
// f32 at 784-d. Its distances are estimates with a confidence bound, so re-ranking computes an
// exact distance only for the candidates whose lower bound can still enter the top k.
import { FlatIndex, HnswIndex, RabitqQuantizer, recallAtK } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train, test } = loadMnist(4000, 100);
const index = HnswIndex.build(train, { metric: 'l2' }); // the graph is built on the f32 vectors
const exact = await FlatIndex.build(train, { metric: 'l2' }).searchBatch(test, 10);
const truth = { rows: test.size, dim: 10, data: exact.ids };

for (const bits of [1, 4]) {
  const codes = index.quantize(new RabitqQuantizer({ bits })); // keeps the f32 vectors to re-rank
  const bytes = codes.memory.storeBytes / codes.size;
  const alone = await codes.searchBatch(test, 10, { ef: 64 });
  const reranked = await codes.searchBatch(test, 10, { ef: 64, rerank: 64 });
  const exactPerQuery = reranked.reranked.reduce((a, b) => a + b, 0) / test.size;
  console.log(
    `rabitq ${bits} bit(s): ${bytes.toFixed(0)} B/vector (f32: ${train.dim * 4}), recall@10 ${recallAtK(alone.ids, 10, truth).toFixed(3)} on codes, ` +
      `${recallAtK(reranked.ids, 10, truth).toFixed(3)} re-ranked with ${exactPerQuery.toFixed(1)} exact distances per query of 64`,
  );
}
await index.close();
