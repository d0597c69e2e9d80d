/**
 * The page of test/e2e/storage.e2e.ts's re-ranking-from-disk tests: runs worker.ts's scenario
 * in a dedicated worker, and tries the same open on this (main) thread, where it must refuse.
 */
import { openIndex, WebannoloError } from '../../../src/index.js';
import type { ScenarioResult, Step } from './worker.js';

/** What the test calls through page.evaluate. */
export interface RerankPage {
  /** Runs the scenario in a fresh dedicated worker. */
  inWorker(): Promise<{ ok: true; result: ScenarioResult } | { ok: false; error: string }>;
  /**
   * One worker saves an index and opens it with rerank 'disk', a second opens it too while the
   * first holds it; both search, close, and the first deletes it. What each step answered.
   */
  twoReaders(): Promise<{ first: unknown; second: unknown; deleted: unknown }>;
  /** openIndex with rerank 'disk' here: the error it fails with (null if it did not). */
  onMainThread(): Promise<{ code: string; message: string } | null>;
}

function startWorker(): Worker {
  return new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'rerank-e2e' });
}

/** Runs one step in `worker`: its answer, or throws its error. */
function call(worker: Worker, op: Step): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (e: MessageEvent) => (e.data.ok ? resolve(e.data.result) : reject(new Error(e.data.error)));
    worker.onerror = (e) => reject(new Error(`worker failed: ${e.message}`));
    worker.postMessage(op);
  });
}

const api: RerankPage = {
  async inWorker() {
    const worker = startWorker();
    try {
      return { ok: true, result: (await call(worker, 'run')) as ScenarioResult };
    } catch (e) {
      return { ok: false, error: String(e) };
    } finally {
      worker.terminate();
    }
  },
  async twoReaders() {
    const [a, b] = [startWorker(), startWorker()];
    try {
      await call(a, 'save');
      const first = await call(a, 'open');
      const second = await call(b, 'open');
      await call(a, 'close');
      await call(b, 'close');
      return { first, second, deleted: await call(a, 'delete') };
    } finally {
      a.terminate();
      b.terminate();
    }
  },
  async onMainThread() {
    try {
      await openIndex('anything', { rerank: 'disk' });
      return null;
    } catch (e) {
      return e instanceof WebannoloError ? { code: e.code, message: e.message } : { code: 'not a WebannoloError', message: String(e) };
    }
  },
};
(window as unknown as { __rerank: RerankPage }).__rerank = api;
document.getElementById('out')!.textContent = 'ready';
