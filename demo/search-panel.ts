import { DenseDataset, type HnswIndex, recallAtK, serializeIndex, type Vector } from '../src/index.js';
import { drawChart, runSweep, SWEEP_EF, SWEEP_QUERIES } from './compare.js';
import { $, el, formatMs, formatScore, tile } from './render.js';
import { type Backend, searchAll, searchOne, type Timed } from './search.js';
import { action, app, state, update } from './state.js';
import { STORE_LABELS } from './store-choice.js';

/** The search and compare panels. */

/** The query being looked at: a query-set row or a base item. */
let pick: { kind: 'query' | 'base'; i: number } = { kind: 'query', i: 0 };

/**
 * The live index's changes: base rows removed from `removedFrom` (an index without keys:
 * its ids are the base rows; adding them back in ascending order refills the same slots).
 */
const removed = new Set<number>();
let removedFrom: HnswIndex | null = null;
/** Ids shown by the last single search (what "Remove these results" removes). */
let shown: number[] = [];

/** The digit filter, or null for any. */
function digitFilter(): number | null {
  const v = $<HTMLSelectElement>('filter-digit').value;
  return v === '' ? null : Number(v);
}

function readInt(id: string, min: number, max: number, name: string): number {
  const v = Number($<HTMLInputElement>(id).value);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be a whole number from ${min} to ${max}`);
  return v;
}

function backendChoice(): Backend {
  return $<HTMLInputElement>('backend-gpu').checked ? 'gpu' : 'cpu';
}

function ready(): { index: NonNullable<typeof app.index>; data: NonNullable<typeof app.data> } {
  if (!app.data) throw new Error('load a dataset first');
  if (!app.index) throw new Error('build (or load) an index first');
  if (backendChoice() === 'gpu' && !app.gpu) throw new Error('WebGPU is not available in this browser: choose the CPU');
  return { index: app.index, data: app.data };
}

function queryVector(): { vector: Vector; title: string; label?: number } {
  const data = app.data!;
  if (pick.kind === 'query') {
    return { vector: data.queries.get(pick.i), title: `query ${pick.i}`, label: data.queryLabels?.[pick.i] };
  }
  return { vector: data.base.get(pick.i), title: `base item ${pick.i}`, label: data.baseLabels?.[pick.i] };
}

/**
 * The exact top-k of the picked query among the live items `digit` allows: from the ground
 * truth, or by brute force (always, once the index was filtered or changed).
 */
async function exactOf(vector: Vector, k: number, digit: number | null): Promise<{ ids: Int32Array; scores: Float32Array }> {
  const truth = await app.truth!;
  const data = app.data!;
  if (digit !== null || removed.size > 0) {
    const all = truth.flat.search(vector, data.base.size);
    const ids: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < all.ids.length && ids.length < k; i++) {
      const id = all.ids[i]!;
      if (removed.has(id) || (digit !== null && data.baseLabels?.[id] !== digit)) continue;
      ids.push(id);
      scores.push(all.scores[i]!);
    }
    return { ids: Int32Array.from(ids), scores: Float32Array.from(scores) };
  }
  if (pick.kind === 'query' && k <= truth.gt.dim) {
    const at = pick.i * truth.gt.dim;
    return { ids: truth.gt.data.slice(at, at + k), scores: truth.gt.scores!.slice(at, at + k) };
  }
  return truth.flat.search(vector, k);
}

/** What a search of compressed vectors searched (the store panel's choice), for the result line. */
function storeTag(): string {
  const s = state.store;
  if (!s?.choice || s.choice === 'f32') return '';
  return ` · ${STORE_LABELS[s.choice]}, ${s.rerank ? 're-ranked' : 'not re-ranked'}`;
}

function describe(r: Timed, requested: Backend, what: string, recall: number, k: number): void {
  const line = $('search-info');
  line.replaceChildren();
  const ranOn = r.backend === 'gpu' ? ` (WebGPU: ${app.gpu?.label ?? 'adapter'})` : r.backend === 'cpu' ? ' (CPU)' : '';
  line.append(
    'Ran on ',
    el('b', { class: `backend ${r.backend.replace(/[^a-z]/g, '')}`, 'data-backend': r.backend }, r.backend),
    `${ranOn} · ${what}${storeTag()} · recall@${k} = `,
    el('b', {}, recall.toFixed(3)),
  );
  if (requested === 'gpu' && r.backend !== 'gpu') {
    line.append(el('span', { class: 'warn-text' }, ` WebGPU was asked for, but the library reported '${r.backend}'.`));
  }
}

function showTiles(
  vector: Vector,
  title: string,
  label: number | undefined,
  ids: Int32Array,
  scores: Float32Array,
  exact: Int32Array,
): void {
  const data = app.data!;
  const truth = new Set(exact);
  const unit = data.metric === 'l2' ? 'd²' : 'ip';
  const box = $('results');
  box.replaceChildren(
    tile({ title, lines: label === undefined ? ['query'] : [`label ${label}`], vector, side: data.imageSide, kind: 'query' }),
  );
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0) continue;
    const lines = [`${unit} ${formatScore(scores[i]!)}`];
    const l = data.baseLabels?.[id];
    if (l !== undefined) lines.push(`label ${l}`);
    box.append(
      tile({ title: `#${i + 1} · id ${id}`, lines, vector: data.base.get(id), side: data.imageSide, kind: truth.has(id) ? 'hit' : 'miss' }),
    );
  }
}

