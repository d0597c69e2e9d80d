import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { saveIndexFile } from '../src/node/index-files.js';
import { loadMnist } from '../src/node/mnist.js';
import type { ServeBackend } from '../src/serve/backend.js';
import {
  type HttpServer,
  type HttpServerOptions,
  LocalBackend,
  type LocalBackendOptions,
  ServeMetrics,
  startHttpServer,
} from '../src/serve/index.js';

// The HTTP front over a real LocalBackend (a keyed, labelled HNSW index over MNIST rows, with its
// write-ahead log), on real sockets bound to 127.0.0.1 with port 0.

const N = 2000;
const DIM = 784;
const TOKEN = 'test-token-0123456789';

/** A JSON answer: a result, an acknowledgement or an error. */
interface Answer {
  [field: string]: unknown;
  error?: string;
  field?: string;
  code?: string;
  keys?: unknown[];
  scores?: number[];
  seq?: number;
}

interface Served {
  server: HttpServer;
  backend: LocalBackend;
  url: string;
}

describe('serve: the HTTP front', () => {
  let dir: string;
  let indexFile: string;
  let train: Float32Array;
  let test: Float32Array;
  let digits: Uint8Array;
  let reference: HnswIndex;
  const running: Served[] = [];
  let copies = 0;

  const row = (data: Float32Array, i: number) => Array.from(data.subarray(i * DIM, (i + 1) * DIM));

  /** A server over a fresh copy of the index file (each backend holds its file's lock). */
  async function serve(http: HttpServerOptions = {}, backendOptions: LocalBackendOptions = {}): Promise<Served> {
    const file = join(dir, `copy-${copies++}.wann`);
    await copyFile(indexFile, file);
    const metrics = http.metrics ?? new ServeMetrics({ defaultMetrics: false });
    const backend = await LocalBackend.open(file, {
      ...backendOptions,
      batcher: { ...backendOptions.batcher, onBatch: metrics.onBatch },
      log: backendOptions.log ?? { fsync: false },
    });
    const server = await startHttpServer(backend, { auth: { token: TOKEN }, ...http, metrics });
    const served = { server, backend, url: server.url };
    running.push(served);
    return served;
  }

  async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, json: (await res.json()) as Answer };
  }

  const auth = { authorization: `Bearer ${TOKEN}` };

  async function send(url: string, method: string, body: unknown, headers: Record<string, string> = auth) {
    const res = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, headers: res.headers, json: (await res.json()) as Answer };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'webannolo-serve-http-'));
    const m = loadMnist(N, 20);
    train = m.train.data;
    test = m.test.data;
    digits = m.trainLabels;
    reference = HnswIndex.build(m.train, {
      metric: 'l2',
      m: 12,
      efConstruction: 64,
      keys: Array.from({ length: N }, (_, i) => i),
      labels: Array.from(digits, (d) => d),
    });
    indexFile = join(dir, 'mnist.wann');
    await saveIndexFile(reference, indexFile);
  });

  afterEach(async () => {
    for (const s of running.splice(0)) {
      await s.server.close();
      await s.backend.close();
    }
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers one query, several, and binary rows with the index’s own results', async () => {
    const { url } = await serve();
    const expected = (q: number, k: number, ef: number) => {
      const r = reference.search(new Float32Array(row(test, q)), k, { ef });
      return { keys: Array.from(r.keys!), scores: Array.from(r.scores) };
    };
    const one = await post(`${url}/search`, { vector: row(test, 0), k: 5, ef: 40 });
    expect(one.status).toBe(200);
    expect(one.json.keys).toEqual(expected(0, 5, 40).keys);
    expect(one.json.scores).toHaveLength(5);
    expect(one.json.scores?.[0]).toBeCloseTo(expected(0, 5, 40).scores[0]!, 3);

    const many = await post(`${url}/search`, { vectors: [row(test, 1), row(test, 2), row(test, 3)], k: 4, ef: 50 });
    expect(many.status).toBe(200);
    expect(many.json.keys).toEqual([1, 2, 3].map((q) => expected(q, 4, 50).keys));
    expect(many.json.scores).toHaveLength(3);

    const rows = new Float32Array(test.subarray(DIM, 3 * DIM)); // queries 1 and 2
    const binary = await fetch(`${url}/search?k=4&ef=50`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(rows.buffer),
    });
    expect(binary.status).toBe(200);
    expect(((await binary.json()) as { keys: unknown }).keys).toEqual([expected(1, 4, 50).keys, expected(2, 4, 50).keys]);

    const single = await fetch(`${url}/search?k=3&ef=50`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(new Float32Array(row(test, 4)).buffer),
    });
    expect(((await single.json()) as { keys: unknown }).keys).toEqual(expected(4, 3, 50).keys);

    // Defaults: k 10 when left out.
    const plain = await post(`${url}/search`, { vector: row(test, 5) });
    expect(plain.json.keys).toHaveLength(10);
  });

  it('filters by label, in JSON and in the binary query string', async () => {
    const { url } = await serve();
    const json = await post(`${url}/search`, { vector: row(test, 0), k: 10, filter: { label: 3 } });
    expect(json.status).toBe(200);
    expect(json.json.keys).toHaveLength(10);
    for (const key of json.json.keys as number[]) expect(digits[key]).toBe(3);

    const several = await post(`${url}/search`, { vector: row(test, 0), k: 10, filter: { labels: [1, 7] } });
    for (const key of several.json.keys as number[]) expect([1, 7]).toContain(digits[key]);

    const res = await fetch(`${url}/search?k=5&label=8`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(new Float32Array(row(test, 1)).buffer),
    });
    const body = (await res.json()) as { keys: number[] };
    expect(res.status).toBe(200);
    for (const key of body.keys) expect(digits[key]).toBe(8);
  });

  it('answers bad searches with a 400 naming the field, 413 over the body limit, 415 for other media', async () => {
    const { url } = await serve({ bodyLimit: 64 * 1024 });
    const q = row(test, 0);
    const cases: [unknown, string][] = [
      [{ vector: q.slice(0, 100) }, 'vector'],
      [{ vector: [...q.slice(0, 2), 'x', ...q.slice(3)] }, 'vector[2]'],
      [{ vector: [1e39, ...q.slice(1)] }, 'vector[0]'],
      [{ vector: q, k: 0 }, 'k'],
      [{ vector: q, k: '10' }, 'k'],
      [{ vector: q, k: 5000 }, 'k'],
      [{ vector: q, ef: 2.5 }, 'ef'],
      [{ vector: q, filer: { label: 1 } }, 'filer'],
      [{ vector: q, filter: { label: -1 } }, 'filter.label'],
      [{ vector: q, filter: { label: 1, labels: [2] } }, 'filter'],
      [{ vector: q, vectors: [q] }, 'vectors'],
      [{ k: 3 }, 'vector'],
      [{ vectors: [q, q.slice(1)] }, 'vectors[1]'],
    ];
    for (const [body, field] of cases) {
      const res = await post(`${url}/search`, body);
      expect(res.status, JSON.stringify(res.json)).toBe(400);
      expect(res.json.field, JSON.stringify(res.json)).toBe(field);
      expect(typeof res.json.error).toBe('string');
      expect(res.json.error).not.toContain('\n');
    }
    const badJson = await post(`${url}/search`, '{"vector": [1, 2');
    expect(badJson.status).toBe(400);
    expect(badJson.json.error).toBeTypeOf('string');

    const bin = (bytes: number, query = '') =>
      fetch(`${url}/search${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.alloc(bytes),
      });
    const ragged = await bin(4 * DIM + 4);
    expect(ragged.status).toBe(400);
    expect(((await ragged.json()) as { field: string }).field).toBe('body');
    const badK = await bin(4 * DIM, '?k=abc');
    expect(badK.status).toBe(400);
    expect(((await badK.json()) as { field: string }).field).toBe('k');

    const big = await post(`${url}/search`, { vectors: Array.from({ length: 40 }, () => q) });
    expect(big.status).toBe(413);
    const text = await fetch(`${url}/search`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
    const missing = await fetch(`${url}/nowhere`);
    expect(missing.status).toBe(404);
  });

  it('writes need the token, are durable when answered, and bad writes change nothing', async () => {
    const { url, backend } = await serve();
    const probe = row(test, 7);
    const before = await post(`${url}/search`, { vector: probe, k: 10 });
    const vector = row(train, 11).map((v, i) => (i === 300 ? v + 1 : v));

    expect((await send(`${url}/items`, 'POST', { keys: [9001], vectors: [vector] }, {})).status).toBe(401);
    const wrong = await send(`${url}/items`, 'POST', { keys: [9001], vectors: [vector] }, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('Bearer');

    const bad: [unknown, string][] = [
      [{ keys: [5], vectors: [vector] }, 'keys'], // already in the index, no upsert
      [{ keys: [9001, 9002], vectors: [vector] }, 'vectors'],
      [{ keys: [9001], vectors: [vector.slice(1)] }, 'vectors[0]'],
      [{ keys: [9001], vectors: [[1e39, ...vector.slice(1)]] }, 'vectors[0][0]'],
      [{ keys: [9001, 'x'], vectors: [vector, vector] }, 'keys'],
      [{ keys: [9001, 9001], vectors: [vector, vector] }, 'keys'],
      [{ keys: ['text-key'], vectors: [vector] }, 'keys'], // the index's keys are numbers
      [{ keys: [9001], vectors: [vector], labels: [1, 2] }, 'labels'],
      [{ keys: [-1], vectors: [vector] }, 'keys[0]'],
      [{ keys: [9001], vectors: [vector], upsert: 'yes' }, 'upsert'],
      [{ keys: [9001] }, 'vectors'],
    ];
    for (const [body, field] of bad) {
      const res = await send(`${url}/items`, 'POST', body);
      expect(res.status, JSON.stringify(res.json)).toBe(400);
      expect(res.json.field, JSON.stringify(res.json)).toBe(field);
    }
    for (const [body, field] of [
      [{ keys: [123456] }, 'keys'],
      [{ keys: [3, 3] }, 'keys'],
      [{ keys: [] }, 'keys'],
    ] as const) {
      const res = await send(`${url}/items`, 'DELETE', body);
      expect(res.status, JSON.stringify(res.json)).toBe(400);
      expect(res.json.field).toBe(field);
    }
    expect(backend.describe().items).toBe(N);
    expect(backend.stats().log!.seq).toBe(0);
    expect((await post(`${url}/search`, { vector: probe, k: 10 })).json).toEqual(before.json);

    const added = await send(`${url}/items`, 'POST', { keys: [9001], vectors: [vector], labels: [[4, 99]] });
    expect(added.status).toBe(200);
    expect(added.json).toMatchObject({ seq: 1, items: 1 });
    expect(backend.describe().items).toBe(N + 1);
    const found = await post(`${url}/search`, { vector, k: 1, filter: { label: 99 } });
    expect(found.json.keys).toEqual([9001]);

    const removed = await send(`${url}/items`, 'DELETE', { keys: [9001, 11] });
    expect(removed.status).toBe(200);
    expect(removed.json).toMatchObject({ seq: 2, items: 2 });
    const gone = await post(`${url}/search`, { vector, k: 5 });
    expect(gone.json.keys).not.toContain(9001);
    expect(gone.json.keys).not.toContain(11);

    const snap = await send(`${url}/admin/snapshot`, 'POST', {});
    expect(snap.status).toBe(200);
    expect(snap.json.seq).toBe(2);
    expect((await send(`${url}/admin/snapshot`, 'POST', {}, {})).status).toBe(401);
  });

  it('refuses writes with a 403 saying how to enable them when no token was given; anonymous writes when allowed', async () => {
    const closed = await serve({ auth: {} });
    const res = await send(`${closed.url}/items`, 'DELETE', { keys: [1] }, {});
    expect(res.status).toBe(403);
    expect(res.json.error).toContain('--auth-token-file');
    expect(res.json.error).toContain('--allow-anonymous-writes');
    expect(closed.backend.describe().items).toBe(N);

    const open = await serve({ auth: { allowAnonymousWrites: true } });
    expect((await send(`${open.url}/items`, 'DELETE', { keys: [1] }, {})).status).toBe(200);
    expect(open.backend.describe().items).toBe(N - 1);
  });

  it('guards reads with --auth-reads, never /health', async () => {
    const { url } = await serve({ auth: { token: TOKEN, reads: true } });
    expect((await post(`${url}/search`, { vector: row(test, 0) })).status).toBe(401);
    expect((await post(`${url}/search`, { vector: row(test, 0) }, auth)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('answers overload with 503 and Retry-After, and a passed deadline with 504', async () => {
    // One search may wait (maxQueue 1) and a batch waits 400 ms for company: the rest overflow.
    const full = await serve({}, { batcher: { maxQueue: 1, maxWaitMs: 400, maxBatch: 64 } });
    const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => post(`${full.url}/search`, { vector: row(test, i), k: 3 })));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 503, 503, 503]);
    const refused = answers.find((a) => a.status === 503)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json.code).toBe('OVERLOADED');

    // A batch waits 2 s for company, the deadline is 100 ms: the search is dropped from the queue.
    const slow = await serve({ deadlineMs: 100 }, { batcher: { maxWaitMs: 2000 } });
    const late = await post(`${slow.url}/search`, { vector: row(test, 0), k: 3 });
    expect(late.status).toBe(504);
    expect(late.json.code).toBe('DEADLINE_EXCEEDED');
    expect(slow.backend.stats().batcher.aborted).toBe(1);
  });

  it('reports health, and metrics in Prometheus text', async () => {
    const { url } = await serve();
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      items: N,
      dim: DIM,
      metric: 'l2',
      kind: 'local',
      writable: true,
      writes: 'token',
    });
    await post(`${url}/search`, { vectors: [row(test, 0), row(test, 1)], k: 3 });
    await post(`${url}/search`, { vector: [1] });
    await send(`${url}/items`, 'DELETE', { keys: [4] });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/webannolo_http_requests_total\{method="POST",route="\/search",status="200"\} 1/);
    expect(text).toMatch(/webannolo_http_requests_total\{method="POST",route="\/search",status="400"\} 1/);
    expect(text).toMatch(/webannolo_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/search"\} 2/);
    expect(text).toMatch(/webannolo_search_batch_size_count [1-9]/);
    expect(text).toMatch(/webannolo_search_queue_depth 0/);
    expect(text).toMatch(new RegExp(`webannolo_items ${N - 1}`));
    expect(text).toMatch(/webannolo_backend_info\{kind="local",backend="cpu",gpu_mode="[a-z]+",metric="l2"\} 1/);
    expect(text).toMatch(/webannolo_gpu_round_trips_total 0/);
    expect(text).toMatch(/webannolo_log_seq 1/);
    expect(text).toMatch(/webannolo_log_fsyncs_total \d+/);
  });

  it('reports a failing backend as 503 on /health', async () => {
    const { backend } = await serve();
    const failing: ServeBackend = Object.assign(Object.create(backend) as LocalBackend, {
      describe: () => ({ ...backend.describe(), failure: 'the log could not be written: disk full' }),
    });
    const server = await startHttpServer(failing, {});
    try {
      const res = await fetch(`${server.url}/health`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'failing', failure: 'the log could not be written: disk full' });
    } finally {
      await server.close();
    }
  });

  it('close() finishes the requests in flight and takes no new ones', async () => {
    const { server, url, backend } = await serve({}, { batcher: { maxWaitMs: 300 } });
    const inFlight = post(`${url}/search`, { vector: row(test, 0), k: 3 });
    for (let i = 0; i < 200 && backend.stats().batcher.queued === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(backend.stats().batcher.queued).toBe(1);
    const closing = server.close();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.json.keys).toHaveLength(3);
    await closing;
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
