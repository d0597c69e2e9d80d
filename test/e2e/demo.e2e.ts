/**
 * End-to-end test of the browser demo: headless Chromium (WebGPU on SwiftShader) against the
 * built demo (demo-dist/, from `vite build`) served by `vite preview` on 127.0.0.1.
 * Run: npm run test:e2e   (it builds first; see test/e2e/vitest.config.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type PreviewServer, preview } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = join(ROOT, 'test-results');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Quiet, offline Chromium. WebGPU needs only --enable-unsafe-webgpu on Linux (a secure context: 127.0.0.1). */
const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu'];

interface DemoState {
  datasetLoaded: boolean;
  dataset: { name: string; size: number; dim: number; queries: number } | null;
  groundTruth: { backend: string; ms: number } | null;
  gpu: { checked: boolean; available: boolean; adapter: string | null; software: boolean; message: string };
  building: boolean;
  buildProgress: number;
  built: boolean;
  buildCancelled: boolean;
  threads: number | null;
  lastSearch: {
    mode: string;
    backend: string;
    requested: string;
    recall: number;
    latencyMs: number;
    queries: number;
    k: number;
    filter?: number | null;
    ids?: number[];
    labels?: (number | null)[];
  } | null;
  removed: number;
  chartReady: boolean;
  sweep: { label: string; points: { ef: number; qps: number; recall: number }[] }[] | null;
  error: string | null;
  store: {
    choice: string | null;
    kind: string;
    bytesPerVector: number;
    storeBytes: number;
    f32Bytes: number;
    rerankBytes: number;
    rerank: boolean;
  } | null;
  storeBusy: boolean;
}

/** An .fvecs file of n random dim-dimensional points around 10 centres. */
function fvecs(n: number, dim: number): Buffer {
  const buf = Buffer.alloc(n * (4 + 4 * dim));
  let seed = 12345;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
  const centres = Array.from({ length: 10 }, () => Array.from({ length: dim }, () => 8 * rand()));
  for (let i = 0; i < n; i++) {
    const row = i * (4 + 4 * dim);
    buf.writeInt32LE(dim, row);
    for (let j = 0; j < dim; j++) buf.writeFloatLE(centres[i % 10]![j]! + rand(), row + 4 + 4 * j);
  }
  return buf;
}

let server: PreviewServer;
let baseUrl = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const demoState = (page: Page): Promise<DemoState> => page.evaluate(() => (window as unknown as { __webannolo: DemoState }).__webannolo);

/** Waits until `test(state)` holds; fails early when the page shows an error. */
async function until(page: Page, what: string, test: (s: DemoState) => boolean, timeoutMs = 120_000): Promise<DemoState> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await demoState(page);
    if (test(s)) return s;
    if (s.error) throw new Error(`page error while waiting for ${what}: ${s.error}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; state: ${JSON.stringify(s)}`);
    await page.waitForTimeout(100);
  }
}

async function openDemo(browser: Browser, query = ''): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${baseUrl}/${query}`);
  return { page, pageErrors };
}

async function searchAll(page: Page, backend: 'gpu' | 'cpu'): Promise<NonNullable<DemoState['lastSearch']>> {
  await page.check(`#backend-${backend}`);
  await page.evaluate(() => {
    (window as unknown as { __webannolo: DemoState }).__webannolo.lastSearch = null;
  });
  await page.click('#search-all');
  const s = await until(page, `a search of all queries on ${backend}`, (st) => st.lastSearch?.mode === 'all');
  return s.lastSearch!;
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'demo-dist', 'index.html'))) throw new Error('demo-dist/ is missing: run `npx vite build` first');
  mkdirSync(RESULTS, { recursive: true });
  const port = await freePort();
  server = await preview({
    configFile: join(ROOT, 'vite.config.ts'),
    root: join(ROOT, 'demo'),
    logLevel: 'warn',
    preview: { host: '127.0.0.1', port, strictPort: true, open: false },
  });
  baseUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await server?.close();
});

