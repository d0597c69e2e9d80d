// Keys, labels, filtered search, and changing an index after its build (MNIST: the label of
// an image is its digit).
import { HnswIndex } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train, trainLabels, test } = loadMnist(4000, 1);
const keys = Array.from({ length: train.size }, (_, i) => `img-${i}`); // strings or integers
const labels = Array.from(trainLabels); // one label (or a list of labels) per item
const index = HnswIndex.build(train, { metric: 'l2', keys, labels });
const query = test.get(0);

const sevens = index.search(query, 5, { filter: { label: 7 } }); // only items labelled 7
console.log('label 7:', sevens.keys.join(' '));
const either = index.search(query, 5, { filter: { labels: [3, 8] } }); // items labelled 3 or 8
console.log('labels 3 or 8:', either.keys.join(' '));
const even = index.search(query, 5, { filter: { where: (key) => Number(key.slice(4)) % 2 === 0 } });
console.log('even rows:', even.keys.join(' '));

// A living index: every change is all-or-nothing and never disturbs running searches.
const nearest = index.search(query, 1).keys[0];
index.remove([nearest]); // never returned again
console.log(`removed ${nearest}; nearest now:`, index.search(query, 1).keys[0]);
index.add([query], ['query-0'], { labels: [[7]] }); // new items, with their keys and labels
console.log('after adding the query itself:', index.search(query, 1).keys[0], 'size', index.size);
await index.compact(); // rebuild over the live items, free the removed slots
console.log('compacted: size', index.size, 'has img-0:', index.has('img-0'));
