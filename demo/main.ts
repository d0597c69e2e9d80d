import { type AnyIndex, HnswIndex, type Metric, serializeIndex, WebannoloError } from '../src/index.js';
import { BuildCancelled, type BuildJob, startBuild, usableThreads } from './builder.js';
import { isIndexFile, type Loaded, loadMnist, pairIndex, parseIndexFile, parseUserDataset } from './datasets.js';
import { probeGpu } from './gpu.js';
import { $, download, formatBytes, formatMs } from './render.js';
import { groundTruth } from './search.js';
import { initSearchPanel, resetResults } from './search-panel.js';
import { action, app, clearError, showError, state, update } from './state.js';
import { initStoragePanel, suggestName } from './storage-panel.js';
import { initStorePanel, showStore, withChosenStore } from './store-panel.js';

/** The page: data and index panels, and the wiring of everything else. */

const params = new URLSearchParams(location.search);
/** The build running in the worker, if any. */
let job: BuildJob | null = null;

function intInput(id: string, min: number, max: number): number {
  const input = $<HTMLInputElement>(id);
  const v = Number(input.value);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${input.dataset['name'] ?? id} must be a whole number from ${min} to ${max}, got "${input.value}"`);
  }
  return v;
}

// ---- WebGPU ----------------------------------------------------------------------------

async function initGpu(): Promise<void> {
  const badge = $('gpu-badge');
  const probing = probeGpu();
  app.gpuReady = probing.then((p) => p.gpu);
  const probe = await probing;
  app.gpu = probe.gpu;
  const gpuRadio = $<HTMLInputElement>('backend-gpu');
  if (probe.gpu) {
    badge.textContent = `WebGPU: ${probe.gpu.label}${probe.gpu.software ? ' (software)' : ''}`;
    badge.title = probe.gpu.software ? 'A software WebGPU adapter: the GPU is emulated on the CPU, so it is slower than a real one.' : '';
    badge.className = 'badge ok';
    gpuRadio.disabled = false;
    gpuRadio.checked = true;
  } else {
    badge.textContent = 'No WebGPU: CPU only';
    badge.className = 'badge warn';
    gpuRadio.disabled = true;
    $<HTMLInputElement>('backend-cpu').checked = true;
    const note = $('gpu-note');
    note.textContent = probe.reason;
    note.hidden = false;
  }
  update({
    gpu: {
      checked: true,
      available: probe.gpu !== null,
      adapter: probe.gpu?.label ?? null,
      software: probe.gpu?.software ?? false,
      message: probe.reason || `WebGPU: ${probe.gpu?.label}`,
    },
  });
}

// ---- Threads ---------------------------------------------------------------------------

/** How many worker threads the page can use, shown in the header (once, at start). */
async function initThreads(): Promise<number> {
  const badge = $('threads-badge');
  const threads = await usableThreads((line) => {
    const note = $('threads-note');
    note.textContent = line;
    note.hidden = false;
  });
  badge.textContent = threads > 1 ? `CPU: ${threads} threads` : 'CPU: 1 thread';
  badge.title =
    threads > 1
      ? 'Builds and batched CPU searches run on this many Web Workers, sharing the index through SharedArrayBuffer.'
      : 'SharedArrayBuffer is unavailable (the page is not cross-origin isolated): one thread.';
  badge.className = threads > 1 ? 'badge ok' : 'badge warn';
  update({ threads });
  return threads;
}

// ---- Data ------------------------------------------------------------------------------

/** Makes `data` current (with `index` when a saved index came with it) and computes ground truth. */
async function setData(data: Loaded, index: HnswIndex | null, indexBytes: Uint8Array | null): Promise<void> {
  const sameData = data === app.data;
  if (!sameData) job?.cancel(); // a build of the old data is of no use any more
  app.data = data;
  app.index = index;
  app.indexBytes = indexBytes;
  $<HTMLButtonElement>('save').disabled = index === null;
  resetResults();
  update({
    datasetLoaded: true,
    dataset: { name: data.name, size: data.base.size, dim: data.base.dim, kind: data.base.kind, queries: data.queries.size },
    built: index !== null,
    buildProgress: index ? 1 : 0,
  });
  showStore();
  if (!index) $('build-info').textContent = 'Not built yet.';
  const info = $('data-info');
  const describe = `<strong>${escapeHtml(data.name)}</strong><br>${data.base.size.toLocaleString('en')} base vectors × ${data.base.dim} (${data.base.kind}, ${data.metric === 'l2' ? 'L2' : 'inner product'}) · queries: ${escapeHtml(data.queryNote)}`;
  info.innerHTML = `${describe}<br><span class="muted">Ground truth: computing the exact neighbours…</span>`;
  if (sameData && app.truth) {
    info.innerHTML = `${describe}<br>${truthText(await app.truth)}`;
    return;
  }
  update({ groundTruth: null });
  const gpu = await app.gpuReady;
  app.truth = groundTruth(data, gpu);
  const truth = await app.truth;
  if (app.data !== data) return;
  info.innerHTML = `${describe}<br>${truthText(truth)}`;
  update({ groundTruth: { backend: truth.backend, ms: truth.ms } });
}

function truthText(t: { backend: string; ms: number; gt: { dim: number } }): string {
  const why =
    t.backend === 'cpu' && app.gpu?.software ? ' (the WebGPU adapter is a software one, slower than the CPU for a full scan)' : '';
  return `<span class="muted">Ground truth: exact top-${t.gt.dim} by brute force on <b>${t.backend}</b> in ${formatMs(t.ms)}${why}.</span>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

async function loadDefault(): Promise<void> {
  const n = Number($<HTMLSelectElement>('mnist-n').value);
  const q = Number($<HTMLSelectElement>('mnist-q').value);
  $('data-info').textContent = `Fetching ${n.toLocaleString('en')} MNIST images…`;
  await setData(await loadMnist(n, q), null, null);
}

async function loadFile(file: File): Promise<void> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (isIndexFile(bytes)) {
    const { index, data } = parseIndexFile(file.name, bytes, app.data);
    await setData(data, index, bytes);
    update({ built: true, buildCancelled: false, buildMs: null });
    $('build-info').innerHTML = `Loaded <strong>${escapeHtml(file.name)}</strong>: ${indexSummary(index, bytes.byteLength)}.`;
    return;
  }
  const metric = $<HTMLSelectElement>('metric').value as Metric;
  await setData(parseUserDataset(file.name, bytes, metric), null, null);
}

