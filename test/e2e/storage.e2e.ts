/**
 * Saved indexes in headless Chromium, through the demo's "Saved in this browser" panel: the
 * real origin private file system and IndexedDB (Node has neither; the logic over an in-memory
 * store is test/storage-shelf.test.ts). Build, save, reload, open, search: the same results;
 * a save cut short leaves the old index; quota errors; the IndexedDB backend; list and delete.
 * And re-ranking vectors read from OPFS on demand (openIndex with rerank 'disk') in a dedicated
 * worker, through a small page of its own (test/e2e/rerank-page/, built next to the demo).
 * Run: npm run test:e2e (builds demo-dist/ first), or
 *   npx vite build && npx vitest run --config test/e2e/vitest.config.ts test/e2e/storage.e2e.ts
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { type PreviewServer, preview, build as viteBuild } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RerankPage } from './rerank-page/page.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
/** A small MNIST subset: the build takes seconds. */
const SMALL = '?n=2000&q=100';

interface Saved {
  name: string;
  bytes: number;
  savedAt: string;
}
interface State {
  datasetLoaded: boolean;
  groundTruth: { backend: string } | null;
  built: boolean;
  building: boolean;
  lastSearch: { mode: string; backend: string; recall: number; ids?: number[] } | null;
  error: string | null;
  storage: {
    backend: string | null;
    busy: boolean;
    saved: Saved[];
    lastSave: { name: string; bytes: number; ms: number } | null;
    lastOpen: { name: string; bytes: number; ms: number } | null;
  };
}

let server: PreviewServer;
let baseUrl = '';
let browser: Browser;

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

const stateOf = (page: Page): Promise<State> => page.evaluate(() => (window as unknown as { __webannolo: State }).__webannolo);

/** Waits until `test(state)` holds; fails early on a page error unless `allowError`. */
async function until(page: Page, what: string, test: (s: State) => boolean, timeoutMs = 120_000, allowError = false): Promise<State> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await stateOf(page);
    if (test(s)) return s;
    if (s.error && !allowError) throw new Error(`page error while waiting for ${what}: ${s.error}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; state: ${JSON.stringify(s)}`);
    await page.waitForTimeout(100);
  }
}

/** The demo with its MNIST subset and ground truth loaded and the storage panel ready. */
async function ready(page: Page): Promise<State> {
  return until(page, 'the data and the storage panel', (s) => s.datasetLoaded && s.groundTruth !== null && s.storage.backend !== null);
}

async function openDemo(context: BrowserContext, query = SMALL): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${baseUrl}/${query}`);
  await ready(page);
  return page;
}

async function build(page: Page): Promise<void> {
  await page.click('#build');
  await until(page, 'the built index', (s) => s.built && !s.building, 240_000);
}

/** The ids of a single CPU search for query 3. */
async function searchIds(page: Page): Promise<number[]> {
  await page.check('#backend-cpu');
  await page.fill('#query', '3');
  await page.evaluate(() => {
    (window as unknown as { __webannolo: State }).__webannolo.lastSearch = null;
  });
  await page.click('#search');
  const s = await until(page, 'a single search', (st) => st.lastSearch?.mode === 'single');
  expect(s.lastSearch!.backend).toBe('cpu');
  return s.lastSearch!.ids!;
}

async function save(page: Page, name: string): Promise<State> {
  await page.fill('#store-name', name);
  await page.evaluate(() => {
    (window as unknown as { __webannolo: State }).__webannolo.storage.lastSave = null;
  });
  await page.click('#store-save');
  return until(page, `the save of ${name}`, (s) => s.storage.lastSave?.name === name && !s.storage.busy);
}

async function open(page: Page, name: string): Promise<State> {
  await page.click(`#saved-list li[data-name="${name}"] button.open`);
  return until(page, `the opening of ${name}`, (s) => s.storage.lastOpen?.name === name && s.built);
}

