// Build on f16 codes directly, never holding the f32 vectors in the index: for sets larger
// than one 4 GiB WebAssembly memory.
import { HnswIndex, ScalarQuantizer } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train: data, test } = loadMnist(1000, 1);

const store = new ScalarQuantizer('f16').encode(data, 'ip');
const big = await HnswIndex.buildOnStoreAsync(store, { m: 16 });

console.log(`built on ${big.size} f16 codes: store ${big.memory.storeBytes} bytes, metric ${big.metric}`);
console.log('nearest:', big.search(test.get(0), 5).ids.join(' '));
await big.close();
