import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { closeWorkers } from '../src/index.js';
import { EF, K, opArb, runSequence, totals } from './helpers/living-model.js';

// Model-based concurrency test: random interleavings, with real await points, of add,
// addAsync (this thread, one or two worker threads), remove, update, compact (one or two
// threads), search and searchBatch (this thread or two workers), checked against a plain
// reference map of key -> vector (test/helpers/living-model.ts). Invariants: a search only
// returns keys live (or being added) when it started, each with the score of the vector last
// written for it before then, and no id without a key; every acknowledged key is present; at
// the end every stored vector is the last written and recall@10 at ef 64 against exact search
// over the live items is >= 0.95. WEBANNOLO_CONCURRENCY_RUNS sets the number of sequences
// (default 200); living-concurrency-gpu.test.ts runs batches on the GPU.
const RUNS = Number(process.env.WEBANNOLO_CONCURRENCY_RUNS ?? 200);

describe('a living index under concurrent changes and searches (model-based)', () => {
  afterAll(async () => {
    await closeWorkers();
  });

  it(`${RUNS} random interleavings keep every acknowledged change and every search consistent`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 45 }), (ops) => runSequence(ops, (threads) => ({ threads }))),
      { numRuns: RUNS, seed: 23, endOnFailure: true },
    );
    const recall = totals.hits / Math.max(1, totals.expected);
    console.log(
      `${totals.sequences} sequences: ${totals.searches} searches and ${totals.batches} batches checked, ${totals.asyncAdds} addAsync, ${totals.compacts} compact; final recall@${K} at ef ${EF} = ${recall.toFixed(4)}`,
    );
    expect(totals.sequences).toBeGreaterThanOrEqual(RUNS);
    expect(recall).toBeGreaterThanOrEqual(0.95);
  });
});
