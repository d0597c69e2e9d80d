import { type ErrorCode, WebannoloError } from '../errors.js';
import type { WorkerPort } from './platform.js';

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

/** What a PoolWorker tells its pool (its counters). */
export interface PoolWorkerEvents {
  /** A task ended with its result. */
  finished(): void;
  /** The thread died on its own (not by close()). */
  lost(): void;
}

/**
 * True for the errors that mean "the worker is gone", not "the task failed": WORKER_FAILED
 * (it died) and CLOSED (its pool was closed). The work it had can be done elsewhere.
 */
export function isWorkerLoss(e: unknown): boolean {
  return e instanceof WebannoloError && (e.code === 'WORKER_FAILED' || e.code === 'CLOSED');
}

/**
 * One worker thread of a pool and its calls in flight. However the thread ends (an uncaught
 * error, an exit of any code, a kill, a reply that cannot be read, the pool's close), every
 * pending call ends with a WebannoloError, and only once the thread has stopped: no call
 * ends while its task could still write into shared memory. A dead worker takes no more
 * tasks; the pool starts a new one in its place on the next task.
 */
export class PoolWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Why the worker died, once it has: every later run() fails with it. */
  dead: WebannoloError | null = null;
  /** Per-worker state owners keep (e.g. which indexes this worker has attached). */
  readonly attached = new Set<number>();

  constructor(
    private readonly port: WorkerPort,
    private readonly events: PoolWorkerEvents,
  ) {
    port.onMessage((m) => this.settle(m as Reply));
    port.onError((e) => this.lose(`a worker thread failed (${e.message})`));
    port.onExit((code) => this.lose(`a worker thread exited (code ${code})`));
    // The reply cannot be matched to its call: the thread is ended and all its calls fail.
    port.onMessageError((e) => this.lose(`a reply from a worker thread could not be read (${e.message})`));
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

  /** Tasks sent and not answered yet. */
  get busy(): number {
    return this.pending.size;
  }

  /** The platform's worker object (a Node Worker or a Web Worker), for diagnostics and tests. */
  get thread(): unknown {
    return this.port.thread;
  }

  /**
   * Ends the thread at once, as a crash would: its calls fail with WORKER_FAILED (through
   * the exit event in Node). Tests kill a worker at a chosen moment with it.
   */
  async kill(): Promise<void> {
    await this.port.terminate();
    // A browser reports no exit: the kill itself ends the calls there.
    this.lose('a worker thread was killed');
  }

  /** Ends the thread for the pool's close(): its calls fail with CLOSED once it has stopped. */
  close(): Promise<void> {
    return this.end(new WebannoloError('CLOSED', 'the worker pool was closed while a task was running'));
  }

  private settle(reply: Reply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.port.keepAlive(false);
    if (reply.error) p.reject(reviveError(reply.error));
    else {
      this.events.finished();
      p.resolve(reply.result);
    }
  }

  private lose(what: string): void {
    if (this.dead) return;
    this.events.lost();
    void this.end(new WebannoloError('WORKER_FAILED', `${what}; the pool replaces it on the next task`));
  }

  /** Marks the worker dead, stops its thread, then fails the calls it still had. */
  private async end(error: WebannoloError): Promise<void> {
    this.dead ??= error;
    try {
      await this.port.terminate();
    } catch {
      // A thread that cannot even be ended is dead all the same.
    } finally {
      const calls = [...this.pending.values()];
      this.pending.clear();
      this.port.keepAlive(false);
      for (const p of calls) p.reject(this.dead);
    }
  }
}

/** The error a worker threw, rebuilt on this side (WebannoloErrors keep their code). */
function reviveError(e: { message: string; code?: string; name?: string }): Error {
  if (e.name === 'WebannoloError' && e.code) return new WebannoloError(e.code as ErrorCode, e.message);
  return new Error(e.message);
}
