/**
 * The load generator of the service benchmark (bench/serve.ts): autocannon's programmatic API
 * sending one MNIST test query per request (a different one each time, cycling through
 * precomputed JSON bodies or little-endian float32 rows), and the server's /metrics read
 * before and after each measured run for the mean batch size of that run.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DenseDataset } from '../src/data/dense.js';

/** The part of autocannon's API the bench uses (the package ships no types). */
interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  setupRequest?: (req: AutocannonRequest, context: unknown) => AutocannonRequest;
}
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number };
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): void;
}
type Autocannon = (
  options: { url: string; connections: number; duration: number; requests: AutocannonRequest[]; timeout?: number; pipelining?: number },
  done: (err: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export type BodyKind = 'json' | 'binary';

/** One request body per query, built before any load runs. */
export interface Bodies {
  readonly json: readonly Buffer[];
  readonly binary: readonly Buffer[];
  readonly k: number;
  readonly ef: number;
}

/** JSON `{"vector":[...],"k","ef"}` and little-endian float32 rows of every query. */
export function buildBodies(queries: DenseDataset, k: number, ef: number): Bodies {
  const json: Buffer[] = [];
  const binary: Buffer[] = [];
  for (let q = 0; q < queries.size; q++) {
    const row = queries.get(q) as Float32Array;
    json.push(Buffer.from(JSON.stringify({ vector: Array.from(row), k, ef })));
    const bytes = Buffer.alloc(row.length * 4);
    for (let i = 0; i < row.length; i++) bytes.writeFloatLE(row[i]!, i * 4);
    binary.push(bytes);
  }
  return { json, binary, k, ef };
}

/** The request autocannon sends for `kind`, its body the next query's on every request (one counter over all connections). */
function requestOf(kind: BodyKind, bodies: Bodies): AutocannonRequest {
  const list = kind === 'json' ? bodies.json : bodies.binary;
  let next = 0;
  return {
    method: 'POST',
    path: kind === 'json' ? '/search' : `/search?k=${bodies.k}&ef=${bodies.ef}`,
    headers: { 'content-type': kind === 'json' ? 'application/json' : 'application/octet-stream' },
    setupRequest: (req) => {
      const body = list[next]!;
      next = (next + 1) % list.length;
      return { ...req, body };
    },
  };
}

/** What one autocannon run measured (latencies from each response's own time, to the microsecond). */
export interface LoadResult {
  readonly connections: number;
  readonly seconds: number;
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  /** Cores the load generator (this process) kept busy over the run: its CPU seconds / wall seconds. */
  readonly clientCores: number;
}

/** One autocannon run of `seconds` at `connections` connections (each one request in flight). */
export function runLoad(url: string, kind: BodyKind, bodies: Bodies, connections: number, seconds: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16);
    let count = 0;
    const cpu0 = process.cpuUsage();
    const instance = autocannon(
      { url, connections, duration: seconds, requests: [requestOf(kind, bodies)], timeout: 30, pipelining: 1 },
      (err, result) => {
        if (err) {
          reject(err);
          return;
        }
        const cpu = process.cpuUsage(cpu0);
        const sorted = latencies.slice(0, count).sort();
        const at = (f: number) => (count === 0 ? Number.NaN : sorted[Math.min(count - 1, Math.floor(f * count))]!);
        const round = (v: number) => +v.toFixed(3);
        resolve({
          connections,
          seconds: result.duration,
          requests: count,
          rps: +(count / result.duration).toFixed(0),
          p50Ms: round(at(0.5)),
          p90Ms: round(at(0.9)),
          p99Ms: round(at(0.99)),
          maxMs: round(count === 0 ? Number.NaN : sorted[count - 1]!),
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          clientCores: +((cpu.user + cpu.system) / 1e6 / result.duration).toFixed(2),
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status < 200 || status >= 300) return;
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = ms;
    });
  });
}

/** The batch-size histogram's running sum and count on a server's /metrics (null where it has none, say a gateway). */
export interface BatchCounters {
  readonly sum: number;
  readonly count: number;
}

/** Reads `webannolo_search_batch_size_sum` / `_count` from `url`/metrics. */
export async function readBatchCounters(url: string): Promise<BatchCounters | null> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`GET ${url}/metrics: ${res.status}`);
  const text = await res.text();
  const value = (name: string) => {
    const m = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)\\s*$`, 'm'));
    return m ? Number(m[1]) : null;
  };
  const sum = value('webannolo_search_batch_size_sum');
  const count = value('webannolo_search_batch_size_count');
  return sum === null || count === null ? null : { sum, count };
}

/** The mean batch size between two readings (null without batches or counters). */
export function meanBatch(before: BatchCounters | null, after: BatchCounters | null): number | null {
  if (before === null || after === null || after.count <= before.count) return null;
  return +((after.sum - before.sum) / (after.count - before.count)).toFixed(2);
}

/** One search over HTTP, JSON or binary: the keys it answered (for a sanity check against the index itself). */
export async function searchOnce(url: string, kind: BodyKind, bodies: Bodies, q: number): Promise<unknown[]> {
  const body = kind === 'json' ? bodies.json[q]! : bodies.binary[q]!;
  const res = await fetch(kind === 'json' ? `${url}/search` : `${url}/search?k=${bodies.k}&ef=${bodies.ef}`, {
    method: 'POST',
    headers: { 'content-type': kind === 'json' ? 'application/json' : 'application/octet-stream' },
    body: new Uint8Array(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}/search (${kind}): ${res.status} ${text.slice(0, 500)}`);
  const parsed = JSON.parse(text) as { keys?: unknown[] };
  if (!Array.isArray(parsed.keys)) throw new Error(`POST ${url}/search (${kind}) answered no keys: ${text.slice(0, 500)}`);
  return parsed.keys;
}

/** CPU seconds (user + system) a process has used so far, from /proc (null where there is none). */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from field 3 on: utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Linux's USER_HZ: the unit of /proc/PID/stat's times. */
const CLOCK_TICKS = 100;
