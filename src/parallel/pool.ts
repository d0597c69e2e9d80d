import { WebannoloError } from '../errors.js';
import { canShareMemory } from '../util/shared-memory.js';
import { canSpawnWorkers, hardwareThreads, spawnWorker } from './platform.js';
import { PoolWorker, type Task } from './pool-worker.js';

export { isWorkerLoss, type Reply, type Task } from './pool-worker.js';

let shared: WorkerPool | null = null;
let noticed = false;

/**
 * Worker threads (Node worker_threads or browser Web Workers), started on first use and
 * reused by every parallel task: build, batched search, k-means. Idle workers do not keep a
 * Node process alive; close() ends them (a later task starts new ones).
 *
 * A worker that dies (an exit of any code, a kill, an uncaught error, a reply that cannot be
 * read) ends its pending tasks with a WORKER_FAILED error once its thread has stopped, and
 * the next task starts a fresh worker in its place; close() ends pending tasks with CLOSED.
 * No task waits forever on a dead worker.
 */
export class WorkerPool {
  private workers: PoolWorker[] = [];
  private starting: Promise<void> | null = null;
  private closed = false;
  private finished = 0;
  private lost = 0;
  private readonly events = { finished: () => void this.finished++, lost: () => void this.lost++ };

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

  /** Workers started so far (a dead one counts until the next task replaces it). */
  get size(): number {
    return this.workers.length;
  }

  /** Tasks the workers have finished with a result since the pool started (tests check with it that work ran on workers). */
  get tasksFinished(): number {
    return this.finished;
  }

  /** Workers that died other than by close() since the pool started (each replaced on the next task). */
  get workersLost(): number {
    return this.lost;
  }

  /** Replaces dead workers and starts workers until there are `count`; returns the first `count`. */
  async ensure(count: number): Promise<PoolWorker[]> {
    while (this.starting) await this.starting;
    if (this.closed) throw new WebannoloError('CLOSED', 'the worker pool is closed');
    // Keep indices dense: a dead worker's slot is refilled below.
    this.workers = this.workers.filter((w) => !w.dead);
    const missing = count - this.workers.length;
    if (missing > 0) {
      this.starting = (async () => {
        const started = await Promise.all(Array.from({ length: missing }, (_, i) => spawnWorker(`webannolo-${this.workers.length + i}`)));
        this.workers.push(...started.map((port) => new PoolWorker(port, this.events)));
      })();
      try {
        await this.starting;
      } finally {
        this.starting = null;
      }
    }
    return this.workers.slice(0, count);
  }

  /** Worker i (after ensure). */
  worker(i: number): PoolWorker {
    const w = this.workers[i];
    if (!w) throw new WebannoloError('INVALID_ARGUMENT', `worker ${i} was not started`);
    return w;
  }

  /** Runs one task on each of workers 0..count-1 and waits for all (see runOn). */
  async runEach(count: number, task: (worker: number) => Task): Promise<unknown[]> {
    return this.runOn(await this.ensure(count), task);
  }

  /**
   * Runs one task on each of `workers` and waits for all. If one fails, the error of the
   * first failure is thrown once every worker has answered or died (so no task is still
   * writing into shared memory when the caller cleans up).
   */
  async runOn(workers: readonly PoolWorker[], task: (worker: number) => Task): Promise<unknown[]> {
    const settled = await this.settleOn(workers, task);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
  }

  /** Runs one task on each of `workers` and returns how each ended, once all have. */
  settleOn(workers: readonly PoolWorker[], task: (worker: number) => Task): Promise<PromiseSettledResult<unknown>[]> {
    return Promise.allSettled(workers.map((w, i) => w.run(task(i))));
  }

  /** Ends every worker; pending tasks fail with CLOSED. The pool cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.starting) await this.starting.catch(() => {});
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.close()));
  }
}

export type { PoolWorker };
