// A request handler in front of a QueryBatcher: each call gets the request's deadline, and the
// error codes become HTTP statuses.
import { createServer } from 'node:http';
import { HnswIndex, QueryBatcher, WebannoloError } from 'webannolo';
import { loadMnist } from 'webannolo/node';

const { train, test } = loadMnist(2000, 1);
const keys = Array.from({ length: train.size }, (_, i) => `img-${i}`);
const batcher = new QueryBatcher(HnswIndex.build(train, { metric: 'l2', keys }), { maxBatch: 64 });

const STATUS = {
  INVALID_ARGUMENT: 400,
  DIMENSION_MISMATCH: 400,
  NON_FINITE: 400,
  BAD_SPARSE_ROW: 400,
  OVERLOADED: 503,
  CLOSED: 503,
  CANCELLED: 504,
};
const server = createServer(async (request, response) => {
  const reply = (status, body) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  try {
    const { vector, k = 10, ef } = JSON.parse(Buffer.concat(await request.toArray()).toString());
    const { keys, scores } = await batcher.search(Float32Array.from(vector), k, { ef }, { signal: AbortSignal.timeout(200) });
    reply(200, { keys, scores });
  } catch (error) {
    if (error instanceof SyntaxError) return reply(400, { error: 'the body is not JSON' });
    const status = error instanceof WebannoloError ? STATUS[error.code] : undefined;
    if (status === undefined) return reply(500, { error: 'internal error' }); // the backend failed (say GPU_FAILURE)
    reply(status, { error: error.message }); // 503 with Retry-After for OVERLOADED
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

const ask = async (body) => {
  const url = `http://127.0.0.1:${server.address().port}/search`;
  const response = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  const answer = await response.json();
  return `${response.status} ${JSON.stringify(answer.keys ?? answer.error)}`;
};
console.log('search:', await ask({ vector: Array.from(test.get(0)), k: 3, ef: 64 }));
console.log('wrong dimension:', await ask({ vector: [1, 2, 3], k: 3 }));
console.log('k too large:', await ask({ vector: Array.from(test.get(0)), k: 5000 }));
server.close();
await batcher.close();
