/**
 * edgevec's beam is set when an index is made (EdgeVecConfig.ef_search); the sweep instead
 * asks one index for max(k, ef) results and keeps k, which runs the same beam (the same top k,
 * checked here) but hands back ef JS objects per query. The control prices that: for chosen
 * efs it builds edgevec again with ef_search = ef and searches for k results, the library's
 * own way, timed in turns with the sweep's index at that ef; edgevec's QPS at recall 0.95 is
 * read from these control points.
 */
import type { Page } from 'playwright-core';
import { call, log } from './driver.js';
import type { BrowserPoint, BuildSpec, SweepSpec } from './protocol.js';
import { type EdgevecControl, qpsAt } from './report.js';

/** 'bracket': the two sweep efs around recall 0.95 (or the first, when it is already above); 'off'; or a list of efs. */
export type ControlChoice = 'bracket' | 'off' | number[];

export function parseControl(value: string): ControlChoice {
  if (value === 'bracket' || value === 'off') return value;
  const efs = value.split(',').map(Number);
  if (efs.some((x) => !Number.isInteger(x) || x < 1))
    throw new Error(`--edgevec-control: 'bracket', 'off' or a list of efs, got '${value}'`);
  return efs;
}

/** The sweep efs whose points bracket `target` recall. */
export function bracket(points: readonly BrowserPoint[], target: number): number[] {
  const ps = [...points].sort((a, b) => a.ef - b.ef);
  if (ps.length === 0) return [];
  if (ps[0]!.recall >= target) return [ps[0]!.ef];
  for (let i = 0; i + 1 < ps.length; i++) if (ps[i]!.recall < target && ps[i + 1]!.recall >= target) return [ps[i]!.ef, ps[i + 1]!.ef];
  return [];
}

export async function edgevecControls(
  page: Page,
  choice: ControlChoice,
  points: readonly BrowserPoint[],
  build: BuildSpec,
  sweep: Omit<SweepSpec, 'ef'>,
  checkQueries: number,
): Promise<EdgevecControl | null> {
  if (choice === 'off') return null;
  const efs = choice === 'bracket' ? bracket(points, 0.95) : choice;
  const out: EdgevecControl = {
    choice: choice === 'bracket' ? 'bracket' : 'list',
    points: [],
    qpsAt095: { qps: null, note: 'no control points' },
  };
  for (const ef of efs) {
    const c = await call(page, 'edgevecControl', build, { ...sweep, ef }, checkQueries);
    const sweepQps = c.sweepIndexPoint.qps;
    out.points.push({ ef, buildMs: c.buildMs, point: c.point, idsSame: c.idsSame, sweepQps });
    log(
      `edgevec control: built with ef_search=${ef} in ${(c.buildMs / 1000).toFixed(1)} s; search(q, ${sweep.k}) recall@${sweep.k}=${c.point.recall.toFixed(4)} qps=${c.point.qps.toFixed(0)}` +
        ` against ${sweepQps.toFixed(0)} for search(q, ${ef}) on the sweep's index, loops taking turns (${(c.point.qps / sweepQps).toFixed(2)}x)` +
        `; top-${sweep.k} ids the same both ways for ${(100 * c.idsSame).toFixed(1)} %`,
    );
  }
  if (out.points.length > 0)
    out.qpsAt095 = qpsAt(
      out.points.map((p) => p.point),
      0.95,
    );
  return out;
}