/** An index opened from this browser's storage: used as a loaded file is, with the time it took to open. */
async function useSavedIndex(name: string, index: AnyIndex, ms: number, bytes: number): Promise<void> {
  if (!(index instanceof HnswIndex))
    throw new WebannoloError('INVALID_ARGUMENT', `'${name}' holds an exact (flat) index; the demo searches HNSW indexes`);
  job?.cancel();
  const data = pairIndex(name, index, app.data);
  await setData(data, index, null);
  update({ built: true, buildCancelled: false, buildMs: null });
  $('build-info').innerHTML =
    `Opened <strong>${escapeHtml(name)}</strong> from this browser in <strong>${formatMs(ms)}</strong>: ${indexSummary(index, bytes)}.`;
}

function indexSummary(index: HnswIndex, bytes: number): string {
  const p = index.buildParams;
  return `HNSW over ${index.size.toLocaleString('en')} items, m ${p.m}, efConstruction ${p.efConstruction}, ${formatBytes(bytes)}`;
}

function initData(): void {
  const fileInput = $<HTMLInputElement>('file');
  const drop = $('drop');
  const take = (file: File | undefined): void => {
    if (file) void action(null, `Could not load ${file.name}`, () => loadFile(file));
  };
  fileInput.addEventListener('change', () => {
    take(fileInput.files?.[0]);
    fileInput.value = '';
  });
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    take(ev.dataTransfer?.files[0]);
  });
  $('load-index').addEventListener('click', () => fileInput.click());
  const load = $<HTMLButtonElement>('load-mnist');
  load.addEventListener('click', () => void action(load, 'Could not load MNIST', loadDefault));
  // ?n=…&q=… pick the MNIST subset (e.g. a small one for quick checks).
  for (const [key, id, max] of [
    ['n', 'mnist-n', 60_000],
    ['q', 'mnist-q', 10_000],
  ] as const) {
    const v = Number(params.get(key));
    const select = $<HTMLSelectElement>(id);
    if (!Number.isInteger(v) || v < 1 || v > max) continue;
    if (![...select.options].some((o) => o.value === String(v))) select.add(new Option(v.toLocaleString('en'), String(v)));
    select.value = String(v);
  }
}

