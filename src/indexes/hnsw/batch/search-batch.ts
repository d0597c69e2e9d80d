import type { BatchSearchResult, Dataset, Vector } from '../../../types.js';
import { HostTimer } from '../../../util/host-timer.js';
import type { Snapshot } from '../snapshot.js';
import { BatchRun } from './batch-run.js';
import { searchOnCpu } from './cpu-runner.js';
import { searchOnHybrid } from './hybrid.js';
import { searchAuto, searchOnResident } from './resident-runner.js';
import type { HnswBatchParams, ResolvedSearch } from './search-params.js';
import { planSearch } from './search-plan.js';

/**
 * searchBatch of HnswIndex, over one snapshot from start to end: plans the call once (see
 * SearchPlan), then follows the plan's route: on the CPU a loop of the single-query search
 * (on worker threads, or on this thread yielding to the event loop every 20 ms); on the GPU
 * the resident kernel or the hybrid lockstep controller; with 'auto', whichever the
 * measurements favour. Results carry ids and keys as the snapshot knows them.
 */
export async function searchHnswBatch(
  snap: Snapshot,
  queries: Dataset | readonly Vector[],
  search: ResolvedSearch,
  params: HnswBatchParams,
): Promise<BatchSearchResult> {
  const timer = new HostTimer();
  const plan = await planSearch(snap, queries, search, params, timer);
  const run = new BatchRun(snap, plan, timer);
  // A GPU route runs on the call's own context (plan.gpu): its device waits stop this timer.
  const route = plan.route;
  switch (route.kind) {
    case 'cpu':
      await searchOnCpu(run, 0, plan.queries.size);
      break;
    case 'resident':
      await searchOnResident(run, route.ctx, route.searcher, 0);
      break;
    case 'auto':
      await searchAuto(run, route.ctx, route.searcher);
      break;
    case 'hybrid':
      await searchOnHybrid(run, route);
      break;
  }
  const r = run.result();
  const { ids, keys } = snap.results(r.ids, r.scores);
  return { ...r, ids, ...(keys ? { keys } : {}) };
}
