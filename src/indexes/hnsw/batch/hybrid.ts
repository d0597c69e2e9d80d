import { gpuFaultHandler } from '../../../gpu/select.js';
import type { Dataset } from '../../../types.js';
import type { MaxHeap } from '../../../util/heap.js';
import type { HnswGraph } from '../graph/graph.js';
import type { BatchRun } from './batch-run.js';
import { FaultTolerantEvaluator } from './fault-tolerant.js';
import { BatchController } from './lockstep.js';
import type { HybridRoute } from './search-plan.js';

export interface HybridOptions {
  ef: number;
  width: number;
  /** Queries per lockstep batch. */
  batchSize: number;
}

/**
 * Every query of the run through the hybrid lockstep controller, with up to `route.lanes`
 * batches in flight (one evaluator each). A fault moves the distances to the CPU and is
 * reported once, however many lanes see it.
 */
export async function searchOnHybrid(run: BatchRun, route: HybridRoute): Promise<void> {
  const { queries, options } = run.plan;
  const { k, ef, rerank } = run.plan.search;
  const { ctx, batchSize, width } = route;
  const { searcher } = run;
  const report = ctx ? gpuFaultHandler(ctx, options) : (e: unknown) => options.onFallback?.(e);
  let reported = false;
  const onFault = (e: unknown) => {
    if (reported) return;
    reported = true;
    report(e);
  };
  // Full batches only: splitting one batch across lanes would double its rounds (each round
  // costs a submit), so a batch of at most batchSize queries runs in one lane, alone.
  const busy = Math.max(1, Math.min(route.lanes, Math.ceil(queries.size / batchSize)));
  const evaluators: FaultTolerantEvaluator[] = [];
  for (let i = 0; i < busy; i++)
    evaluators.push(new FaultTolerantEvaluator(route.evaluator(), () => searcher.store.batchEvaluator(), onFault));
  run.ran.accelerator(evaluators[0]!.backend, 'hybrid', ctx);
  try {
    await runLanes(searcher.graph, evaluators, queries, { ef, width, batchSize }, (q, top) => {
      run.rerankedAt(q, searcher.writer.fromHeap(top, queries.get(q), k, rerank, run.ids, run.scores, q * k));
    });
  } finally {
    // A caller's evaluator is the caller's to dispose, unless it failed and was replaced.
    for (const e of evaluators) if (ctx !== null || e.didFailOver) e.dispose();
  }
  if (evaluators.some((e) => e.didFailOver)) run.ran.failedOver();
}

/**
 * The hybrid path: every query in lockstep batches of `batchSize`, the beam on the
 * CPU and each round's distances through an evaluator. With several evaluators (lanes) and
 * more than one batch, that many batches are in flight at once: while the GPU scores one
 * lane's round, the CPU applies another's, so host work and device work overlap. Each lane
 * owns its evaluator (its queries live on the device) and its controller; `emit` receives
 * each query's best candidates.
 */
async function runLanes(
  graph: HnswGraph,
  lanes: readonly FaultTolerantEvaluator[],
  queries: Dataset,
  opts: HybridOptions,
  emit: (query: number, top: MaxHeap) => void,
): Promise<void> {
  const nq = queries.size;
  const batchSize = opts.batchSize;
  let next = 0;
  const lane = async (evaluator: FaultTolerantEvaluator) => {
    const controller = new BatchController(graph);
    while (next < nq) {
      const start = next;
      const count = Math.min(batchSize, nq - start);
      next += count;
      await controller.run(evaluator, queries, start, count, opts, (slot, top) => emit(start + slot, top));
    }
  };
  await Promise.all(lanes.map(lane));
}
