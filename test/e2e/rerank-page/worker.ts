/**
 * A dedicated worker that saves a quantized index keeping its plain vectors (SQ8 + f32 for
 * re-ranking) in OPFS, opens it with the re-ranking vectors left in the file, and reports what
 * test/e2e/storage.e2e.ts checks: the same results as the in-memory open, no vectors held, a
 * save and a delete while it is open, and the OPFS files at each step.
 */
import {
  closeIndex,
  DenseDataset,
  deleteIndex,
  HnswIndex,
  listIndexes,
  openIndex,
  RowFileStore,
  ScalarQuantizer,
  saveIndex,
  WebannoloError,
} from '../../../src/index.js';

const NAME = 'rerank e2e';
const N = 3000;
const DIM = 32;
const QUERIES = 40;
const K = 10;

/** What the scenario reports (all plain data: it crosses postMessage). */
export interface ScenarioResult {
  rerankBytes: { disk: number; twice: number; memory: number };
  diskBytes: number;
  storeBytes: { disk: number; memory: number };
  rowFileStore: boolean;
  /** Per `rerank`: ids of single and batched searches equal between disk and memory; largest score gap. */
  same: { rerank: number; single: boolean; batch: boolean; maxScoreGap: number }[];
  /** The quantized index without re-ranking finds other neighbours (the check can fail). */
  rerankChangesResults: boolean;
  files: {
    saved: string[];
    savedAgainWhileOpen: string[];
    oneClosed: string[];
    allClosed: string[];
    deletedWhileOpen: string[];
    deletedAndClosed: string[];
  };
  /** After the save: the open index, and the saved copy opened in memory, search as before. */
  stillSameAfterSave: boolean;
  stillSameAfterDelete: boolean;
  deleted: boolean;
  listedAfterDelete: string[];
  afterClose: { code: string; message: string } | null;
  ms: { open: number; openDisk: number; searchMemory: number; searchDisk: number };
}

function dataset(n: number, seed: number): DenseDataset {
  let s = seed;
  const random = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  return new DenseDataset(Float32Array.from({ length: n * DIM }, random), DIM);
}

/** The files in the default OPFS folder (Chromium's swap files of writes in progress left out). */
async function files(): Promise<string[]> {
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('webannolo', { create: true });
  const names: string[] = [];
  for await (const k of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) if (!k.endsWith('.crswap')) names.push(k);
  return names.sort();
}

function ids(index: HnswIndex, queries: DenseDataset, rerank: number): number[] {
  const out: number[] = [];
  for (let q = 0; q < queries.size; q++) out.push(...index.search(queries.get(q), K, { ef: 100, rerank }).ids);
  return out;
}

