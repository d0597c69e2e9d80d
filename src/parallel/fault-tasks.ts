import type { Task } from './pool-worker.js';

/**
 * Tasks that make a worker fail on purpose, so that tests can check what the pool and its
 * callers do when a worker dies. worker.ts registers them only in Node, and only when the
 * worker's environment has WEBANNOLO_FAULT_TASKS=1 (a test sets it before the pool starts
 * its workers); an ordinary worker answers them as unknown tasks.
 */
export const FAULT_TASKS = {
  /** Ends the thread with process.exit(code): an exit that no error event announces. */
  faultExit(task: Task): never {
    process.exit(task.code as number);
  },

  /** Throws from a timer, outside any handler (an uncaught error), and never answers. */
  faultUncaught(task: Task): Promise<never> {
    setTimeout(() => {
      throw new Error(String(task.message));
    }, 0);
    return new Promise<never>(() => {});
  },

  /** Answers with a function, which no reply can carry (it cannot be cloned). */
  faultUnclonable(): unknown {
    return () => {};
  },

  /** Blocks the thread for `ms` milliseconds, then answers `ms`: a task still running when a test kills it. */
  faultSleep(task: Task): number {
    const ms = task.ms as number;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    return ms;
  },
};