describe.sequential('demo in Chromium with WebGPU (SwiftShader)', () => {
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...WEBGPU_FLAGS, ...BASE_FLAGS] });
    ({ page, pageErrors } = await openDemo(browser));
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('loads the default MNIST subset and its exact ground truth', async () => {
    const s = await until(page, 'the default dataset', (st) => st.datasetLoaded && st.groundTruth !== null);
    expect(s.dataset).toMatchObject({ size: 10_000, dim: 784, queries: 200 });
    await expect(page.textContent('#data-info')).resolves.toContain('MNIST');
  });

  it('finds a WebGPU adapter and names it', async () => {
    const s = await until(page, 'the GPU check', (st) => st.gpu.checked);
    expect(s.gpu.available, s.gpu.message).toBe(true);
    expect(s.gpu.adapter).toBeTruthy();
    expect(await page.textContent('#gpu-badge')).toContain(`WebGPU: ${s.gpu.adapter}`);
    // Ground truth runs on a hardware GPU; a software adapter (SwiftShader) is slower than the CPU for a full scan.
    expect(s.groundTruth?.backend).toBe(s.gpu.software ? 'cpu' : 'gpu');
  });

  it('is cross-origin isolated and uses every core', async () => {
    expect(await page.evaluate(() => crossOriginIsolated), 'COOP/COEP headers from vite preview').toBe(true);
    const s = await until(page, 'the thread check', (st) => st.threads !== null);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(s.threads).toBe(cores);
    expect(await page.textContent('#threads-badge')).toContain(cores > 1 ? `${cores} threads` : '1 thread');
  });

  it('cancels a build, and the page answers while the worker builds', async () => {
    await page.click('#build');
    await until(page, 'build progress', (st) => st.buildProgress > 0, 60_000);
    const t0 = Date.now();
    await page.evaluate(() => document.querySelector('#build-info')?.textContent);
    expect(Date.now() - t0, 'page round trip during a build (ms)').toBeLessThan(1000);
    await page.click('#cancel');
    const s = await until(page, 'the cancel', (st) => !st.building);
    expect(s.buildCancelled).toBe(true);
    expect(s.built).toBe(false);
    expect(await page.textContent('#build-info')).toContain('cancelled');
  });

  it('builds the index on every core (Web Workers) with a progress bar', async () => {
    await page.click('#build');
    const mid = await until(page, 'build progress', (st) => st.buildProgress > 0 || st.built, 60_000);
    expect(mid.building || mid.built).toBe(true);
    const s = await until(page, 'the built index', (st) => st.built && !st.building, 240_000);
    expect(s.buildProgress).toBe(1);
    const where = s.threads! > 1 ? `on ${s.threads} threads \\(Web Workers\\)` : 'in a Web Worker \\(1 thread\\)';
    expect(await page.textContent('#build-info')).toMatch(new RegExp(`Built in .* ${where}`));
  });

  it('searches all queries on WebGPU: backend gpu, recall@10 >= 0.95', async () => {
    const r = await searchAll(page, 'gpu');
    expect(r.requested).toBe('gpu');
    expect(r.backend, 'the library must report that WebGPU ran').toBe('gpu');
    expect(r.recall).toBeGreaterThanOrEqual(0.95);
    expect(await page.getAttribute('#search-info .backend', 'data-backend')).toBe('gpu');
  });

  it('searches all queries on the CPU: backend cpu, recall@10 >= 0.95', async () => {
    const r = await searchAll(page, 'cpu');
    expect(r.backend).toBe('cpu');
    expect(r.recall).toBeGreaterThanOrEqual(0.95);
    expect(await page.textContent('#search-info')).toContain('Ran on cpu');
  });

  it('searches one query on WebGPU and draws the digits', async () => {
    await page.check('#backend-gpu');
    await page.fill('#query', '3');
    await page.click('#search');
    const s = await until(page, 'a single search', (st) => st.lastSearch?.mode === 'single');
    expect(s.lastSearch?.backend).toBe('gpu');
    expect(s.lastSearch?.latencyMs).toBeGreaterThan(0);
    expect(await page.locator('#results canvas.digit').count()).toBe(11);
    expect(await page.textContent('#search-info')).toContain('Ran on gpu');
  });

  it('filters by digit, removes the results live and adds them back', async () => {
    await page.check('#backend-cpu');
    await page.selectOption('#filter-digit', '3');
    await page.click('#search');
    const first = await until(page, 'a search for 3s', (st) => st.lastSearch?.mode === 'single' && st.lastSearch.filter === 3);
    const shown = first.lastSearch!.ids!;
    expect(shown).toHaveLength(10);
    expect(first.lastSearch!.labels).toEqual(new Array(10).fill(3));
    expect(first.lastSearch!.recall).toBeGreaterThanOrEqual(0.9);
    await page.click('#remove-shown');
    const after = await until(
      page,
      'the removal',
      (st) => st.removed === 10 && st.lastSearch?.ids?.every((id) => !shown.includes(id)) === true,
    );
    expect(after.lastSearch!.labels).toEqual(new Array(10).fill(3));
    expect(after.lastSearch!.recall).toBeGreaterThanOrEqual(0.9);
    await page.click('#add-back');
    const back = await until(
      page,
      'adding back',
      (st) => st.removed === 0 && st.lastSearch?.ids?.some((id) => shown.includes(id)) === true,
    );
    expect(back.lastSearch!.recall).toBeGreaterThanOrEqual(0.9);
    await page.selectOption('#filter-digit', '');
  });

  it('saves the index and loads it back', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    const file = join(RESULTS, 'demo-index.wann');
    await download.saveAs(file);
    await page.setInputFiles('#file', file);
    await page.waitForFunction(() => document.querySelector('#build-info')?.textContent?.includes('Loaded demo-index.wann'), null, {
      timeout: 30_000,
    });
    const s = await demoState(page);
    expect(s.built && s.lastSearch === null && s.error === null).toBe(true);
    const r = await searchAll(page, 'gpu');
    expect(r.backend).toBe('gpu');
    expect(r.recall).toBeGreaterThanOrEqual(0.95);
  });

  it('draws the recall/QPS comparison of both backends', async () => {
    await page.click('#compare');
    const s = await until(page, 'the comparison chart', (st) => st.chartReady, 280_000);
    const labels = s.sweep!.map((x) => x.label).sort();
    expect(labels).toEqual(['cpu · batched', 'cpu · single', 'gpu · hybrid', 'gpu · resident', 'gpu · single']);
    for (const series of s.sweep!) for (const p of series.points) expect(p.qps).toBeGreaterThan(0);
    const best = Math.max(...s.sweep!.flatMap((x) => x.points.map((p) => p.recall)));
    expect(best).toBeGreaterThanOrEqual(0.95);
    const box = await page.locator('#chart').boundingBox();
    expect(box?.height ?? 0).toBeGreaterThan(100);
  });

  it('reports a corrupt upload as an error, not a blank page', async () => {
    const garbage = Buffer.from(Array.from({ length: 61 }, (_, i) => (i * 97 + 13) & 0xff));
    await page.setInputFiles('#file', { name: 'x.fvecs', mimeType: 'application/octet-stream', buffer: garbage });
    await page.waitForSelector('#error:not([hidden])', { timeout: 10_000 });
    const text = (await page.textContent('#error .message')) ?? '';
    expect(text).toContain('x.fvecs');
    const s = await demoState(page);
    expect(s.error).toBeTruthy();
    expect(s.datasetLoaded && s.built).toBe(true);
    expect(await page.isVisible('#search-card')).toBe(true);
    await page.screenshot({ path: join(RESULTS, 'demo.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});

describe.sequential('demo in Chromium without WebGPU', () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BASE_FLAGS });
    ({ page } = await openDemo(browser, '?n=2000&q=100'));
    await expect(page.inputValue('#mnist-n')).resolves.toBe('2000');
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('says plainly that only the CPU is available, and works on it', async () => {
    const s = await until(page, 'the dataset', (st) => st.datasetLoaded && st.groundTruth !== null && st.gpu.checked);
    expect(s.dataset?.size).toBe(2000);
    expect(s.gpu.available).toBe(false);
    expect(s.groundTruth?.backend).toBe('cpu');
    expect(await page.textContent('#gpu-badge')).toContain('CPU only');
    expect(await page.isVisible('#gpu-note')).toBe(true);
    expect(await page.isDisabled('#backend-gpu')).toBe(true);
    await page.click('#build');
    await until(page, 'the built index', (st) => st.built && !st.building);
    const r = await searchAll(page, 'cpu');
    expect(r.backend).toBe('cpu');
    expect(r.recall).toBeGreaterThanOrEqual(0.95);
    await page.screenshot({ path: join(RESULTS, 'demo-no-webgpu.png'), fullPage: true });
  });

  it('searches RaBitQ codes over the same graph: memory against f32 shown, re-ranked from the plain vectors', async () => {
    const choose = async (choice: string) => {
      await page.selectOption('#store-choice', choice);
      return (await until(page, `the ${choice} store`, (st) => st.store?.choice === choice && !st.storeBusy)).store!;
    };
    const plain = await searchAll(page, 'cpu');
    const f32 = (await demoState(page)).store!;
    expect(f32).toMatchObject({ choice: 'f32', kind: 'dense', bytesPerVector: 784 * 4, rerankBytes: 0 });

    const one = await choose('rabitq1');
    expect(one.kind).toBe('rabitq');
    // 784 bits of code (padded to 1024 for the rotation) plus a few floats per vector, against 3,136 bytes of f32.
    expect(one.bytesPerVector).toBeLessThan(f32.bytesPerVector / 15);
    expect(one.f32Bytes).toBe(f32.storeBytes);
    expect(one.rerankBytes).toBe(f32.storeBytes);
    const info = (await page.textContent('#store-info')) ?? '';
    expect(info).toContain('RaBitQ 1-bit');
    expect(info).toMatch(/\d+(\.\d)?× smaller/);
    const reranked = await searchAll(page, 'cpu');
    expect(reranked.backend).toBe('cpu');
    expect(reranked.recall).toBeGreaterThanOrEqual(0.95);

    await page.uncheck('#rerank');
    await until(page, 're-ranking off', (st) => st.store?.rerank === false);
    const estimated = await searchAll(page, 'cpu');
    expect(estimated.recall, '1-bit estimates alone order the results worse than exact re-ranking').toBeLessThan(reranked.recall);
    await page.check('#rerank');

    const four = await choose('rabitq4');
    expect(four.bytesPerVector).toBeGreaterThan(one.bytesPerVector);
    expect(four.bytesPerVector).toBeLessThan(f32.bytesPerVector / 4);
    expect((await searchAll(page, 'cpu')).recall).toBeGreaterThanOrEqual(0.95);

    const back = await choose('f32');
    expect(back).toMatchObject({ kind: 'dense', bytesPerVector: 784 * 4, rerankBytes: 0 });
    expect((await searchAll(page, 'cpu')).recall).toBe(plain.recall);
  });

  it('takes a dropped .fvecs file, holds out queries, builds and searches it', async () => {
    const b64 = fvecs(1000, 32).toString('base64');
    const dataTransfer = await page.evaluateHandle(
      ({ name, data }) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name));
        return dt;
      },
      { name: 'points.fvecs', data: b64 },
    );
    await page.dispatchEvent('#drop', 'drop', { dataTransfer });
    const s = await until(
      page,
      'the dropped file',
      (st) => st.dataset?.name.startsWith('points.fvecs') === true && st.groundTruth !== null,
    );
    expect(s.dataset).toMatchObject({ size: 900, dim: 32, queries: 100 });
    expect(s.built).toBe(false);
    await page.click('#build');
    await until(page, 'the built index', (st) => st.built && !st.building);
    const r = await searchAll(page, 'cpu');
    expect(r.recall).toBeGreaterThanOrEqual(0.95);
    expect(await page.locator('#results canvas').count()).toBe(0); // not images: no pictures
  });
});
