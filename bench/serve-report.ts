/**
 * The report of the service benchmark (bench/serve.ts): the targets as ratios between runs of
 * the same process, and the table it prints.
 */
import type { BodyKind, LoadResult } from './serve-load.js';
import type { ShardRun } from './serve-shards.js';

/** One measured autocannon run and the server's mean batch size over it (null: no batch metrics, say a gateway). */
export type Measured = LoadResult & {
  meanBatch: number | null;
  /** Cores the server's processes (a gateway and its replicas together) kept busy over the measured run. */
  serverCores: number | null;
  /** The machine's 1-minute load average after the run (this run's own processes count in it). */
  loadAverage1: number;
};

/** The query batcher: the server's defaults, `--max-batch 1`, or the defaults with `--max-wait-ms` > 0. */
export type Batching = 'on' | 'off' | 'on+wait';

export interface HttpRun {
  readonly batching: Batching;
  /** The server's --max-wait-ms (0: its default). */
  readonly maxWaitMs: number;
  readonly body: BodyKind;
  readonly concurrency: number;
  /** Share of the in-process index's top-k ids of queries 0..9 in the server's answers (1: the same results). */
  readonly overlap: number;
  readonly load: Measured;
}

/** `searchBatch` QPS over every query on the server's threads: the median of three timed loops. */
export interface CeilingRun {
  readonly qps: number;
  readonly runs: number[];
}

export interface InProcess {
  /** The higher of the ceiling measured before the servers' runs and after them (the machine may be shared). */
  readonly ceiling: { qps: number; before: CeilingRun; after: CeilingRun | null };
  /** One `search()` at a time on one thread. */
  readonly single: { p50Ms: number; p99Ms: number; qps: number; searches: number };
  /** A QueryBatcher in the bench's process (the server's defaults and threads) under that many callers: batching without HTTP. */
  readonly batcher: { callers: number; qps: number; meanBatch: number };
}

