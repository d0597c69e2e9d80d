// The query service in a program: an index file served over HTTP, with batched searches and
// writes acknowledged once the write-ahead log holds them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HnswIndex } from 'webannolo';
import { loadMnist, saveIndexFile } from 'webannolo/node';
import { LocalBackend, startHttpServer } from 'webannolo/serve';

const dir = mkdtempSync(join(tmpdir(), 'webannolo-serve-'));
const { train, test } = loadMnist(2000, 2);
const keys = Array.from({ length: train.size }, (_, i) => `img-${i}`); // writes go by key
await saveIndexFile(HnswIndex.build(train, { metric: 'l2', keys }), join(dir, 'mnist.wann'));

const token = 'example-token-of-at-least-16-characters';
const backend = await LocalBackend.open(join(dir, 'mnist.wann'), { batcher: { maxBatch: 128 } });
const server = await startHttpServer(backend, { port: 0, auth: { token } }); // port 0: a free one
try {
  const post = async (path, body, headers = {}) => {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const query = Array.from(test.get(0));
  const found = await post('/search', { vector: query, k: 3, ef: 64 });
  console.log('search:', found.status, JSON.stringify(found.body.keys));

  const denied = await post('/items', { keys: ['new-1'], vectors: [query] });
  console.log('add without the token:', denied.status, denied.body.code);
  const added = await post('/items', { keys: ['new-1'], vectors: [query] }, { authorization: `Bearer ${token}` });
  console.log('add:', added.status, JSON.stringify(added.body)); // answered once durable
  const again = await post('/search', { vector: query, k: 3 });
  console.log('search again:', JSON.stringify(again.body.keys));
} finally {
  await server.close();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}