async function searchPicked(): Promise<void> {
  const { index } = ready();
  const k = readInt('k', 1, Math.min(100, index.size), 'k');
  const ef = readInt('ef', 1, 4096, 'ef');
  const backend = backendChoice();
  const q = queryVector();
  const digit = digitFilter();
  if (digit !== null && !index.labels) throw new Error('this index has no labels to filter by (build it from MNIST)');
  const r = await searchOne(index, q.vector, k, ef, backend, app.gpu, digit === null ? undefined : { label: digit });
  const exact = await exactOf(q.vector, k, digit);
  // Recall over the results that exist (fewer than k when fewer items are allowed).
  const recall =
    exact.ids.length === 0
      ? 1
      : recallAtK(
          r.ids.slice(0, exact.ids.length),
          exact.ids.length,
          { rows: 1, dim: exact.ids.length, data: exact.ids, scores: exact.scores },
          { scores: r.scores.slice(0, exact.ids.length) },
        );
  const what = `1 query in ${formatMs(r.ms)}${digit === null ? '' : `, only digit ${digit}`}${removed.size > 0 ? `, ${removed.size} items removed` : ''}`;
  describe(r, backend, what, recall, k);
  showTiles(q.vector, q.title, q.label, r.ids, r.scores, exact.ids);
  shown = Array.from(r.ids).filter((id) => id >= 0);
  $<HTMLButtonElement>('remove-shown').disabled = shown.length === 0;
  const labels = shown.map((id) => app.data!.baseLabels?.[id] ?? null);
  update({
    lastSearch: {
      mode: 'single',
      backend: r.backend,
      requested: backend,
      recall,
      latencyMs: r.ms,
      queries: 1,
      k,
      ef,
      filter: digit,
      ids: shown,
      labels,
    },
  });
}

/** Removes the shown results from the live index, then searches again. */
async function removeShown(): Promise<void> {
  const { index } = ready();
  if (removedFrom !== index) {
    removed.clear();
    removedFrom = index;
  }
  index.remove(shown);
  for (const id of shown) removed.add(id);
  app.indexBytes = serializeIndex(index);
  liveChanged(`Removed ${shown.length} items: ${index.size.toLocaleString('en')} live.`);
  await searchPicked();
}

/** Adds every removed item back (same vectors and labels, same slots). */
async function addBack(): Promise<void> {
  const { index, data } = ready();
  if (removedFrom !== index || removed.size === 0) return;
  const rows = [...removed].sort((a, b) => a - b);
  const vectors = new Float32Array(rows.length * data.base.dim);
  for (const [i, row] of rows.entries()) vectors.set(data.base.get(row) as Float32Array, i * data.base.dim);
  const labels = data.baseLabels ? rows.map((row) => data.baseLabels![row]!) : undefined;
  const ids = index.add(new DenseDataset(vectors, data.base.dim), undefined, { labels });
  if (ids.some((id, i) => id !== rows[i])) throw new Error('the index gave the items other ids than their rows');
  removed.clear();
  app.indexBytes = serializeIndex(index);
  liveChanged(`Added ${rows.length} items back: ${index.size.toLocaleString('en')} live.`);
  await searchPicked();
}

function liveChanged(message: string): void {
  $('live-info').textContent = message;
  $<HTMLButtonElement>('add-back').disabled = removed.size === 0;
  update({ removed: removed.size });
}

async function searchEvery(): Promise<void> {
  const { index, data } = ready();
  const truth = await app.truth!;
  const k = readInt('k', 1, Math.min(truth.gt.dim, index.size), 'k');
  const ef = readInt('ef', 1, 4096, 'ef');
  const backend = backendChoice();
  const r = await searchAll(index, data.queries, k, ef, backend, app.gpu);
  const recall = recallAtK(r.ids, k, truth.gt, { scores: r.scores });
  const nq = data.queries.size;
  const qps = (nq * 1000) / Math.max(r.ms, 1e-3);
  describe(r, backend, `${nq} queries in one batch, ${formatMs(r.ms)} (${qps.toFixed(0)} QPS)`, recall, k);
  if (pick.kind === 'query') {
    const q = queryVector();
    const at = pick.i * k;
    const exact = truth.gt.data.slice(pick.i * truth.gt.dim, pick.i * truth.gt.dim + k);
    showTiles(q.vector, q.title, q.label, r.ids.slice(at, at + k), r.scores.slice(at, at + k), exact);
  }
  update({ lastSearch: { mode: 'all', backend: r.backend, requested: backend, recall, latencyMs: r.ms, queries: nq, k, ef } });
}

