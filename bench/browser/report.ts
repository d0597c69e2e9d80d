/** The browser bench's result records and printed tables. */
import { qpsAtRecall, type SweepPoint } from '../measure.js';
import type { BrowserLib, BrowserPoint, OpenInfo, SaveInfo } from './protocol.js';

export interface LibResult {
  lib: BrowserLib;
  describe: string;
  buildMs: number;
  points: BrowserPoint[];
  /** QPS at recall@k 0.95, interpolated between the sweep points that bracket it (bench/measure.ts qpsAtRecall). */
  qpsAt095: { qps: number | null; note: string };
  /** edgevec only: its beam set its own way (see edgevec-control.ts); null for the others or when off. */
  control: EdgevecControl | null;
  save: SaveInfo;
  open: Omit<OpenInfo, 'ids'>;
  /** Share of the check queries' ids (at the check ef) that are the same after the reload and open as before the save; null when it did not open. */
  idsAgreeAfterOpen: number | null;
}

export interface EdgevecControl {
  choice: 'bracket' | 'list';
  /**
   * Per ef: a build with ef_search = ef searched for k results, and the sweep's index searched
   * for max(k, ef) (sweepQps), their timed loops taking turns; the share of ids the same both ways.
   */
  points: { ef: number; buildMs: number; point: BrowserPoint; idsSame: number; sweepQps: number | null }[];
  /** QPS at recall 0.95 from the control points (interpolated as qpsAt does). */
  qpsAt095: { qps: number | null; note: string };
}

export interface OpfsResult {
  n: number;
  trials: number;
  bytes: number;
  /** Medians over the trials (each after a page reload). */
  openIndexMs: number;
  firstSearchMs: number;
  totalMs: number;
  readMs: number;
  decodeMs: number;
  splitFirstSearchMs: number;
  /** The file's CRC-32 alone, timed apart: part of what decoding (and openIndex) spends. */
  crcMs: number;
  targetMs: number;
  met: boolean;
  raw: unknown;
}

export function qpsAt(points: readonly BrowserPoint[], target: number): { qps: number | null; note: string } {
  const asSweep: SweepPoint[] = points.map((p) => ({ ...p, qpsMean: p.qps }));
  return qpsAtRecall(asSweep, target);
}

const fmt = (v: number, digits = 0) => v.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Markdown: recall@k / QPS per ef, one column per library. */
export function sweepTable(dataset: string, results: readonly LibResult[], k: number): string {
  const efs = [...new Set(results.flatMap((r) => r.points.map((p) => p.ef)))].sort((a, b) => a - b);
  const head = `| ef | ${results.map((r) => r.lib).join(' | ')} |`;
  const rule = `| --- | ${results.map(() => '---').join(' | ')} |`;
  const rows = efs.map((ef) => {
    const cells = results.map((r) => {
      const p = r.points.find((x) => x.ef === ef);
      return p ? `${p.recall.toFixed(4)} / ${fmt(p.qps)}` : '';
    });
    return `| ${ef} | ${cells.join(' | ')} |`;
  });
  return [`${dataset}: recall@${k} / QPS (median of the timed loops), one thread, headless Chromium`, '', head, rule, ...rows].join('\n');
}

/** Markdown: build, QPS at 0.95, save, open, bytes per library. */
export function libTable(results: readonly LibResult[]): string {
  const lines = [
    '| library | build s | QPS @ 0.95 | save ms | lib init ms | open ms | first search ms | stored MiB | ids after open |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const q =
      r.qpsAt095.qps === null ? `— (${r.qpsAt095.note})` : fmt(r.qpsAt095.qps) + (r.qpsAt095.note.startsWith('lower') ? ' (≥)' : '');
    const saved = r.save.error === null;
    const saveMs = saved ? fmt(r.save.saveMs!) : 'fails';
    const stored = saved ? fmt(r.save.bytesStored! / 2 ** 20, 1) : '—';
    const opened = r.open.error === null;
    const open = opened ? fmt(r.open.openMs!) : 'fails';
    const first = opened ? fmt(r.open.firstSearchMs!, 1) : '—';
    const same = opened ? `${fmt(100 * r.idsAgreeAfterOpen!, 1)} % same` : '—';
    lines.push(
      `| ${r.lib} | ${fmt(r.buildMs / 1000, 1)} | ${q} | ${saveMs} | ${fmt(r.open.libInitMs)} | ${open} | ${first} | ${stored} | ${same} |`,
    );
  }
  for (const r of results) if (r.save.error !== null) lines.push('', `${r.lib}: ${r.save.error}`);
  for (const r of results) if (r.open.error !== null && r.save.error === null) lines.push('', `${r.lib}: ${r.open.error}`);
  for (const r of results) {
    if (!r.control) continue;
    for (const c of r.control.points) {
      const vs =
        c.sweepQps === null ? '' : `, ${(c.point.qps / c.sweepQps).toFixed(2)}x the sweep index's ${fmt(c.sweepQps)} (timed in turns)`;
      lines.push(
        '',
        `${r.lib} control at ef ${c.ef} (built with ef_search = ${c.ef}, searched for k): recall ${c.point.recall.toFixed(4)}, ${fmt(c.point.qps)} QPS${vs}; ids the same as the sweep's for ${fmt(100 * c.idsSame, 1)} %`,
      );
    }
    const q = r.control.qpsAt095;
    lines.push('', `${r.lib} QPS @ 0.95 with its beam set its own way: ${q.qps === null ? '—' : fmt(q.qps)} (${q.note})`);
  }
  return lines.join('\n');
}

export function opfsTable(r: OpfsResult): string {
  return [
    `OPFS open target: webannolo, MNIST ${fmt(r.n)} (${fmt(r.bytes / 2 ** 20, 1)} MiB file), medians of ${r.trials} page reloads each`,
    '',
    '| step | ms |',
    '| --- | --- |',
    `| openIndex(name) | ${fmt(r.openIndexMs)} |`,
    `| first search | ${fmt(r.firstSearchMs, 1)} |`,
    `| **total** (target ≤ ${r.targetMs}) | **${fmt(r.totalMs)}** (${r.met ? 'met' : 'missed'}) |`,
    `| split: read the file from OPFS (getFile + arrayBuffer) | ${fmt(r.readMs)} |`,
    `| split: deserializeIndex of those bytes | ${fmt(r.decodeMs)} |`,
    `| split: first search | ${fmt(r.splitFirstSearchMs, 1)} |`,
    `| (apart: the file's CRC-32 alone, part of decoding) | ${fmt(r.crcMs)} |`,
  ].join('\n');
}
