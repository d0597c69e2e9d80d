import {
  Chart,
  type ChartDataset,
  Legend,
  LinearScale,
  LineElement,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Tooltip,
} from 'chart.js';
import type { Dataset, GroundTruth, HnswIndex } from '../src/index.js';
import type { DemoGpu } from './gpu.js';
import { type Backend, recallOf, searchAll, searchEach, type Timed } from './search.js';

Chart.register(ScatterController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend, Tooltip);

/**
 * The ef sweep: recall@10 against queries per second, per backend and mode: on the CPU batched
 * and one by one; on the GPU the resident kernel (the whole search on the GPU, one round trip
 * per batch), the hybrid controller (beam on the CPU, one round trip per round) and one by one.
 */

export const SWEEP_EF = [10, 20, 40, 80, 160];
const K = 10;
/** Queries in each batched call (the same ones on both backends). */
export const SWEEP_QUERIES = 100;
/** One-at-a-time points stop after this much search time (at least MIN_SINGLE queries). */
const SINGLE_BUDGET_MS = 2000;
const MIN_SINGLE = 8;
/** Fast points are repeated until this much time was measured (best run kept). */
const REPEAT_MS = 300;

export interface SweepPoint {
  ef: number;
  qps: number;
  recall: number;
  queries: number;
}

export interface Series {
  /** e.g. "gpu · resident": the backend the library reported, and the mode. */
  label: string;
  backend: string;
  mode: 'batched' | 'resident' | 'hybrid' | 'single';
  points: SweepPoint[];
}

type Mode = Series['mode'];

const pause = (): Promise<void> => new Promise((res) => setTimeout(res, 0));

/** One point: the fastest of a few runs when a run is quick, so timer noise stays small. */
async function measure(run: () => Promise<Timed>): Promise<Timed> {
  let best = await run();
  let spent = best.ms;
  for (let i = 0; i < 4 && spent < REPEAT_MS; i++) {
    await pause();
    const r = await run();
    spent += r.ms;
    if (r.ms < best.ms) best = r;
  }
  return best;
}

export async function runSweep(
  index: HnswIndex,
  queries: Dataset,
  gt: GroundTruth,
  backends: Backend[],
  gpu: DemoGpu | null,
  onStep: (done: number, total: number, what: string) => void,
  onSeries: (series: Series[]) => void,
): Promise<Series[]> {
  const series: Series[] = [];
  const modesOf = (backend: Backend): Mode[] => (backend === 'gpu' ? ['resident', 'hybrid', 'single'] : ['batched', 'single']);
  const total = backends.reduce((n, b) => n + modesOf(b).length, 0) * SWEEP_EF.length;
  const nq = Math.min(queries.size, SWEEP_QUERIES);
  const batch = Array.from({ length: nq }, (_, i) => queries.get(i));
  let done = 0;
  for (const backend of backends) {
    // Warm up (shader compilation, buffer pools, JIT) before timing.
    await searchAll(index, batch.slice(0, 8), K, SWEEP_EF[0]!, backend, gpu);
    if (backend === 'gpu') await searchAll(index, batch.slice(0, 8), K, SWEEP_EF[0]!, backend, gpu, 'hybrid');
    for (const mode of modesOf(backend)) {
      const s: Series = { label: '', backend: '', mode, points: [] };
      series.push(s);
      const ran = new Set<string>();
      for (const ef of SWEEP_EF) {
        onStep(done, total, `${backend} ${mode}, ef = ${ef}`);
        let rows = nq;
        let r: Timed;
        if (mode !== 'single') {
          const gpuMode = mode === 'hybrid' ? 'hybrid' : undefined;
          r = await measure(() => searchAll(index, batch, K, ef, backend, gpu, gpuMode));
        } else {
          const first = await searchEach(index, queries, nq, K, ef, backend, gpu, { budgetMs: SINGLE_BUDGET_MS, min: MIN_SINGLE });
          rows = first.ids.length / K;
          r = first.ms >= REPEAT_MS ? first : await measure(() => searchEach(index, queries, rows, K, ef, backend, gpu));
        }
        for (const b of r.backend.split(',')) ran.add(b);
        s.points.push({ ef, qps: (rows * 1000) / Math.max(r.ms, 1e-3), recall: recallOf(r, K, gt, rows), queries: rows });
        s.backend = [...ran].join(',');
        s.label = `${s.backend} · ${mode}`;
        done++;
        onSeries(series);
        await pause();
      }
    }
  }
  onStep(total, total, 'done');
  return series;
}

const COLORS: Record<string, string> = { gpu: '#7c3aed', 'gpu/hybrid': '#db2777', cpu: '#0891b2' };

function colorOf(backend: string, mode: Mode): string {
  return COLORS[mode === 'hybrid' ? `${backend}/hybrid` : backend] ?? '#b45309';
}

let chart: Chart<'scatter'> | null = null;

const tickFormat = new Intl.NumberFormat('en', { notation: 'compact' });

/** Labels 1, 2, 5 × 10^n only: a log axis with every tick labelled is unreadable. */
function logTick(v: number): string {
  if (!(v > 0)) return '';
  const mantissa = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  return [1, 2, 5].some((t) => Math.abs(mantissa - t) < 1e-6) ? tickFormat.format(v) : '';
}

/** Draws (or redraws) the sweep; the chart is on the canvas when this returns (no animation). */
export function drawChart(canvas: HTMLCanvasElement, series: Series[]): Chart<'scatter'> {
  chart?.destroy();
  const datasets: ChartDataset<'scatter'>[] = series.map((s) => ({
    label: s.label,
    data: s.points.map((p) => ({ x: p.qps, y: p.recall, ef: p.ef, n: p.queries })),
    showLine: true,
    borderColor: colorOf(s.backend, s.mode),
    backgroundColor: colorOf(s.backend, s.mode),
    borderDash: s.mode === 'single' ? [6, 4] : [],
    pointStyle: s.mode === 'single' ? 'triangle' : 'circle',
    pointRadius: 4,
    tension: 0,
  }));
  const created = new Chart<'scatter'>(canvas, {
    type: 'scatter',
    data: { datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: {
          type: 'logarithmic',
          title: { display: true, text: 'queries per second (log scale)' },
          ticks: { maxRotation: 0, autoSkip: false, callback: (v) => logTick(Number(v)) },
        },
        y: { title: { display: true, text: 'recall@10' }, suggestedMax: 1 },
      },
      plugins: {
        legend: { position: 'bottom', labels: { usePointStyle: true } },
        tooltip: {
          callbacks: {
            label: (item) => {
              const p = item.raw as { x: number; y: number; ef: number; n: number };
              return `${item.dataset.label}: ef ${p.ef}, ${p.x.toFixed(p.x < 10 ? 1 : 0)} QPS, recall ${p.y.toFixed(3)} (${p.n} queries)`;
            },
          },
        },
      },
    },
  });
  chart = created;
  return created;
}