async function compare(): Promise<void> {
  const { index, data } = ready();
  const truth = await app.truth!;
  const backends: Backend[] = app.gpu ? ['gpu', 'cpu'] : ['cpu'];
  const info = $('compare-info');
  const start = performance.now();
  update({ sweeping: true, chartReady: false });
  try {
    const canvas = $<HTMLCanvasElement>('chart');
    $('chart-empty').hidden = true;
    const series = await runSweep(
      index,
      data.queries,
      truth.gt,
      backends,
      app.gpu,
      (done, total, what) => {
        info.textContent = `Measuring ${Math.min(done + 1, total)} / ${total}: ${what}…`;
      },
      (partial) => drawChart(canvas, partial),
    );
    drawChart(canvas, series);
    const nq = Math.min(data.queries.size, SWEEP_QUERIES);
    info.textContent =
      `${series.length} curves, ef ∈ {${SWEEP_EF.join(', ')}}, measured in ${((performance.now() - start) / 1000).toFixed(1)} s. ` +
      `Solid: ${nq} queries in one batched call (on the GPU: resident, the whole search in one kernel and one round trip; hybrid, the beam on the CPU and one round trip per round); ` +
      'dashed: one query per call (as many of them as fit in about 2 s per point).' +
      (app.gpu ? '' : ' WebGPU is not available here: CPU only.');
    update({ chartReady: true, sweep: series.map((s) => ({ label: s.label, points: s.points })) });
  } finally {
    update({ sweeping: false });
  }
}

/**
 * The index now searches other vectors over the same graph and items (the store panel): its
 * removals carry over, so the live changes follow it; the results shown came from the old one.
 */
export function storeChanged(previous: HnswIndex, next: HnswIndex): void {
  if (removedFrom === previous) removedFrom = next;
  $('results').replaceChildren();
  $('search-info').textContent = '';
  shown = [];
  $<HTMLButtonElement>('remove-shown').disabled = true;
  update({ lastSearch: null });
}

export function resetResults(): void {
  $('results').replaceChildren();
  $('search-info').textContent = '';
  const data = app.data;
  const input = $<HTMLInputElement>('query');
  if (data) {
    input.max = String(data.queries.size - 1);
    $('query-count').textContent = `of ${data.queries.size} (${data.queryNote})`;
    if (Number(input.value) >= data.queries.size) input.value = '0';
    pick = { kind: 'query', i: Number(input.value) };
  }
  $('pick-label').textContent = '';
  removed.clear();
  removedFrom = null;
  shown = [];
  $<HTMLButtonElement>('remove-shown').disabled = true;
  $<HTMLButtonElement>('add-back').disabled = true;
  update({ lastSearch: null, removed: 0 });
}

export function initSearchPanel(): void {
  const input = $<HTMLInputElement>('query');
  input.addEventListener('input', () => {
    const i = Number(input.value);
    if (app.data && Number.isInteger(i) && i >= 0 && i < app.data.queries.size) pick = { kind: 'query', i };
    $('pick-label').textContent = '';
  });
  const random = $<HTMLButtonElement>('random');
  random.addEventListener('click', () => {
    if (!app.data) return;
    pick = { kind: 'base', i: Math.floor(Math.random() * app.data.base.size) };
    $('pick-label').textContent = `Using base item ${pick.i}.`;
    if (app.index) void action(random, 'Search failed', searchPicked);
  });
  const one = $<HTMLButtonElement>('search');
  one.addEventListener('click', () => void action(one, 'Search failed', searchPicked));
  const all = $<HTMLButtonElement>('search-all');
  all.addEventListener('click', () => void action(all, 'Search failed', searchEvery));
  const removeButton = $<HTMLButtonElement>('remove-shown');
  removeButton.addEventListener('click', () => void action(removeButton, 'Remove failed', removeShown));
  const addButton = $<HTMLButtonElement>('add-back');
  addButton.addEventListener('click', () => void action(addButton, 'Add failed', addBack));
  const cmp = $<HTMLButtonElement>('compare');
  cmp.addEventListener('click', () => void action(cmp, 'Comparison failed', compare));
}