// ---- Build -----------------------------------------------------------------------------

async function build(): Promise<void> {
  const data = app.data;
  if (!data) throw new Error('load a dataset first');
  const m = intInput('m', 2, 64);
  const efConstruction = intInput('efc', 8, 1000);
  const bar = $<HTMLProgressElement>('progress');
  const info = $('build-info');
  const cancel = $<HTMLButtonElement>('cancel');
  bar.value = 0;
  const threads = state.threads ?? (await initThreads());
  const where = threads > 1 ? `on ${threads} threads (Web Workers)` : 'in a Web Worker (1 thread)';
  info.textContent = `Building ${where}…`;
  cancel.disabled = false;
  update({ building: true, buildProgress: 0, buildCancelled: false, threads });
  const labels = data.baseLabels ? Array.from(data.baseLabels) : undefined;
  job = startBuild(data.base, { metric: data.metric, m, efConstruction, seed: 1, labels }, threads, (done, total) => {
    bar.value = done / total;
    info.textContent = `Building ${where}… ${Math.round((100 * done) / total)}% (${done.toLocaleString('en')} / ${total.toLocaleString('en')} inserted)`;
    state.buildProgress = done / total;
  });
  try {
    const { index, bytes, ms } = await job.result;
    if (app.data !== data) return;
    // The graph is built on the plain vectors; the vectors chosen to search are encoded from them.
    const searched = withChosenStore(index);
    app.index = searched.index;
    app.indexBytes = searched.index === index ? bytes : null;
    showStore(searched.index === index ? null : searched.ms);
    $<HTMLButtonElement>('save').disabled = false;
    bar.value = 1;
    info.innerHTML = `Built in <strong>${(ms / 1000).toFixed(1)} s</strong> ${where}: ${indexSummary(index, bytes.byteLength)}.`;
    suggestName();
    resetResults();
    update({ built: true, buildMs: ms, buildProgress: 1 });
  } catch (e) {
    if (!(e instanceof BuildCancelled)) throw e;
    bar.value = 0;
    info.textContent = app.index ? 'Build cancelled; the previous index is still loaded.' : 'Build cancelled.';
    update({ buildCancelled: true, buildProgress: 0 });
  } finally {
    job = null;
    cancel.disabled = true;
    update({ building: false });
  }
}

function initBuild(): void {
  const button = $<HTMLButtonElement>('build');
  button.addEventListener('click', () => void action(button, 'Build failed', build));
  $('cancel').addEventListener('click', () => job?.cancel());
  $('save').addEventListener('click', () => {
    if (!app.index) return;
    app.indexBytes ??= serializeIndex(app.index);
    const base = (state.dataset?.name ?? 'index')
      .split(/[ (]/)[0]!
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-');
    download(app.indexBytes!, `${base}-hnsw-${app.index.size}.wann`);
  });
}

// ---- Start -----------------------------------------------------------------------------

function initErrors(): void {
  $('error-close').addEventListener('click', clearError);
  window.addEventListener('error', (ev) => showError('Unexpected error', ev.error ?? ev.message));
  window.addEventListener('unhandledrejection', (ev) => showError('Unexpected error', ev.reason));
}

update({});
initErrors();
void initGpu(); // sets app.gpuReady at once; ground truth waits for it
void initThreads();
initData();
initBuild();
initSearchPanel();
initStorePanel();
initStoragePanel(useSavedIndex);
void action($<HTMLButtonElement>('load-mnist'), 'Could not load MNIST', loadDefault);
