import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { saveIndexFile } from '../src/node/index-files.js';
import { loadMnist } from '../src/node/mnist.js';
import { BIN, ensureBuilt } from './helpers/cli-process.js';

// `webannolo serve` as users run it: bin/webannolo.js over dist/, a real process on port 0.

const N = 2000;
const DIM = 784;
const TOKEN = 'process-test-token-0123456789abcdef';
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
/** Dawn's and the Vulkan drivers' native stderr lines that serve must keep away from users. */
const DAWN_NOISE = /XDG_RUNTIME_DIR|Vulkan|BackendType|InitializeImpl/;

interface Serving {
  readonly child: ChildProcess;
  readonly ready: Record<string, unknown>;
  readonly url: string;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

describe('webannolo serve (a real process)', () => {
  let dir: string;
  let indexFile: string;
  let tokenFile: string;
  let query: number[];
  const children: ChildProcess[] = [];

  /** Starts `webannolo serve ...args` and waits (at most 60 s) for its ready line. */
  function startServe(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Serving> {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line within 60 s; stderr: ${stderr}`)), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        const first = stdout.split('\n');
        if (first.length < 2) return;
        clearTimeout(timer);
        const ready = JSON.parse(first[0]!) as Record<string, unknown>;
        resolve({ child, ready, url: String(ready['listening']), stdout: () => stdout, stderr: () => stderr, exited });
      });
      void exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`serve exited (${code}) before it was ready; stderr: ${stderr}`));
      });
    });
  }

  const search = (url: string, vector: number[], k = 5) =>
    fetch(`${url}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vector, k }) });

  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(join(tmpdir(), 'webannolo-serve-process-'));
    const m = loadMnist(N, 1);
    query = Array.from(m.test.data.subarray(0, DIM));
    const index = HnswIndex.build(m.train, { metric: 'l2', m: 12, efConstruction: 64, keys: Array.from({ length: N }, (_, i) => i) });
    indexFile = join(dir, 'mnist.wann');
    await saveIndexFile(index, indexFile);
    tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    await chmod(tokenFile, 0o600);
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('close', resolve));
        child.kill('SIGKILL');
        await gone;
      }
    }
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints one ready line, serves searches and token-guarded writes, and keeps them across a restart', async () => {
    const first = await startServe(['--index', indexFile, '--port', '0', '--auth-token-file', tokenFile, '--fsync', 'false']);
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.ready).toMatchObject({
      items: N,
      dim: DIM,
      metric: 'l2',
      kind: 'local',
      backend: 'cpu',
      writable: true,
      writes: 'token',
      seq: 0,
    });
    const found = await search(first.url, query);
    expect(found.status).toBe(200);
    expect(((await found.json()) as { keys: number[] }).keys).toHaveLength(5);

    const add = (headers: Record<string, string>) =>
      fetch(`${first.url}/items`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ keys: [77777], vectors: [query] }),
      });
    expect((await add({})).status).toBe(401);
    expect((await add({ authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    const added = await add({ authorization: `Bearer ${TOKEN}` });
    expect(added.status).toBe(200);
    expect(await added.json()).toEqual({ seq: 1, items: 1 });

    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.stdout().trim().split('\n').pop()).toContain('"stopped":"SIGTERM"');

    const second = await startServe(['--index', indexFile, '--port', '0', '--allow-anonymous-writes']);
    expect(second.ready).toMatchObject({ items: N + 1, seq: 1, writes: 'anonymous' });
    const again = await search(second.url, query, 1);
    expect(((await again.json()) as { keys: number[] }).keys).toEqual([77777]);
    second.child.kill('SIGINT');
    expect((await second.exited).code).toBe(0);
  });

  it('on SIGTERM finishes the search in flight, then exits 0', async () => {
    // Each batch waits 1.5 s for company, so the search is surely in flight when the signal comes.
    const s = await startServe(['--index', indexFile, '--port', '0', '--log', 'false', '--max-wait-ms', '1500']);
    expect(s.ready).toMatchObject({ writable: false, writes: 'disabled', log: null });
    const inFlight = search(s.url, query, 3);
    let queued = false;
    for (let i = 0; i < 100 && !queued; i++) {
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      queued = /^webannolo_search_queue_depth 1$/m.test(metrics);
      if (!queued) await new Promise((r) => setTimeout(r, 10));
    }
    expect(queued).toBe(true);
    s.child.kill('SIGTERM');
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { keys: number[] }).keys).toHaveLength(3);
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(s.stderr()).toContain('SIGTERM');
  });

  it('without a GPU adapter says so in one line and prints none of Dawn’s noise', async () => {
    // No Vulkan driver but lavapipe/none, and XDG_RUNTIME_DIR unset: what a headless server has.
    const env = { ...process.env };
    delete env['VK_ICD_FILENAMES'];
    delete env['XDG_RUNTIME_DIR'];
    const s = await startServe(['--index', indexFile, '--port', '0', '--log', 'false', '--backend', 'auto'], env);
    expect((await search(s.url, query)).status).toBe(200);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    if (s.ready['device'] === null) {
      expect(s.stderr()).toMatch(/^webannolo serve: no WebGPU adapter found: batches run on the CPU$/m);
    } else {
      expect(s.ready['device']).toBeTypeOf('string'); // a machine with a GPU: it is used
    }
    expect(s.stderr()).not.toMatch(DAWN_NOISE);
  });

  it.skipIf(!existsSync(SWIFTSHADER))('with an adapter (SwiftShader) uses it, without XDG_RUNTIME_DIR noise', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER };
    delete env['XDG_RUNTIME_DIR'];
    const s = await startServe(['--index', indexFile, '--port', '0', '--log', 'false', '--backend', 'gpu'], env);
    expect(String(s.ready['device'])).toMatch(/SwiftShader/i);
    const found = await search(s.url, query);
    expect(found.status).toBe(200);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    expect(s.stderr()).not.toMatch(DAWN_NOISE);
  });

  it('refuses bad setups with one line: reads guarded without a token, a port in use', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stderr }));
      });
    const noToken = await run(['--index', indexFile, '--auth-reads']);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr.trim().split('\n')).toHaveLength(1);
    expect(noToken.stderr).toContain('--auth-token-file');

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = String((taken.address() as { port: number }).port);
      const busy = await run(['--index', indexFile, '--port', port, '--log', 'false']);
      expect(busy.code).toBe(1);
      expect(busy.stderr.trim().split('\n')).toHaveLength(1);
      expect(busy.stderr).toMatch(/port \d+ on 127\.0\.0\.1 is in use/);
    } finally {
      taken.close();
    }
  });
});
