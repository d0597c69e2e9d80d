import { AUTO_PROBE_QUERIES, decideAuto, recordResidentSpeed, residentSpeed } from '../../../gpu/auto.js';
import type { GpuContext } from '../../../gpu/device.js';
import type { ResidentBatch, ResidentSearcher } from '../../../gpu/resident/resident-search.js';
import { gpuFaultHandler } from '../../../gpu/select.js';
import { isAllowed } from '../../filter.js';
import type { BatchRun } from './batch-run.js';
import { searchOnCpu } from './cpu-runner.js';

/**
 * Queries [from, to) with the resident kernel; a GPU fault finishes them on the CPU. A
 * filtered batch (plan.filterOn 'gpu') takes each query's whole widened beam and keeps its
 * allowed items; a query left with fewer than min(k, allowed) is searched on the CPU.
 */
export async function searchOnResident(
  run: BatchRun,
  ctx: GpuContext,
  resident: ResidentSearcher,
  from: number,
  to = run.plan.queries.size,
): Promise<void> {
  const { queries, filters } = run.plan;
  const { k, ef, rerank } = run.plan.search;
  const { searcher } = run;
  // As on the CPU, re-ranking draws from the beam: at most ef candidates.
  const outK = filters ? resident.ef : Math.max(k, Math.min(rerank, ef));
  run.ran.accelerator('gpu', 'resident', ctx);
  const perSubmit = resident.queriesPerSubmit(outK);
  for (let start = from; start < to; start += perSubmit) {
    const count = Math.min(perSubmit, to - start);
    let batch: ResidentBatch;
    try {
      const t = performance.now();
      batch = await resident.search(queries, start, count, outK);
      recordResidentSpeed(ctx, searcher.store, resident.ef, (performance.now() - t) / count);
    } catch (error) {
      gpuFaultHandler(ctx, run.plan.options)(error);
      await searchOnCpu(run, start, to);
      return;
    }
    for (let q = 0; q < count; q++) {
      const row = start + q;
      const allowed = filters?.for(row) ?? null;
      const kept = allowed === null ? outK : keepAllowed(batch.ids, batch.dists, q * outK, outK, allowed.bits);
      if (allowed !== null && kept < Math.min(k, allowed.count)) {
        run.rerankedAt(row, searcher.searchInto(queries.get(row), k, ef, rerank, run.ids, run.scores, row * k, allowed));
        run.ran.cpu(1);
        continue;
      }
      const reranked = searcher.writer.fromSorted(
        batch.ids,
        batch.dists,
        q * outK,
        kept,
        queries.get(row),
        k,
        rerank,
        run.ids,
        run.scores,
        row * k,
      );
      run.rerankedAt(row, reranked);
    }
  }
}

/**
 * backend 'auto': times the CPU on the first queries, then lets decideAuto pick the CPU or
 * the resident kernel for the rest (probing the kernel first when its speed on this device
 * is unknown and the batch is large enough).
 */
export async function searchAuto(run: BatchRun, ctx: GpuContext, resident: ResidentSearcher): Promise<void> {
  const nq = run.plan.queries.size;
  const store = run.searcher.store;
  const timed = Math.min(nq, 4);
  const t0 = performance.now();
  await searchOnCpu(run, 0, timed, true);
  // The rest of a CPU batch runs on every thread.
  const cpuMsPerQuery = (performance.now() - t0) / timed / run.plan.threads;
  let from = timed;
  const inputs = () => ({
    remaining: nq - from,
    cpuMsPerQuery,
    roundTripMs: ctx.roundTripMs,
    software: ctx.software,
    gpuMsPerQuery: residentSpeed(ctx, store, resident.ef),
    queriesPerSubmit: 16384,
  });
  let choice = decideAuto(inputs());
  if (choice === 'probe') {
    const t = performance.now();
    await searchOnResident(run, ctx, resident, from, from + AUTO_PROBE_QUERIES);
    from += AUTO_PROBE_QUERIES;
    recordResidentSpeed(ctx, store, resident.ef, (performance.now() - t) / AUTO_PROBE_QUERIES);
    choice = decideAuto(inputs());
  }
  if (choice === 'gpu') await searchOnResident(run, ctx, resident, from);
  else await searchOnCpu(run, from, nq);
}

/**
 * Moves the allowed entries of candidates [from, from + count) (sorted, id -1 ending them) to
 * its front, in order; returns how many there are.
 */
function keepAllowed(ids: Int32Array, dists: Float32Array, from: number, count: number, bits: Uint32Array): number {
  let kept = 0;
  for (let i = 0; i < count; i++) {
    const id = ids[from + i]!;
    if (id < 0) break;
    if (!isAllowed(bits, id)) continue;
    ids[from + kept] = id;
    dists[from + kept] = dists[from + i]!;
    kept++;
  }
  if (kept < count) ids[from + kept] = -1;
  return kept;
}