async function scenario(): Promise<ScenarioResult> {
  const base = dataset(N, 7);
  const queries = dataset(QUERIES, 8);
  const plain = HnswIndex.build(base, { metric: 'l2', m: 12, efConstruction: 80, seed: 1 });
  const sq8 = plain.quantize(new ScalarQuantizer('sq8'));
  await saveIndex(sq8, NAME);
  const saved = await files();

  let t = performance.now();
  const disk = (await openIndex(NAME, { rerank: 'disk' })) as HnswIndex;
  const openDisk = performance.now() - t;
  // A second reader of the same file in this worker, then the ordinary open beside them.
  const twice = (await openIndex(NAME, { rerank: 'disk' })) as HnswIndex;
  t = performance.now();
  const memory = (await openIndex(NAME)) as HnswIndex;
  const open = performance.now() - t;

  const same: ScenarioResult['same'] = [];
  let searchMemory = 0;
  let searchDisk = 0;
  for (const rerank of [10, 50]) {
    t = performance.now();
    const m = ids(memory, queries, rerank);
    searchMemory += performance.now() - t;
    t = performance.now();
    const d = ids(disk, queries, rerank);
    searchDisk += performance.now() - t;
    const a = await memory.searchBatch(queries, K, { ef: 100, rerank });
    const b = await disk.searchBatch(queries, K, { ef: 100, rerank });
    let gap = 0;
    for (let i = 0; i < a.scores.length; i++) gap = Math.max(gap, Math.abs(a.scores[i]! - b.scores[i]!));
    same.push({
      rerank,
      single: JSON.stringify(d) === JSON.stringify(m) && JSON.stringify(ids(twice, queries, rerank)) === JSON.stringify(m),
      batch: JSON.stringify(Array.from(b.ids)) === JSON.stringify(Array.from(a.ids)),
      maxScoreGap: gap,
    });
  }
  const reference = ids(memory, queries, 50);

  // The open index saved again under its name: its vectors are read back from the file.
  await saveIndex(disk, NAME);
  const savedAgainWhileOpen = await files();
  const resaved = (await openIndex(NAME)) as HnswIndex;
  const stillSameAfterSave =
    JSON.stringify(ids(disk, queries, 50)) === JSON.stringify(reference) &&
    JSON.stringify(ids(resaved, queries, 50)) === JSON.stringify(reference);
  await closeIndex(disk);
  const oneClosed = await files();
  await closeIndex(twice);
  const allClosed = await files();

  const again = (await openIndex(NAME, { rerank: 'disk' })) as HnswIndex;
  const deleted = await deleteIndex(NAME);
  const deletedWhileOpen = await files();
  const listedAfterDelete = (await listIndexes()).map((i) => i.name);
  const stillSameAfterDelete = JSON.stringify(ids(again, queries, 50)) === JSON.stringify(reference);
  await closeIndex(again);
  const deletedAndClosed = await files();
  let afterClose: ScenarioResult['afterClose'] = null;
  try {
    again.search(queries.get(0), K, { rerank: 10 });
  } catch (e) {
    afterClose = { code: (e as WebannoloError).code, message: (e as Error).message };
  }

  return {
    rerankBytes: { disk: disk.memory.rerankBytes, twice: twice.memory.rerankBytes, memory: memory.memory.rerankBytes },
    diskBytes: (disk.rerankStore as RowFileStore).diskBytes,
    storeBytes: { disk: disk.memory.storeBytes, memory: memory.memory.storeBytes },
    rowFileStore: disk.rerankStore instanceof RowFileStore && !(memory.rerankStore instanceof RowFileStore),
    same,
    rerankChangesResults: JSON.stringify(ids(memory, queries, 0)) !== JSON.stringify(reference),
    files: { saved, savedAgainWhileOpen, oneClosed, allClosed, deletedWhileOpen, deletedAndClosed },
    stillSameAfterSave,
    stillSameAfterDelete,
    deleted,
    listedAfterDelete,
    afterClose,
    ms: { open, openDisk, searchMemory, searchDisk },
  };
}

/** One step of the two-reader check, run by page.ts in each of two workers. */
export type Step = 'run' | 'save' | 'open' | 'close' | 'delete';

const SHARED = 'rerank shared';
let held: HnswIndex | null = null;

async function step(op: Step): Promise<unknown> {
  if (op === 'run') return scenario();
  if (op === 'save') {
    const plain = HnswIndex.build(dataset(1000, 9), { metric: 'ip', m: 8, efConstruction: 40, seed: 2 });
    return (await saveIndex(plain.quantize(new ScalarQuantizer('sq8')), SHARED)).bytes;
  }
  if (op === 'open') {
    held = (await openIndex(SHARED, { rerank: 'disk' })) as HnswIndex;
    return { rerankBytes: held.memory.rerankBytes, ids: ids(held, dataset(5, 10), 30) };
  }
  if (op === 'close') {
    if (held) await closeIndex(held);
    return null;
  }
  return deleteIndex(SHARED);
}

self.onmessage = async (e: MessageEvent<Step>) => {
  try {
    self.postMessage({ ok: true, result: await step(e.data) });
  } catch (err) {
    self.postMessage({
      ok: false,
      error: err instanceof WebannoloError ? `[${err.code}] ${err.message}` : String((err as Error)?.stack ?? err),
    });
  }
};
