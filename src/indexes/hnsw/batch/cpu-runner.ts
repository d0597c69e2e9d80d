import { yieldToEventLoop } from '../../../util/yield.js';
import { searchOnWorkers } from '../workers/parallel-search.js';
import type { BatchRun } from './batch-run.js';

/** Milliseconds of CPU search between event-loop turns. */
const CPU_SLICE_MS = 20;

/**
 * Queries [from, to) on the CPU: on worker threads when the plan has several threads and
 * there are several queries (and the snapshot's stores can be shared), else one at a time on
 * this thread, yielding to the event loop every 20 ms. `inline` keeps them on this thread.
 *
 * A worker that dies mid-batch (or a pool closed meanwhile) costs no results: the queries it
 * had not finished are searched here, with the same code and snapshot, so the results equal a
 * one-thread search. The record then counts the workers that finished plus this thread.
 */
export async function searchOnCpu(run: BatchRun, from: number, to: number, inline = false): Promise<void> {
  const { plan, searcher } = run;
  const attachment = !inline && plan.threads > 1 && to - from > 1 ? run.snap.workers() : null;
  if (attachment !== null) {
    const searched = searchOnWorkers(
      attachment,
      searcher.graph,
      plan.queries,
      from,
      to,
      plan.search,
      plan.threads,
      run.ids,
      run.scores,
      run.reranked,
      plan.filters,
    );
    const { threads, undone } = await run.timer.wait(searched);
    if (undone.length > 0) await searchHere(run, undone.length, (i) => undone[i]!);
    run.ran.cpu(threads + (undone.length > 0 ? 1 : 0));
    return;
  }
  await searchHere(run, to - from, (i) => from + i);
  if (to > from) run.ran.cpu(1);
}

/** Searches `count` queries of the batch (row rowAt(i) for the i-th) on this thread. */
async function searchHere(run: BatchRun, count: number, rowAt: (i: number) => number): Promise<void> {
  const { queries, filters } = run.plan;
  const { k, ef, rerank, lambda } = run.plan.search;
  let sliceStart = performance.now();
  for (let i = 0; i < count; i++) {
    const q = rowAt(i);
    run.rerankedAt(q, run.searcher.searchInto(queries.get(q), k, ef, rerank, run.ids, run.scores, q * k, filters?.for(q) ?? null, lambda));
    if (performance.now() - sliceStart > CPU_SLICE_MS && i + 1 < count) {
      await run.timer.wait(yieldToEventLoop());
      sliceStart = performance.now();
    }
  }
}
