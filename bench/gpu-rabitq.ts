/**
 * The GPU bench's RaBitQ lines: the store bytes one query reads on the resident kernel (the
 * rows its distances read, times the distances it computes, counted by the kernel itself) for
 * the plain f32 vectors and for RaBitQ codes of 1 and 4 bits, with recall@10 of the GPU search
 * with and without re-ranking (plain vectors kept, re-ranked on the CPU).
 */
import type { GpuContext } from '../src/gpu/device.js';
import { ResidentSearcher } from '../src/gpu/resident/resident-search.js';
import type { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { gpuRowWords } from '../src/quant/rabitq/gpu-pairs.js';
import { RabitqQuantizer } from '../src/quant/rabitq/quantizer.js';
import type { RabitqStore } from '../src/quant/rabitq/store.js';
import { residentKernelFor } from '../src/quant/registry.js';
import type { BenchDataset } from './datasets.js';
import { recallAtK } from './measure.js';

const K = 10;
const RERANK = 40;

export interface StoreBytesPoint {
  store: string;
  ef: number;
  /** Bytes of store data one distance reads on the GPU (a row: code and factors, or the f32 vector). */
  bytesPerDistance: number;
  distancesPerQuery: number;
  bytesPerQuery: number;
  recall: number;
  recallReranked: number | null;
}

/** Mean distances per query of the resident kernel at `ef` (its own counters). */
async function distancesPerQuery(index: HnswIndex, ds: BenchDataset, gpu: GpuContext, ef: number): Promise<number> {
  const { graph, store } = index;
  const width = Math.max(1, Math.min(8, Math.floor(64 / graph.m0)));
  const support = ResidentSearcher.for(gpu, graph, store, () => residentKernelFor(gpu, store), ef, width);
  if (!support.ok) throw new Error(`resident kernel: ${support.reason}`);
  const batch = await support.searcher.search(ds.queries, 0, ds.queries.size, K);
  return batch.distanceCounts.reduce((a, b) => a + b, 0) / ds.queries.size;
}

async function recallOf(index: HnswIndex, ds: BenchDataset, gpu: GpuContext, ef: number, rerank: number): Promise<number> {
  const r = await index.searchBatch(ds.queries, K, { ef, rerank, backend: 'gpu', gpu, gpuMode: 'resident' });
  return recallAtK(r.ids, K, ds.gt, ds.base, ds.queries, ds.metric).recall;
}

/** One point per store (f32, RaBitQ 1 and 4 bits) at `ef`, each logged as a line. */
export async function rabitqStoreBytes(
  plain: HnswIndex,
  ds: BenchDataset,
  gpu: GpuContext,
  ef: number,
  log: (line: string) => void,
): Promise<StoreBytesPoint[]> {
  const stores: { name: string; index: HnswIndex; rowBytes: number }[] = [
    { name: 'f32', index: plain, rowBytes: 16 * Math.ceil(ds.base.dim / 4) },
  ];
  for (const bits of [1, 4]) {
    const index = plain.quantize(new RabitqQuantizer({ bits }), { keepPlain: true });
    stores.push({ name: `rabitq ${bits}b`, index, rowBytes: 4 * gpuRowWords((index.store as RabitqStore).encoding) });
  }
  const points: StoreBytesPoint[] = [];
  for (const s of stores) {
    const distances = await distancesPerQuery(s.index, ds, gpu, ef);
    const reranks = s.index.rerankStore !== null;
    const p: StoreBytesPoint = {
      store: s.name,
      ef,
      bytesPerDistance: s.rowBytes,
      distancesPerQuery: distances,
      bytesPerQuery: distances * s.rowBytes,
      recall: await recallOf(s.index, ds, gpu, ef, 0),
      recallReranked: reranks ? await recallOf(s.index, ds, gpu, ef, RERANK) : null,
    };
    points.push(p);
    log(
      `  store bytes ${p.store.padEnd(10)} ef ${ef}: ${p.bytesPerDistance} B x ${p.distancesPerQuery.toFixed(0)} distances = ${(p.bytesPerQuery / 1024).toFixed(1)} KiB per query on the GPU; ` +
        `recall@10 ${p.recall.toFixed(4)}${p.recallReranked === null ? '' : `, rerank ${RERANK}: ${p.recallReranked.toFixed(4)}`}`,
    );
  }
  return points;
}
