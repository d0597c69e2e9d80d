import { type ErrorCode, WebannoloError } from '../errors.js';
import { canShareMemory } from '../util/shared-memory.js';
import { canSpawnWorkers, hardwareThreads, spawnWorker, type WorkerPort } from './platform.js';

/** A message to a worker: `op` names the task handler (see worker.ts). */
export interface Task {
  readonly op: string;
  readonly [key: string]: unknown;
}

/** What a worker answers: the handler's result, or the error it threw. */
export interface Reply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: { message: string; code?: string; name?: string };
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

class PoolWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Why the worker died, once it has. */
  dead: Error | null = null;
  /** Per-worker state owners keep (e.g. which indexes this worker has attached). */
  readonly attached = new Set<number>();

  constructor(private readonly port: WorkerPort) {
    port.onMessage((m) => this.settle(m as Reply));
    port.onError((e) => this.die(e));
  }

  run(task: Task): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    if (this.pending.size === 0) this.port.keepAlive(true);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.port.post({ ...task, id });
    });
  }

  terminate(): Promise<void> {
    this.die(new WebannoloError('INVALID_ARGUMENT', 'the worker pool was closed while a task was running'));
    return this.port.terminate();
  }

  private settle(reply: Reply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.port.keepAlive(false);
    if (reply.error) p.reject(reviveError(reply.error));
    else p.resolve(reply.result);
  }

  private die(error: Error): void {
    if (this.dead) return;
    this.dead =
      error instanceof WebannoloError ? error : new WebannoloError('INVALID_ARGUMENT', `a worker thread failed: ${error.message}`);
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
    this.port.keepAlive(false);
  }
}

/** The error a worker threw, rebuilt on this side (WebannoloErrors keep their code). */
function reviveError(e: { message: string; code?: string; name?: string }): Error {
  if (e.name === 'WebannoloError' && e.code) return new WebannoloError(e.code as ErrorCode, e.message);
  return new Error(e.message);
}

let shared: WorkerPool | null = null;
let noticed = false;

/**
 * Worker threads (Node worker_threads or browser Web Workers), started on first use and
 * reused by every parallel task: build, batched search, k-means. Idle workers do not keep a
 * Node process alive; close() ends them (a later task starts new ones).
 */
export class WorkerPool {
  private workers: PoolWorker[] = [];
  private starting: Promise<void> | null = null;
  private closed = false;

  /** The process-wide pool. */
  static shared(): WorkerPool {
    if (shared === null || shared.closed) shared = new WorkerPool();
    return shared;
  }

  /** Ends the process-wide pool's workers, if it was started. */
  static async closeShared(): Promise<void> {
    await shared?.close();
  }

  /**
   * How many threads a task may use: `requested` (default: every core), or 1 where this
   * platform cannot share memory with workers, which it reports once through `notice`.
   */
  static async threadsFor(requested: number | undefined, notice?: (message: string) => void): Promise<number> {
    const threads = requested ?? (await hardwareThreads());
    if (threads > 1 && !(canShareMemory() && canSpawnWorkers())) {
      if (!noticed) {
        noticed = true;
        const message =
          'webannolo: SharedArrayBuffer is unavailable (a browser page must be cross-origin isolated: COOP/COEP headers), so it runs on one thread';
        (notice ?? ((m: string) => console.warn(m)))(message);
      }
      return 1;
    }
    return threads;
  }

  /** Workers started so far. */
  get size(): number {
    return this.workers.length;
  }

  /** Starts workers until there are `count`. */
  async ensure(count: number): Promise<void> {
    while (this.starting) await this.starting;
    if (this.closed) throw new WebannoloError('INVALID_ARGUMENT', 'the worker pool is closed');
    this.replaceDead();
    const missing = count - this.workers.length;
    if (missing <= 0) return;
    this.starting = (async () => {
      const started = await Promise.all(Array.from({ length: missing }, (_, i) => spawnWorker(`webannolo-${this.workers.length + i}`)));
      this.workers.push(...started.map((port) => new PoolWorker(port)));
    })();
    try {
      await this.starting;
    } finally {
      this.starting = null;
    }
  }

  /** Worker i (after ensure). */
  worker(i: number): PoolWorker {
    const w = this.workers[i];
    if (!w) throw new WebannoloError('INVALID_ARGUMENT', `worker ${i} was not started`);
    return w;
  }

  /**
   * Runs one task on each of workers 0..count-1 and waits for all. If one fails, the error
   * of the first failure is thrown once every worker has answered (so no task is still
   * writing into shared memory when the caller cleans up).
   */
  async runEach(count: number, task: (worker: number) => Task): Promise<unknown[]> {
    await this.ensure(count);
    const settled = await Promise.allSettled(Array.from({ length: count }, (_, i) => this.worker(i).run(task(i))));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) {
      this.replaceDead();
      throw failed.reason;
    }
    return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
  }

  /** Ends every worker; pending tasks fail. The pool cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.starting) await this.starting.catch(() => {});
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private replaceDead(): void {
    const alive = this.workers.filter((w) => !w.dead);
    if (alive.length === this.workers.length) return;
    for (const w of this.workers) if (w.dead) void w.terminate();
    // Keep indices dense: a dead worker's slot is refilled by the next ensure().
    this.workers = alive;
  }
}

export type { PoolWorker };
