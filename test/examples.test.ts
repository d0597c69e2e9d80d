import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Every example in examples/ runs as users run it: its own Node process (bash for the shell
 * ones), importing the package by name (`webannolo`, `webannolo/node`, `webannolo/serve` resolve
 * to the built dist/ through the package's self-reference), and prints what the guides say it
 * prints. An example without a check here fails the suite, so none goes unrun. Shell examples
 * find `webannolo` on the PATH, as in a project that installed it (node_modules/.bin).
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const RUN_LIMIT_MS = 180_000;

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ReturnType<typeof spawn>>();
/** A folder holding `webannolo`, the CLI of this checkout, as npm links it into node_modules/.bin. */
const BIN_DIR = mkdtempSync(join(tmpdir(), 'webannolo-bin-'));
writeFileSync(join(BIN_DIR, 'webannolo'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin', 'webannolo.js')}" "$@"\n`);
chmodSync(join(BIN_DIR, 'webannolo'), 0o755);
afterAll(() => {
  // Each example leads its own process group: this ends what it started too (servers, nats-server).
  for (const child of running) killGroup(child.pid!);
  rmSync(BIN_DIR, { recursive: true, force: true });
});

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function runExample(file: string): Promise<Finished> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_RUNTIME_DIR: process.env['XDG_RUNTIME_DIR'] ?? '/tmp',
    PATH: `${BIN_DIR}:${process.env['PATH']}`,
  };
  if (!env['VK_ICD_FILENAMES'] && existsSync(SWIFTSHADER)) env['VK_ICD_FILENAMES'] = SWIFTSHADER;
  const [cmd, args] = file.endsWith('.sh') ? ['bash', [join(EXAMPLES, file)]] : [process.execPath, [join(EXAMPLES, file)]];
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => killGroup(child.pid!), RUN_LIMIT_MS);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      killGroup(child.pid!); // nothing it started outlives it
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The number after `label` on its line of the output. */
function numberAfter(out: string, label: string): number {
  const line = out.split('\n').find((l) => l.includes(label));
  expect(line, `a line with "${label}" in:\n${out}`).toBeDefined();
  return Number(
    line!
      .slice(line!.indexOf(label) + label.length)
      .trim()
      .split(/[\s,]/)[0],
  );
}

/** What each example must print (its exit code must be 0). */
const CHECKS: Record<string, (out: string) => void> = {
  'quickstart.mjs': (out) => {
    expect(out).toMatch(/^nearest ids: (\d+ ){9}\d+ \| squared distances from \d+ to \d+$/m);
    expect(numberAfter(out, 'recall@10:')).toBeGreaterThanOrEqual(0.95);
  },
  'filters.mjs': (out) => {
    expect(out).toMatch(/^label 7: (img-\d+ ){4}img-\d+$/m);
    expect(out).toMatch(/^labels 3 or 8: (img-\d+ ){4}img-\d+$/m);
    const even = out.match(/^even rows: (.*)$/m)![1]!.split(' ');
    expect(even.every((key) => Number(key.slice(4)) % 2 === 0)).toBe(true);
    const [, removed, next] = out.match(/^removed (img-\d+); nearest now: (img-\d+)$/m)!;
    expect(next).not.toBe(removed);
    expect(out).toMatch(/^after adding the query itself: query-0 size 4000$/m);
    expect(out).toMatch(/^compacted: size 4000 has img-0: true$/m);
  },
  'threads.mjs': (out) => {
    expect(out).toMatch(/^built 5000 \/ 5000$/m);
    expect(out).toMatch(/^searched 500 queries on 2 threads \(backend cpu\)$/m);
    expect(out).toMatch(/^first query: (\d+ ){9}\d+$/m);
  },
  'gpu.mjs': (out) => {
    const adapter = out.match(/^adapter: (.*)$/m)![1]!;
    if (adapter.startsWith('none')) {
      expect(process.env['CI'], 'CI installs SwiftShader: the GPU example must find an adapter').not.toBe('true');
      expect(out).toMatch(/^backend cpu, gpuMode none, round trips 0$/m);
    } else {
      expect(out).toMatch(/^backend gpu, gpuMode resident, round trips 1$/m);
    }
    expect(numberAfter(out, 'recall@10:')).toBeGreaterThanOrEqual(0.95);
  },
  'quantization.mjs': (out) => {
    const recall = (kind: string) => Number(out.match(new RegExp(`^${kind} +store \\d+ KiB, recall@10 ([\\d.]+)`, 'm'))![1]);
    const store = (kind: string) => Number(out.match(new RegExp(`^${kind} +store (\\d+) KiB`, 'm'))![1]);
    for (const kind of ['f32', 'f16', 'sq8']) expect(recall(kind), kind).toBeGreaterThanOrEqual(0.95);
    expect(store('f16')).toBe(store('f32') / 2);
    expect(store('sq8')).toBeLessThan(store('f16') / 1.9);
    expect(store('pq')).toBeLessThan(store('sq8') / 2);
    expect(Number(out.match(/re-ranked ([\d.]+)$/m)![1])).toBeGreaterThanOrEqual(0.95);
  },
  'save-load.mjs': (out) => {
    expect(out).toMatch(/^serialized \d+ bytes; same answer: true$/m);
    expect(out).toMatch(/^loaded 1000 items of dimension 16, metric l2$/m);
    expect(out).toMatch(/^damaged file: CORRUPT_FILE: /m);
  },
  'batching.mjs': (out) => {
    expect(out).toMatch(/^first caller: (\d+ ){9}\d+ \| same as index\.search: true$/m);
    expect(out).toMatch(/^\d+ batches, sizes /m);
    expect(JSON.parse(out.match(/^\{"queued".*$/m)![0])).toMatchObject({ queued: 0, running: 0, searched: 1000, failed: 0 });
  },
  'serve.mjs': (out) => {
    expect(out).toMatch(/^search: 200 \["img-\d+","img-\d+","img-\d+"\]$/m);
    expect(out).toMatch(/^add without the token: 401 UNAUTHENTICATED$/m);
    expect(out).toMatch(/^add: 200 \{"seq":1,"items":1\}$/m);
    expect(out).toMatch(/^search again: \["new-1",/m);
  },
  'cli.sh': (out) => {
    expect(numberAfter(out, 'recall@10 over 100 queries:')).toBeGreaterThanOrEqual(0.95);
    expect(out).toMatch(/^check +ok/m);
    expect(out).toMatch(/^removed 2 items listed in /m);
  },
  'cli-commands.sh': (out) => {
    const json = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(json.find((j) => j.index === 'hnsw' && j.recall !== undefined && !j.filtered)).toMatchObject({
      queries: 50,
      recall: expect.any(Number),
    });
    expect(json.find((j) => j.filtered)).toMatchObject({ queries: 50, filtered: true });
    expect(json.find((j) => j.added !== undefined)).toMatchObject({ added: 2, items: 1002 });
    expect(json.find((j) => j.removed !== undefined)).toMatchObject({ removed: 2, items: 1000 });
    expect(numberAfter(out, 'recall@10 over 50 queries:')).toBeGreaterThanOrEqual(0.95);
    expect(out).toMatch(/^check +ok/m);
    expect(json.find((j) => j.dataset === 'mnist')).toMatchObject({ n: 1000, queries: 100 });
  },
  'cli-quantized.sh': (out) => {
    const json = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(json.filter((j) => j.quantizer).map((j) => j.quantizer)).toEqual(['f16', 'sq8', 'pq']);
    expect(json.filter((j) => j.rerank === 100).map((j) => j.rerankFrom)).toEqual(['memory', 'disk']);
  },
  'early-termination.mjs': (out) => {
    expect(numberAfter(out, 'ef 200:')).toBeGreaterThanOrEqual(0.95);
    expect(numberAfter(out, 'ef 200, lambda 0.2:')).toBeGreaterThanOrEqual(0.95);
  },
  'rabitq.mjs': (out) => {
    const lines = [1, 4].map((bits) => {
      const m = out.match(
        new RegExp(
          `^rabitq ${bits} bit\\(s\\): (\\d+) B/vector \\(f32: 3136\\), recall@10 ([\\d.]+) on codes, ([\\d.]+) re-ranked with ([\\d.]+) exact`,
          'm',
        ),
      )!;
      return { bytes: Number(m[1]), alone: Number(m[2]), reranked: Number(m[3]), exact: Number(m[4]) };
    });
    expect(lines[0]!.bytes).toBeLessThanOrEqual(3136 / 20);
    for (const l of lines) {
      expect(l.reranked).toBeGreaterThanOrEqual(0.97);
      expect(l.reranked).toBeGreaterThan(l.alone);
      // The bound rules most candidates out: fewer exact distances than candidates.
      expect(l.exact).toBeGreaterThanOrEqual(10);
      expect(l.exact).toBeLessThan(64);
    }
    expect(lines[1]!.alone).toBeGreaterThan(lines[0]!.alone); // more bits, closer estimates
  },
  'build-on-codes.mjs': (out) => {
    expect(out).toMatch(/^built on 1000 f16 codes: store 1568000 bytes, metric ip$/m);
    expect(out).toMatch(/^nearest: (\d+ ){4}\d+$/m);
  },
  'gpu-result.mjs': (out) => {
    const [, backend, device, mode] = out.match(/^backend (\S+), device (.+), gpuMode (\S+)$/m)!;
    if (device === 'none') {
      expect(process.env['CI'], 'CI installs SwiftShader: the GPU example must find an adapter').not.toBe('true');
      expect([backend, mode]).toEqual(['cpu', 'none']);
    } else expect([backend, mode]).toEqual(['gpu', 'resident']);
    expect(out).toMatch(/^round trips \d+, bytes up \d+, down \d+, host [\d.]+ ms$/m);
  },
  'batching-http.mjs': (out) => {
    expect(out).toMatch(/^search: 200 \["img-\d+","img-\d+","img-\d+"\]$/m);
    expect(out).toMatch(/^wrong dimension: 400 "query has dimension 3, the index has 784"$/m);
    expect(out).toMatch(/^k too large: 400 "k = 5000 is larger than the index \(2000 items\)"$/m);
  },
  'serve-quickstart.sh': (out) => {
    expect(out).toMatch(/^\{"listening":"http:\/\/127\.0\.0\.1:\d+","kind":"local","items":2000,/m);
    const searches = out.match(/^200 \{"keys":.*$/gm)!;
    expect(searches).toHaveLength(2);
    expect(searches[0]).toBe(searches[1]); // JSON and raw float32: the same answer
    expect(out).toMatch(/^200 \{"seq":1,"items":2\}$/m);
    expect(out).toMatch(/^200 \{"seq":2,"items":1\}$/m);
    expect(out).toMatch(/^server exited 0$/m);
  },
  'api.mjs': (out) => {
    expect(out).toMatch(/^built 1000$/m);
    expect(out).toMatch(/^dense: \d+ \d+ \d+ nearest at \d+ \| batch 20 x 10 on cpu$/m);
    expect(out).toMatch(/^sparse: \d+ first of 201$/m);
    const [, exact, half, pq] = out.match(/^exact: (\d+) \| f16: (\d+) \| pq: (\d+) \| codes: 1000$/m)!;
    expect([half, pq]).toEqual([exact, exact]);
    expect(out).toMatch(/^threads: 2$/m);
    expect(out).toMatch(/^saved: \d+ bytes; same answer: true$/m);
  },
  'filter-calls.mjs': (out) => {
    expect(
      out
        .match(/^bitset: (.*)$/m)![1]!
        .split(' ')
        .sort(),
    ).toEqual(['doc-1', 'doc-2', 'doc-3']);
    expect(out).toMatch(/^size: 1009 \| has new-1: false \| has many-7: true$/m);
  },
  'serve-shards.sh': (out) => {
    expect(out).toMatch(/"itemsPerShard":\[\d+,\d+\]/);
    expect(out).toMatch(/^gateway: \{"keys":\["img-\d+","img-\d+","img-\d+","img-\d+","img-\d+"\],"scores":/m);
    const gateway = JSON.parse(out.match(/^gateway: (.*)$/m)![1]!);
    const client = JSON.parse(out.match(/^client: (.*)$/m)![1]!);
    expect(client).toEqual({ ...gateway, partial: false }); // the gateway and ShardedClient merge alike
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toMatchObject({ queries: 20, k: 10, backend: 'nats', shards: 2, partialQueries: 0 });
  },
};

describe('examples/', () => {
  const files = readdirSync(EXAMPLES).filter((f) => /\.(mjs|sh)$/.test(f));

  it('has a check for every runnable example, and an example for every check', () => {
    expect(files.sort()).toEqual(Object.keys(CHECKS).sort());
  });

  for (const file of Object.keys(CHECKS)) {
    it(`${file} runs and prints what its guide says`, async () => {
      const run = await runExample(file);
      const out = run.stdout;
      expect(run.code, `${file} exited ${run.code}:\n${out}\n${run.stderr}`).toBe(0);
      CHECKS[file]!(out);
    });
  }
});

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json' };

/**
 * Serves examples/browser/ at / and this checkout as /node_modules/webannolo/ (where the page's
 * import map looks, as in a project that installed the package), cross-origin isolated so
 * that the page may use worker threads.
 */
function servePage(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = path.startsWith('/node_modules/webannolo/')
      ? join(ROOT, path.slice('/node_modules/webannolo/'.length))
      : join(EXAMPLES, 'browser', path === '/' ? 'index.html' : path);
    if (!existsSync(file) || !file.startsWith(ROOT)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Opens examples/browser/PAGE in headless Chromium and gives #out's text once it has `done`. */
async function pageText(page: string, done: string): Promise<string> {
  const server = await servePage();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/${page}`);
    await tab.waitForFunction((text) => document.getElementById('out')?.textContent?.includes(text), done, { timeout: 120_000 });
    const text = (await tab.textContent('#out')) ?? '';
    console.log(`examples/browser/${page || 'index.html'}: ${text}`);
    expect(errors).toEqual([]);
    return text;
  } finally {
    await browser.close();
    server.close();
  }
}

describe.skipIf(!existsSync(CHROMIUM) && process.env['CI'] !== 'true')('examples/browser/', () => {
  it('the page searches in headless Chromium (WebGPU where it has an adapter) and shows recall@10', async () => {
    const text = await pageText('', 'recall@10');
    expect(text).toMatch(/^backend (gpu|cpu) \(.*\), \d+ thread\(s\), recall@10 [\d.]+$/);
    expect(Number(text.match(/recall@10 ([\d.]+)/)![1])).toBeGreaterThanOrEqual(0.95);
  });

  it('the storage page saves an index, lists it, opens it again and deletes it', async () => {
    const text = await pageText('storage.html', 'left:');
    expect(text).toMatch(/^saved \d+ bytes \(opfs\); listed products; opened, same answer: true; deleted: true; left: 0$/);
  });
});