/** The files in the demo's OPFS folder. */
function opfsFiles(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('webannolo', { create: true });
    const names: string[] = [];
    for await (const k of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(k);
    return names.sort();
  });
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'demo-dist', 'index.html'))) throw new Error('demo-dist/ is missing: run `npx vite build` first');
  // The re-ranking page, bundled from the library's sources into the folder the server serves.
  await viteBuild({
    configFile: false,
    root: join(ROOT, 'test', 'e2e', 'rerank-page'),
    base: './',
    logLevel: 'warn',
    build: { outDir: join(ROOT, 'demo-dist', 'e2e-rerank'), emptyOutDir: true, target: 'es2022' },
    worker: { format: 'es' },
  });
  const port = await freePort();
  server = await preview({
    configFile: join(ROOT, 'vite.config.ts'),
    root: join(ROOT, 'demo'),
    logLevel: 'warn',
    preview: { host: '127.0.0.1', port, strictPort: true, open: false },
  });
  baseUrl = `http://127.0.0.1:${port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe.sequential('saved indexes in the origin private file system', () => {
  let context: BrowserContext;
  let page: Page;
  let before: number[];
  let firstBytes: number;

  beforeAll(async () => {
    context = await browser.newContext();
    page = await openDemo(context);
  });
  afterAll(async () => {
    await context?.close();
  });

  it('uses OPFS, saves the built index, and after a reload opens it and searches with the same results', async () => {
    const s0 = await stateOf(page);
    expect(s0.storage.backend).toBe('opfs');
    expect(s0.storage.saved).toEqual([]);
    await build(page);
    before = await searchIds(page);
    const saved = await save(page, 'e2e');
    firstBytes = saved.storage.lastSave!.bytes;
    expect(firstBytes).toBeGreaterThan(2000 * 784 * 4);
    expect(saved.storage.saved.map((x) => [x.name, x.bytes])).toEqual([['e2e', firstBytes]]);
    expect(await opfsFiles(page)).toEqual([expect.stringMatching(/^e2e\.1-[0-9a-z]+\.wann$/), 'e2e.index.json']);

    await page.reload();
    const s1 = await ready(page);
    expect(s1.built).toBe(false);
    expect(s1.storage.saved.map((x) => x.name)).toEqual(['e2e']);
    const opened = await open(page, 'e2e');
    expect(opened.storage.lastOpen!.ms).toBeGreaterThan(0);
    const mib = (firstBytes / 2 ** 20).toFixed(1);
    console.log(
      `OPFS: saved ${mib} MiB in ${saved.storage.lastSave!.ms.toFixed(0)} ms, opened in ${opened.storage.lastOpen!.ms.toFixed(0)} ms`,
    );
    expect(await page.textContent('#build-info')).toMatch(/Opened e2e from this browser in .*HNSW over 2,000 items/);
    expect(await page.textContent('#storage-info')).toMatch(/Opened “e2e” \(.*\) in .*ready to search/);
    expect(await searchIds(page)).toEqual(before);
    await page.click('#search-all');
    const all = await until(page, 'a search of all queries', (s) => s.lastSearch?.mode === 'all');
    expect(all.lastSearch!.recall).toBeGreaterThanOrEqual(0.95);
  });

  it('a save cut short leaves the previous index: a partial next generation is ignored, then cleared by the next save', async () => {
    // What a tab closed mid-save leaves: the next generation's file, partly written, and the old manifest.
    await page.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('webannolo');
      const file = await dir.getFileHandle('e2e.2-zzzzzz.wann', { create: true });
      const w = await file.createWritable();
      await w.write(new Uint8Array(100_000).fill(7));
      await w.close();
    });
    await page.reload();
    const s = await ready(page);
    expect(s.storage.saved.map((x) => [x.name, x.bytes])).toEqual([['e2e', firstBytes]]);
    await open(page, 'e2e');
    expect(await searchIds(page)).toEqual(before);
    // A real save closed mid-way: whatever it reached, the index opens whole.
    await page.fill('#store-name', 'e2e');
    await page.click('#store-save');
    await page.close();
    page = await openDemo(context);
    await open(page, 'e2e');
    expect(await searchIds(page)).toEqual(before);
    // The next finished save removes every leftover: one manifest, one data file.
    await save(page, 'e2e');
    const files = await opfsFiles(page);
    expect(files).toHaveLength(2);
    expect(files[1]).toBe('e2e.index.json');
  });

  it('lists several indexes by name and deletes one, files included', async () => {
    await save(page, 'e2e two');
    const s = await stateOf(page);
    expect(s.storage.saved.map((x) => x.name)).toEqual(['e2e', 'e2e two']);
    expect(await page.locator('#saved-list li').count()).toBe(2);
    await page.click('#saved-list li[data-name="e2e two"] button.delete');
    await until(page, 'the deletion', (st) => st.storage.saved.length === 1);
    expect((await opfsFiles(page)).filter((f) => f.startsWith('e2e%20two'))).toEqual([]);
    expect(await page.textContent('#storage-info')).toContain('Deleted “e2e two”');
  });

  it('a quota too small fails before writing, saying how much was needed, and keeps the old copy', async () => {
    const stubbed = await context.newPage();
    await stubbed.addInitScript(() => {
      navigator.storage.estimate = async () => ({ quota: 5 * 2 ** 20, usage: 4 * 2 ** 20 });
    });
    await stubbed.goto(`${baseUrl}/${SMALL}`);
    await ready(stubbed);
    await open(stubbed, 'e2e');
    await stubbed.fill('#store-name', 'e2e');
    await stubbed.click('#store-save');
    const s = await until(stubbed, 'the quota error', (st) => st.error !== null, 60_000, true);
    expect(s.error).toContain(`needs ${(firstBytes / 2 ** 20).toFixed(1)} MiB`);
    expect(s.error).toContain('this site may use 1.0 MiB more (4.0 MiB used of a 5.0 MiB quota)');
    expect(s.error).toContain('[IO_FAILURE]');
    expect(s.storage.saved.map((x) => [x.name, x.bytes])).toEqual([['e2e', firstBytes]]);
    expect(await opfsFiles(stubbed)).toHaveLength(2);
    await stubbed.close();
  });

  it('QuotaExceededError from the writable stream midway fails clearly, removes the partial file and keeps the old copy', async () => {
    const stubbed = await context.newPage();
    await stubbed.addInitScript(() => {
      const proto = FileSystemWritableFileStream.prototype;
      const write = proto.write;
      let writes = 0;
      proto.write = function (this: FileSystemWritableFileStream, data: FileSystemWriteChunkType) {
        // The first chunk goes through, the second finds the disk full.
        if (++writes === 2) return Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError'));
        return write.call(this, data);
      };
    });
    await stubbed.goto(`${baseUrl}/${SMALL}`);
    await ready(stubbed);
    const manifestBefore = await opfsFiles(stubbed);
    await open(stubbed, 'e2e');
    await stubbed.fill('#store-name', 'e2e');
    await stubbed.click('#store-save');
    const s = await until(stubbed, 'the quota error', (st) => st.error !== null, 60_000, true);
    expect(s.error).toContain(`saving index 'e2e' needs ${(firstBytes / 2 ** 20).toFixed(1)} MiB`);
    expect(s.error).toContain('the previous copy, if any, is unchanged');
    expect(await opfsFiles(stubbed)).toEqual(manifestBefore);
    await stubbed.reload();
    await ready(stubbed);
    await open(stubbed, 'e2e');
    expect(await searchIds(stubbed)).toEqual(before);
    await stubbed.close();
  });
});

describe.sequential('saved indexes in IndexedDB (backend forced)', () => {
  let context: BrowserContext;

  beforeAll(async () => {
    context = await browser.newContext();
  });
  afterAll(async () => {
    await context?.close();
  });

  it('saves, reloads, opens with the same results, lists and deletes', async () => {
    const page = await openDemo(context, `${SMALL}&storage=indexeddb`);
    const s0 = await stateOf(page);
    expect(s0.storage.backend).toBe('indexeddb');
    expect(s0.storage.saved).toEqual([]);
    await build(page);
    const before = await searchIds(page);
    const saved = await save(page, 'idb one');
    expect(saved.storage.saved.map((x) => x.name)).toEqual(['idb one']);
    // The index is larger than one 4 MiB record: it is stored in chunks.
    expect(saved.storage.lastSave!.bytes).toBeGreaterThan(4 << 20);
    await page.reload();
    await ready(page);
    await open(page, 'idb one');
    expect(await searchIds(page)).toEqual(before);
    // Saved again under the same name: still one index, the same results.
    await save(page, 'idb one');
    await save(page, 'idb two');
    expect((await stateOf(page)).storage.saved.map((x) => x.name)).toEqual(['idb one', 'idb two']);
    await page.click('#saved-list li[data-name="idb one"] button.delete');
    await until(page, 'the deletion', (st) => st.storage.saved.length === 1);
    const records = await page.evaluate(
      () =>
        new Promise<number>((resolve, reject) => {
          const req = indexedDB.open('webannolo');
          req.onsuccess = () => {
            const count = req.result.transaction('chunks').objectStore('chunks').count();
            count.onsuccess = () => resolve(count.result);
            count.onerror = () => reject(count.error);
          };
          req.onerror = () => reject(req.error);
        }),
    );
    // Only "idb two" is left: its data in chunks of 4 MiB, and its manifest.
    expect(records).toBe(Math.ceil((await stateOf(page)).storage.saved[0]!.bytes / (4 << 20)) + 1);
    // OPFS, the other backend, holds nothing of these.
    const opfs = await openDemo(context);
    expect((await stateOf(opfs)).storage.saved).toEqual([]);
  });
});

describe.sequential("re-ranking vectors read from OPFS on demand (openIndex with rerank 'disk')", () => {
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    context = await browser.newContext();
    page = await context.newPage();
    await page.goto(`${baseUrl}/e2e-rerank/index.html`);
    await page.waitForFunction(() => document.getElementById('out')?.textContent === 'ready');
  });
  afterAll(async () => {
    await context?.close();
  });

  it('in a dedicated worker: the same results as the in-memory open, no vectors held, a save and a delete while open', async () => {
    const run = await page.evaluate(() => (window as unknown as { __rerank: RerankPage }).__rerank.inWorker());
    if (!run.ok) throw new Error(run.error);
    const r = run.result;
    console.log(
      `rerank from OPFS: opened in ${r.ms.openDisk.toFixed(0)} ms (in memory ${r.ms.open.toFixed(0)} ms); ` +
        `80 searches ${r.ms.searchDisk.toFixed(0)} ms (in memory ${r.ms.searchMemory.toFixed(0)} ms); files ${JSON.stringify(r.files)}`,
    );
    expect(r.rowFileStore).toBe(true);
    // The vectors stay in the file: nothing of them is held, by either reader of it.
    expect(r.rerankBytes).toEqual({ disk: 0, twice: 0, memory: 3000 * 32 * 4 });
    expect(r.diskBytes).toBe(3000 * 32 * 4);
    expect(r.storeBytes.disk).toBe(r.storeBytes.memory);
    expect(r.rerankChangesResults).toBe(true);
    for (const s of r.same) {
      expect(s, `rerank ${s.rerank}`).toMatchObject({ single: true, batch: true });
      expect(s.maxScoreGap).toBeLessThan(1e-4);
    }
    const data = /^rerank%20e2e\.(\d+)-[0-9a-z]+\.wann$/;
    const generations = (names: string[]) => names.filter((f) => data.test(f)).map((f) => Number(data.exec(f)![1]));
    expect(generations(r.files.saved)).toEqual([1]);
    // Saved again while open: generation 2 is current; generation 1, held open, could not be
    // removed yet and still serves the open index's reads.
    expect(generations(r.files.savedAgainWhileOpen)).toEqual([1, 2]);
    expect(r.stillSameAfterSave).toBe(true);
    // One of its two readers closed: still held. Both closed: removed.
    expect(generations(r.files.oneClosed)).toEqual([1, 2]);
    expect(r.files.allClosed).toEqual([expect.stringMatching(/^rerank%20e2e\.2-/), 'rerank%20e2e.index.json']);
    // Deleted while open: gone from the list at once; its file, held, goes when it is closed.
    expect(r.deleted).toBe(true);
    expect(r.listedAfterDelete).toEqual([]);
    expect(generations(r.files.deletedWhileOpen)).toEqual([2]);
    expect(r.stillSameAfterDelete).toBe(true);
    expect(r.files.deletedAndClosed).toEqual([]);
    expect(r.afterClose).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('closed') });
  });

  it('two workers read the same saved file at once (read-only access handles)', async () => {
    const r = await page.evaluate(() => (window as unknown as { __rerank: RerankPage }).__rerank.twoReaders());
    const first = r.first as { rerankBytes: number; ids: number[] };
    expect(first.rerankBytes).toBe(0);
    expect(first.ids).toHaveLength(50);
    expect(r.second).toEqual(first);
    expect(r.deleted).toBe(true);
  });

  it("on a page's main thread: a clear error saying where it works", async () => {
    const error = await page.evaluate(() => (window as unknown as { __rerank: RerankPage }).__rerank.onMainThread());
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('only in a dedicated Web Worker') });
    expect(error!.message).toContain("rerank 'memory'");
  });
});
