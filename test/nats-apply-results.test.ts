import { describe, expect, test } from 'vitest';
import { ApplyResults } from '../src/serve/nats/apply-results.js';

describe('ApplyResults (what a replica remembers of the changes it applied)', () => {
  const refusal = (seq: number) => ({ code: 'INVALID_ARGUMENT', message: `change ${seq} refused` });

  test('applied and refused changes since the start are known; those the start held, and those not handled yet, are not', () => {
    const r = new ApplyResults(10);
    expect(r.seq).toBe(10);
    r.record(11, null);
    r.record(12, refusal(12));
    r.record(13, null);
    expect(r.seq).toBe(13);
    expect(r.outcome(11)).toEqual({ outcome: 'applied' });
    expect(r.outcome(12)).toEqual({ outcome: 'refused', refusal: refusal(12) });
    expect(r.outcome(13)).toEqual({ outcome: 'applied' });
    expect(r.outcome(10)).toEqual({ outcome: 'unknown' });
    expect(r.outcome(1)).toEqual({ outcome: 'unknown' });
    expect(r.outcome(14)).toEqual({ outcome: 'unknown' });
  });

  test('past the refusals it keeps, the oldest are forgotten and everything up to them becomes unknown', () => {
    const r = new ApplyResults(0, 2);
    for (let seq = 1; seq <= 6; seq++) r.record(seq, seq % 2 === 0 ? refusal(seq) : null);
    // Refusals 2, 4, 6: 2 is forgotten, so changes 1 and 2 are unknown; 3.. are known.
    expect(r.outcome(1)).toEqual({ outcome: 'unknown' });
    expect(r.outcome(2)).toEqual({ outcome: 'unknown' });
    expect(r.outcome(3)).toEqual({ outcome: 'applied' });
    expect(r.outcome(4)).toEqual({ outcome: 'refused', refusal: refusal(4) });
    expect(r.outcome(6)).toEqual({ outcome: 'refused', refusal: refusal(6) });
  });
});
