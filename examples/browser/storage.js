// Keep an index in the browser: save it, list the saved ones, open it again (as a page after a
// reload would), delete it. 1,000 random 32-d vectors stand in for your data.
import { DenseDataset, deleteIndex, HnswIndex, listIndexes, openIndex, saveIndex } from 'webannolo';

let seed = 3;
const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32; // a seeded LCG
const data = new DenseDataset(Float32Array.from({ length: 1000 * 32 }, random), 32);

const index = await HnswIndex.buildAsync(data, { metric: 'l2', m: 16, efConstruction: 128 });
const info = await saveIndex(index, 'products'); // { name, bytes, savedAt, backend }

// ... later, in a new page:
const saved = await listIndexes(); // [{ name: 'products', bytes, savedAt: Date, backend: 'opfs' }]
const again = await openIndex('products'); // ready to search
const same = again.search(data.get(5), 1).ids[0] === 5;
const deleted = await deleteIndex('products'); // true (false when there was none)

document.getElementById('out').textContent =
  `saved ${info.bytes} bytes (${info.backend}); listed ${saved.map((s) => s.name).join(', ')}; ` +
  `opened, same answer: ${same}; deleted: ${deleted}; left: ${(await listIndexes()).length}`;