export interface Ratio {
  readonly value: number | null;
  readonly target: string;
  readonly met: boolean | null;
  readonly what: string;
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? null : +(a / b).toFixed(3);

/** A ratio against its target; `ok` null for a figure without one (met stays null). */
function check(value: number | null, what: string, target: string, ok: ((v: number) => boolean) | null): Ratio {
  return { value, target, met: value === null || ok === null ? null : ok(value), what };
}

/** The targets, from runs of this process only. */
export function ratiosOf(http: readonly HttpRun[], shards: readonly ShardRun[], inProcess: InProcess, shardConcurrency: number) {
  const find = (batching: Batching, body: BodyKind, c: number) =>
    http.find((r) => r.batching === batching && r.body === body && r.concurrency === c)?.load;
  const ceiling = inProcess.ceiling.qps;
  const c1 = (body: BodyKind) => {
    const run = find('on', body, 1);
    const bound = inProcess.single.p99Ms + 1;
    return {
      value: run === undefined ? null : run.p99Ms,
      target: `p99 <= search() p99 + 1 ms = ${bound.toFixed(3)} ms`,
      met: run === undefined ? null : run.p99Ms <= bound,
      what: `${body} at concurrency 1, batching on: p99 (ms); p50 ${run?.p50Ms ?? '-'} ms against search() p50 ${inProcess.single.p50Ms} ms`,
    };
  };
  const shard = (count: number, body: BodyKind) => shards.find((r) => r.shards === count && r.body === body)?.load.rps;
  const most = Math.max(1, ...shards.map((r) => r.shards));
  return {
    jsonC64VsCeiling: check(
      ratio(find('on', 'json', 64)?.rps, ceiling),
      'JSON req/s at c64 / in-process ceiling',
      '>= 0.7',
      (v) => v >= 0.7,
    ),
    binaryC64VsCeiling: check(ratio(find('on', 'binary', 64)?.rps, ceiling), 'binary req/s at c64 / ceiling', '>= 0.8', (v) => v >= 0.8),
    batchingOnVsOffJsonC64: check(
      ratio(find('on', 'json', 64)?.rps, find('off', 'json', 64)?.rps),
      'JSON at c64: batching on / off (req/s)',
      '>= 1.5',
      (v) => v >= 1.5,
    ),
    batchingOnVsOffBinaryC64: check(
      ratio(find('on', 'binary', 64)?.rps, find('off', 'binary', 64)?.rps),
      'binary at c64: batching on / off (req/s)',
      '>= 1.5',
      (v) => v >= 1.5,
    ),
    waitVsOffJsonC64: check(
      ratio(find('on+wait', 'json', 64)?.rps, find('off', 'json', 64)?.rps),
      `JSON at c64: batching with --max-wait-ms ${http.find((r) => r.batching === 'on+wait')?.maxWaitMs ?? '-'} / off (req/s)`,
      '>= 1.5 (as batching on)',
      (v) => v >= 1.5,
    ),
    jsonC1P99: c1('json'),
    binaryC1P99: c1('binary'),
    shardsJson: check(
      ratio(shard(most, 'json'), shard(1, 'json')),
      `JSON at c${shardConcurrency} through the gateway: ${most} shards / 1 shard (req/s)`,
      'none (same 2 cores: the cost of scatter and merge)',
      null,
    ),
    shardsBinary: check(
      ratio(shard(most, 'binary'), shard(1, 'binary')),
      `binary at c${shardConcurrency} through the gateway: ${most} shards / 1 shard (req/s)`,
      'none (same 2 cores: the cost of scatter and merge)',
      null,
    ),
  };
}

const pad = (s: string | number, w: number) => String(s).padStart(w);

/** The table of every run, then the ratios. */
export function printTable(
  http: readonly HttpRun[],
  shards: readonly ShardRun[],
  inProcess: InProcess,
  ratios: Record<string, Ratio>,
): void {
  const ceiling = inProcess.ceiling.qps;
  console.log(
    `\nin-process: searchBatch ceiling ${ceiling} QPS (before the servers ${inProcess.ceiling.before.qps}: ${inProcess.ceiling.before.runs.join(', ')}; after ${inProcess.ceiling.after?.qps ?? '-'}: ${inProcess.ceiling.after?.runs.join(', ') ?? '-'}); one search(): p50 ${inProcess.single.p50Ms} ms, p99 ${inProcess.single.p99Ms} ms; a QueryBatcher alone, ${inProcess.batcher.callers} callers: ${inProcess.batcher.qps} QPS (${(inProcess.batcher.qps / ceiling).toFixed(2)} of the ceiling), mean batch ${inProcess.batcher.meanBatch}`,
  );
  const header = `${'server'.padEnd(22)}${pad('body', 7)}${pad('conc', 6)}${pad('req/s', 8)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('batch', 7)}${pad('/ceil', 7)}${pad('errors', 8)}${pad('same', 6)}${pad('cores srv/cli', 15)}`;
  console.log(header);
  const row = (name: string, body: string, c: number, l: Measured, overlap: number) =>
    console.log(
      `${name.padEnd(22)}${pad(body, 7)}${pad(c, 6)}${pad(l.rps, 8)}${pad(l.p50Ms.toFixed(2), 9)}${pad(l.p99Ms.toFixed(2), 9)}${pad(l.meanBatch ?? '-', 7)}${pad((l.rps / ceiling).toFixed(2), 7)}${pad(l.non2xx + l.errors + l.timeouts, 8)}${pad(overlap, 6)}${pad(`${l.serverCores ?? '-'}/${l.clientCores}`, 15)}`,
    );
  for (const r of http)
    row(
      r.batching === 'on+wait' ? `batching on, wait ${r.maxWaitMs} ms` : `batching ${r.batching}`,
      r.body,
      r.concurrency,
      r.load,
      r.overlap,
    );
  for (const r of shards) row(`gateway, ${r.shards} shard${r.shards > 1 ? 's' : ''}`, r.body, r.concurrency, r.load, r.overlap);
  console.log('');
  for (const r of Object.values(ratios)) {
    const verdict = r.target.startsWith('none') ? '' : r.met === null ? 'not measured' : r.met ? 'met' : 'missed';
    console.log(`${r.what}: ${r.value ?? '-'} (target ${r.target}${verdict ? `: ${verdict}` : ''})`);
  }
}
