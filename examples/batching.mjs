// QueryBatcher: many concurrent single-query calls, run as searchBatch batches.
import { HnswIndex, QueryBatcher } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train, test } = loadMnist(4000, 1000);
const index = HnswIndex.build(train, { metric: 'l2', m: 16, efConstruction: 100 });

const sizes = [];
const batcher = new QueryBatcher(index, {
  maxBatch: 64, // a batch closes at 64 queries...
  maxWaitMs: 1, // ...or 1 ms after its first query
  batchParams: { backend: 'cpu' }, // how every batch runs: 'cpu' (worker threads), 'gpu', 'auto'
  onBatch: (info) => sizes.push(info.size),
});

// 1,000 clients, one query each, all at once.
const results = await Promise.all(Array.from({ length: test.size }, (_, i) => batcher.search(test.get(i), 10, { ef: 64 })));
const alone = index.search(test.get(0), 10, { ef: 64 });
console.log('first caller:', results[0].ids.join(' '), '| same as index.search:', results[0].ids.join() === alone.ids.join());
console.log(`${sizes.length} batches, sizes ${sizes.slice(0, 4).join(', ')}, ...`);
console.log(JSON.stringify(batcher.stats)); // {"queued":0,"running":0,...,"searched":1000,...}

await batcher.close(); // refuse new calls, finish the queued ones
await index.close(); // let the worker threads go
