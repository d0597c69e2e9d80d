// Distance-adaptive early termination: lambda stops easy queries early; ef stays the cap.
import { FlatIndex, HnswIndex, recallAtK } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train, test } = loadMnist(4000, 200);
const index = HnswIndex.build(train, { metric: 'l2', m: 16, efConstruction: 100 });
const query = test.get(0);
const exact = await FlatIndex.build(train, { metric: 'l2' }).searchBatch(test, 10);
const recall = (found) => recallAtK(found.ids, 10, { rows: test.size, dim: 10, data: exact.ids }).toFixed(3);

index.search(query, 10, { ef: 200, lambda: 0.2 });
await index.searchBatch(test, 10, { ef: 200, lambda: 0.2 }); // CPU and worker threads
console.log('ef 200:', recall(await index.searchBatch(test, 10, { ef: 200 })));
console.log('ef 200, lambda 0.2:', recall(await index.searchBatch(test, 10, { ef: 200, lambda: 0.2 })));
await index.close();
