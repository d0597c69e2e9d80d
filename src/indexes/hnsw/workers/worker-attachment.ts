import { type PoolWorker, type Task, WorkerPool } from '../../../parallel/pool.js';
import { type SharedStore, shareStore } from '../../../quant/registry.js';
import type { VectorStore } from '../../../types.js';
import type { HnswGraph } from '../graph/graph.js';
import type { AttachTask, DetachTask } from './worker-messages.js';

let nextHandle = 1;
const live = new Set<WorkerAttachment>();

/**
 * An index's graph and stores as the pool's workers see them: shared once (no copy per
 * worker), attached to each worker on its first task. Idle workers never keep a Node process
 * alive; close(true) also ends them once no index is attached.
 */
export class WorkerAttachment {
  readonly handle = nextHandle++;
  private closed = false;

  private constructor(
    readonly pool: WorkerPool,
    private readonly graph: HnswGraph,
    private readonly store: SharedStore,
    private readonly rerank: SharedStore | null,
    private readonly efConstruction: number,
    private readonly keepPruned: boolean,
  ) {
    live.add(this);
  }

  /**
   * The attachment of an index, or null when a store cannot be shared (a custom or
   * file-backed store): the caller then runs on one thread.
   */
  static create(
    graph: HnswGraph,
    store: VectorStore,
    rerank: VectorStore | null,
    build: { efConstruction: number; keepPruned?: boolean },
  ): WorkerAttachment | null {
    const sharedStore = shareStore(store);
    const sharedRerank = rerank === null ? null : shareStore(rerank);
    if (sharedStore === null || (rerank !== null && sharedRerank === null)) return null;
    graph.share();
    return new WorkerAttachment(WorkerPool.shared(), graph, sharedStore, sharedRerank, build.efConstruction, build.keepPruned ?? false);
  }

  /**
   * Starts `threads` workers (a dead one replaced by a fresh one) and attaches this index to
   * those that lack it; returns them. A worker that dies meanwhile fails this with WORKER_FAILED.
   */
  async ready(threads: number): Promise<PoolWorker[]> {
    const workers = await this.pool.ensure(threads);
    const pending: Promise<unknown>[] = [];
    for (const w of workers) {
      if (w.attached.has(this.handle)) continue;
      const task: AttachTask = {
        op: 'hnswAttach',
        handle: this.handle,
        graph: this.graph.share(),
        store: this.store,
        rerank: this.rerank,
        efConstruction: this.efConstruction,
        keepPruned: this.keepPruned,
      };
      pending.push(w.run(task).then(() => w.attached.add(this.handle)));
    }
    // Every attach answered or failed before this returns or throws.
    const settled = await Promise.allSettled(pending);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    return workers;
  }

  /**
   * Runs one task on each of `threads` workers, all of them attached (see ready), and waits
   * for all (see WorkerPool.runOn). A worker that died since the last task is replaced first.
   */
  async runEach(threads: number, task: (worker: number) => Task): Promise<unknown[]> {
    return this.pool.runOn(await this.ready(threads), task);
  }

  /** True while the pool this attachment was made for is still the one in use. */
  get usable(): boolean {
    return !this.closed && WorkerPool.shared() === this.pool;
  }

  /**
   * Detaches from every worker (they drop their references to the shared memory). With
   * endPoolIfLast, the pool's workers end when no attachment is left (index.close()).
   */
  async close(endPoolIfLast = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    const detaching: Promise<unknown>[] = [];
    for (let i = 0; i < this.pool.size; i++) {
      const w = this.pool.worker(i);
      if (!w.attached.delete(this.handle) || w.dead) continue;
      const task: DetachTask = { op: 'hnswDetach', handle: this.handle };
      detaching.push(w.run(task).catch(() => {}));
    }
    await Promise.all(detaching);
    if (endPoolIfLast && live.size === 0) await this.pool.close();
  }
}
