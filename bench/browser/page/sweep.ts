/**
 * One point of the ef sweep: an untimed warm-up, then `repeats` timed loops, each of whole
 * passes over all queries until minTimeMs has passed; QPS is the median loop's, recall comes
 * from the first timed pass (every pass gives the same answers).
 */
import type { DenseDataset } from '../../../src/data/dense.js';
import type { GroundTruth } from '../../datasets.js';
import { recallAtK } from '../../measure.js';
import type { BrowserPoint, SweepSpec } from '../protocol.js';
import type { PageAdapter } from './adapter.js';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** What the scoring needs: the base and queries, their ground truth and metric. */
export interface Scoring {
  base: DenseDataset;
  queries: DenseDataset;
  gt: GroundTruth;
  metric: 'l2' | 'ip';
}

/** A point's timed loops as they accumulate. */
class Loops {
  first: unknown = null;
  qpsRuns: number[] = [];
  passes = 0;
  timedMs = 0;

  /** One timed loop: whole passes over the queries until minTimeMs has passed. */
  run(adapter: PageAdapter, nq: number, spec: SweepSpec): void {
    let ms = 0;
    let searched = 0;
    do {
      const t0 = performance.now();
      const raw = adapter.searchAll(nq, spec.k);
      ms += performance.now() - t0;
      searched += nq;
      this.passes++;
      this.first ??= raw;
    } while (ms < spec.minTimeMs);
    this.timedMs += ms;
    this.qpsRuns.push((searched / ms) * 1000);
  }

  point(adapter: PageAdapter, s: Scoring, spec: SweepSpec): BrowserPoint {
    const nq = s.queries.size;
    const { recall, recallStrict } = recallAtK(adapter.ids(this.first, nq, spec.k), spec.k, s.gt, s.base, s.queries, s.metric);
    return {
      ef: spec.ef,
      recall,
      recallStrict,
      qps: median(this.qpsRuns),
      qpsRuns: this.qpsRuns,
      passes: this.passes,
      timedMs: this.timedMs,
    };
  }
}

function warm(adapter: PageAdapter, nq: number, spec: SweepSpec): void {
  adapter.setEf(spec.ef);
  if (spec.warmup > 0) adapter.searchAll(Math.min(spec.warmup, nq), spec.k);
}

export function sweepPoint(adapter: PageAdapter, s: Scoring, spec: SweepSpec): BrowserPoint {
  const nq = s.queries.size;
  warm(adapter, nq, spec);
  const loops = new Loops();
  for (let r = 0; r < spec.repeats; r++) loops.run(adapter, nq, spec);
  return loops.point(adapter, s, spec);
}

/**
 * Two indexes at the same ef, their timed loops taking turns (the first to go alternating), so
 * load from elsewhere on the machine falls on both alike: for comparing them with each other.
 */
export function interleavedPoints(a: PageAdapter, b: PageAdapter, s: Scoring, spec: SweepSpec): [BrowserPoint, BrowserPoint] {
  const nq = s.queries.size;
  warm(a, nq, spec);
  warm(b, nq, spec);
  const la = new Loops();
  const lb = new Loops();
  for (let r = 0; r < spec.repeats; r++) {
    if (r % 2 === 0) {
      la.run(a, nq, spec);
      lb.run(b, nq, spec);
    } else {
      lb.run(b, nq, spec);
      la.run(a, nq, spec);
    }
  }
  return [la.point(a, s, spec), lb.point(b, s, spec)];
}
