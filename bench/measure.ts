import type { DenseDataset } from '../src/data/dense.js';
import type { Metric } from '../src/types.js';
import type { GroundTruth } from './datasets.js';
import type { SearchMode } from './peers.js';

export interface SweepPoint {
  ef: number;
  /** recall@k, a returned id whose exact score ties the k-th true score counting as correct. */
  recall: number;
  /** Plain |returned ∩ true top-k| / k. */
  recallStrict: number;
  /** Queries per second of the fastest timed pass over all queries (least disturbed by other load). */
  qps: number;
  /** Queries per second over all timed passes. */
  qpsMean: number;
  /** Timed passes over the query set and their total time. */
  passes: number;
  timedMs: number;
}

export interface ModeResult {
  mode: string;
  points: SweepPoint[];
}

/** Exact internal distance (smaller is better: squared L2 or -ip), in float64. */
export function exactDistance(metric: Metric, a: Float32Array, b: Float32Array): number {
  let s = 0;
  if (metric === 'l2') {
    for (let i = 0; i < a.length; i++) {
      const d = a[i]! - b[i]!;
      s += d * d;
    }
    return s;
  }
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return -s;
}

/**
 * recall@k of `ids` (row q at [q*k, (q+1)*k)). Tie rule: a returned id outside the true top-k
 * still counts when its exact distance is no worse than the worst of the true top-k (computed
 * the same way, with a 1e-9 relative slack), since either is a correct k-th neighbour.
 */
export function recallAtK(
  ids: Int32Array,
  k: number,
  gt: GroundTruth,
  base: DenseDataset,
  queries: DenseDataset,
  metric: Metric,
): { recall: number; recallStrict: number } {
  const nq = ids.length / k;
  let hits = 0;
  let strict = 0;
  for (let q = 0; q < nq; q++) {
    const truth = new Set<number>();
    let worst = -Infinity;
    const qv = queries.get(q);
    for (let i = 0; i < k; i++) {
      const id = gt.ids[q * gt.depth + i]!;
      truth.add(id);
      worst = Math.max(worst, exactDistance(metric, qv, base.get(id)));
    }
    const limit = worst + 1e-9 * Math.abs(worst);
    const seen = new Set<number>();
    let h = 0;
    for (let i = 0; i < k; i++) {
      const id = ids[q * k + i]!;
      if (id < 0 || seen.has(id)) continue;
      seen.add(id);
      if (truth.has(id)) {
        h++;
        strict++;
      } else if (exactDistance(metric, qv, base.get(id)) <= limit) h++;
    }
    hits += Math.min(h, k);
  }
  return { recall: hits / (nq * k), recallStrict: strict / (nq * k) };
}

export interface SweepOptions {
  efs: readonly number[];
  k: number;
  warmup: number;
  minTimeMs: number;
  minPasses: number;
}

/**
 * For every ef and mode: an untimed warmup on the first queries, then whole timed passes over
 * all queries, at least minPasses and until minTimeMs has passed. QPS is taken from the fastest
 * pass (the machine is shared, slower passes mostly measure other load); the first pass's
 * answers give recall.
 */
export async function sweep(
  modes: SearchMode[],
  queries: DenseDataset,
  opts: SweepOptions,
  score: (ids: Int32Array) => { recall: number; recallStrict: number },
  log: (line: string) => void,
): Promise<ModeResult[]> {
  const nq = queries.size;
  for (const m of modes) m.prepare(queries);
  const results: ModeResult[] = modes.map((m) => ({ mode: m.name, points: [] }));
  for (const ef of opts.efs) {
    for (let i = 0; i < modes.length; i++) {
      const mode = modes[i]!;
      mode.setEf(ef);
      if (opts.warmup > 0) await mode.searchAll(Math.min(opts.warmup, nq), opts.k);
      let first: unknown = null;
      let timedQueries = 0;
      let timedMs = 0;
      let bestMs = Infinity;
      let passes = 0;
      do {
        const t0 = performance.now();
        const raw = await mode.searchAll(nq, opts.k);
        const ms = performance.now() - t0;
        timedMs += ms;
        bestMs = Math.min(bestMs, ms);
        timedQueries += nq;
        passes++;
        first ??= raw;
      } while (passes < opts.minPasses || timedMs < opts.minTimeMs);
      const r = score(mode.ids(first, nq, opts.k));
      const point: SweepPoint = { ef, ...r, qps: (nq / bestMs) * 1000, qpsMean: (timedQueries / timedMs) * 1000, passes, timedMs };
      results[i]!.points.push(point);
      log(`${mode.name.padEnd(18)} ef=${String(ef).padStart(4)}  recall@${opts.k}=${point.recall.toFixed(4)}  qps=${point.qps.toFixed(0)}`);
    }
  }
  return results;
}

