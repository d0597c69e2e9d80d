// Every filter and every change, once each (1,000 MNIST images keyed doc-0, doc-1, ...,
// labelled by their digit).
import { HnswIndex } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train: data, trainLabels, test } = loadMnist(1000, 13);
const docIds = Array.from({ length: data.size }, (_, i) => `doc-${i}`);
const categoryOfEachDoc = Array.from(trainLabels);
const rows = (from, to) => Array.from({ length: to - from }, (_, i) => test.get(from + i)); // test images as vectors
const [query, queries] = [test.get(0), rows(0, 3)];

// Keys (integers below 2^53, or strings) and labels (a label or a list per item; a label is
// an integer in [0, 2^32 - 1]).
const index = HnswIndex.build(data, { metric: 'l2', keys: docIds, labels: categoryOfEachDoc });
index.search(query, 10, { filter: { label: 7 } }); // .keys: the keys of the results
index.search(query, 10, { filter: { labels: [3, 7] } }); // any of them
const allowedDocs = new Set(docIds.slice(0, 500));
index.search(query, 10, { filter: { where: (key) => allowedDocs.has(key) } });
const bitset = new Uint32Array(Math.ceil(index.size / 32));
for (const key of ['doc-1', 'doc-2', 'doc-3']) bitset[index.idOf(key) >> 5] |= 1 << (index.idOf(key) & 31);
index.search(query, 10, { filter: { bitset } }); // bit i of word i >> 5: item id i (index.idOf(key))
await index.searchBatch(queries, 10, { filter: [{ label: 1 }, null, { label: 2 }] }); // one per query, or one for all
console.log('bitset:', index.search(query, 3, { filter: { bitset } }).keys.join(' '));

// Change it after the build: every call is all-or-nothing (a failure, a dying worker or an
// abort leaves the index as it was), is never refused because searches run, and never
// disturbs them: each search reads the state it started with. addAsync and compact run one
// at a time in call order (docs/design-notes.md, "Concurrency model").
const [newVectors, newKeys, newLabels] = [rows(3, 5), ['new-1', 'new-2'], [7, [3, 8]]];
const [manyVectors, manyKeys] = [rows(5, 13), Array.from({ length: 8 }, (_, i) => `many-${i}`)];
const [vectors, keys] = [rows(3, 4), ['new-1']];
index.add(newVectors, newKeys, { labels: newLabels }); // any store: plain, sparse, PQ (trained codebooks)
await index.addAsync(manyVectors, manyKeys, { threads: 2 }); // the same on worker threads, without blocking
index.add(vectors, keys, { upsert: true }); // replace keys already there
index.update(vectors, keys); // = remove + add under the same keys (labels kept)
index.remove(keys); // never returned again; graph repaired at once
await index.compact(); // rebuild over live items, free removed slots
console.log('size:', index.size, '| has new-1:', index.has('new-1'), '| has many-7:', index.has('many-7'));
await index.close();
