// Every core: a parallel build and batched search on worker threads sharing one copy of the index.
import { HnswIndex } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train, test } = loadMnist(5000, 500);
const controller = new AbortController(); // abort() would end the build with a CANCELLED error
let reported = 0;
const index = await HnswIndex.buildAsync(train, {
  metric: 'l2',
  threads: 2, // default: every core; 1 runs hnswlib's serial insertion
  signal: controller.signal,
  onProgress: (done, total) => {
    if (done === total || done - reported >= 2500) console.log(`built ${(reported = done)} / ${total}`);
  },
});
const batch = await index.searchBatch(test, 10, { ef: 64, threads: 2 });
console.log(`searched ${test.size} queries on ${batch.threads} threads (backend ${batch.backend})`);
console.log('first query:', Array.from(batch.ids.subarray(0, 10)).join(' ')); // row q: [q*k, (q+1)*k)
await index.close(); // optional: idle workers never keep Node alive; this ends them now
