import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { closeWorkers } from '../src/index.js';
import { describeGpu, gpu } from './helpers/gpu.js';
import { EF, K, opArb, runSequence, totals } from './helpers/living-model.js';

// The model-based concurrency test (living-concurrency.test.ts) with its batches on the GPU
// (SwiftShader where there is no GPU): the resident kernel and the hybrid lockstep controller
// alternate, while add, addAsync, remove, update and compact run around them. Fewer sequences
// (WEBANNOLO_CONCURRENCY_GPU_RUNS, default 15): a software GPU is slow.
const RUNS = Number(process.env.WEBANNOLO_CONCURRENCY_GPU_RUNS ?? 15);

describeGpu('a living index under concurrent changes and GPU batches (model-based)', () => {
  afterAll(async () => {
    await closeWorkers();
  });

  it(`${RUNS} random interleavings with GPU batches keep every change and every search consistent`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 30 }), (ops) =>
        runSequence(ops, (threads) => ({ backend: 'gpu', gpu, gpuMode: threads === 1 ? 'resident' : 'hybrid' })),
      ),
      { numRuns: RUNS, seed: 29, endOnFailure: true },
    );
    const recall = totals.hits / Math.max(1, totals.expected);
    console.log(
      `${totals.sequences} sequences: ${totals.searches} searches and ${totals.batches} GPU batches checked, ${totals.asyncAdds} addAsync, ${totals.compacts} compact; final recall@${K} at ef ${EF} = ${recall.toFixed(4)}`,
    );
    console.log('batches by backend:', Object.fromEntries(totals.backends));
    expect(totals.sequences).toBeGreaterThanOrEqual(RUNS);
    expect(totals.backends.get('gpu') ?? 0).toBeGreaterThan(totals.batches / 2);
    expect(recall).toBeGreaterThanOrEqual(0.95);
  });
});
