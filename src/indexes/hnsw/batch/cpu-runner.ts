import { yieldToEventLoop } from '../../../util/yield.js';
import { searchOnWorkers } from '../workers/parallel-search.js';
import type { BatchRun } from './batch-run.js';

/** Milliseconds of CPU search between event-loop turns. */
const CPU_SLICE_MS = 20;

/**
 * Queries [from, to) on the CPU: on worker threads when the plan has several threads and
 * there are several queries (and the snapshot's stores can be shared), else one at a time on
 * this thread, yielding to the event loop every 20 ms. `inline` keeps them on this thread.
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
      plan.filters,
    );
    await run.timer.wait(searched);
    run.ran.cpu(plan.threads);
    return;
  }
  const { queries, filters } = plan;
  const { k, ef, rerank, lambda } = plan.search;
  let sliceStart = performance.now();
  for (let q = from; q < to; q++) {
    searcher.searchInto(queries.get(q), k, ef, rerank, run.ids, run.scores, q * k, filters?.for(q) ?? null, lambda);
    if (performance.now() - sliceStart > CPU_SLICE_MS && q + 1 < to) {
      await run.timer.wait(yieldToEventLoop());
      sliceStart = performance.now();
    }
  }
  if (to > from) run.ran.cpu(1);
}