/**
 * Like sweep, but per ef the modes take turns pass by pass (rounds of one timed pass of each
 * mode, the starting mode rotating), so a burst of load from other processes falls on all of
 * them alike instead of on whichever mode was running: used where modes are compared with each
 * other (the PQ part). Rounds repeat until every mode has at least minPasses passes and
 * minTimeMs of timed passes; each mode's QPS is its fastest pass, recall from its first.
 */
export async function sweepInterleaved(
  modes: SearchMode[],
  queries: DenseDataset,
  opts: SweepOptions,
  score: (ids: Int32Array) => { recall: number; recallStrict: number },
  log: (line: string) => void,
): Promise<ModeResult[]> {
  const nq = queries.size;
  for (const m of modes) m.prepare(queries);
  const results: ModeResult[] = modes.map((m) => ({ mode: m.name, points: [] }));
  for (const ef of opts.efs) {
    const first: unknown[] = modes.map(() => null);
    const timedMs = modes.map(() => 0);
    const bestMs = modes.map(() => Infinity);
    for (const mode of modes) {
      mode.setEf(ef);
      if (opts.warmup > 0) await mode.searchAll(Math.min(opts.warmup, nq), opts.k);
    }
    let rounds = 0;
    do {
      for (let j = 0; j < modes.length; j++) {
        const i = (rounds + j) % modes.length;
        const t0 = performance.now();
        const raw = await modes[i]!.searchAll(nq, opts.k);
        const ms = performance.now() - t0;
        timedMs[i]! += ms;
        bestMs[i] = Math.min(bestMs[i]!, ms);
        first[i] ??= raw;
      }
      rounds++;
    } while (rounds < opts.minPasses || Math.min(...timedMs) < opts.minTimeMs);
    for (let i = 0; i < modes.length; i++) {
      const mode = modes[i]!;
      const r = score(mode.ids(first[i], nq, opts.k));
      const point: SweepPoint = {
        ef,
        ...r,
        qps: (nq / bestMs[i]!) * 1000,
        qpsMean: ((nq * rounds) / timedMs[i]!) * 1000,
        passes: rounds,
        timedMs: timedMs[i]!,
      };
      results[i]!.points.push(point);
      log(
        `${mode.name.padEnd(22)} ef=${String(ef).padStart(4)}  recall@${opts.k}=${point.recall.toFixed(4)}  qps=${point.qps.toFixed(0)}  (${rounds} interleaved passes)`,
      );
    }
  }
  return results;
}

/**
 * QPS at `target` recall: linear interpolation (in recall) between the two consecutive sweep
 * points (by ef) that bracket the target. Null when the sweep never crosses it; when even the
 * smallest ef is above the target, that point's QPS is returned as a lower bound.
 */
export function qpsAtRecall(points: readonly SweepPoint[], target: number): { qps: number | null; note: string } {
  const ps = [...points].sort((a, b) => a.ef - b.ef);
  if (ps.length === 0) return { qps: null, note: 'no points' };
  if (ps[0]!.recall >= target) return { qps: ps[0]!.qps, note: `lower bound: ef=${ps[0]!.ef} already reaches ${ps[0]!.recall.toFixed(4)}` };
  for (let i = 0; i + 1 < ps.length; i++) {
    const a = ps[i]!;
    const b = ps[i + 1]!;
    if (a.recall < target && b.recall >= target) {
      const t = (target - a.recall) / (b.recall - a.recall);
      return { qps: a.qps + t * (b.qps - a.qps), note: `between ef=${a.ef} and ef=${b.ef}` };
    }
  }
  return { qps: null, note: `never reaches ${target} (max ${Math.max(...ps.map((p) => p.recall)).toFixed(4)})` };
}

export interface MemorySnapshot {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Memory after a full GC (needs node --expose-gc; the bench forks its workers with it). */
export async function memoryAfterGc(): Promise<MemorySnapshot> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}
