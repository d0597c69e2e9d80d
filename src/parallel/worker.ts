/**
 * The worker thread's entry: receives tasks from a WorkerPool, runs the handler its `op`
 * names, and answers with the result or the error. Handlers live with the code they belong to
 * (src/indexes/hnsw/workers/worker-tasks.ts, src/quant/pq/worker-tasks.ts); this file only routes.
 */
import { HNSW_TASKS } from '../indexes/hnsw/workers/worker-tasks.js';
import { QUANT_TASKS } from '../quant/pq/worker-tasks.js';
import type { Task } from './pool.js';

type Handler = (task: Task) => unknown;
const handlers: Record<string, Handler> = { ...HNSW_TASKS, ...QUANT_TASKS };

function serve(post: (message: unknown) => void, message: unknown): void {
  const task = message as Task & { id: number };
  try {
    const handler = handlers[task.op];
    if (!handler) throw new Error(`unknown worker task '${task.op}'`);
    post({ id: task.id, result: handler(task) });
  } catch (e) {
    const err = e as { message?: string; code?: string; name?: string };
    post({ id: task.id, error: { message: err.message ?? String(e), code: err.code, name: err.name } });
  }
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
if (isNode) {
  // Node queues messages until the listener is attached. No top-level await: bundlers may
  // emit the worker in a format without it.
  const moduleName = 'node:worker_threads';
  void (
    import(/* @vite-ignore */ moduleName) as Promise<{
      parentPort: { postMessage(m: unknown): void; on(e: 'message', l: (m: unknown) => void): void };
    }>
  ).then(({ parentPort }) => {
    parentPort.on('message', (m) => serve((r) => parentPort.postMessage(r), m));
  });
} else {
  // A browser worker listens at once.
  const scope = globalThis as unknown as {
    postMessage(m: unknown): void;
    addEventListener(e: 'message', l: (ev: MessageEvent) => void): void;
  };
  scope.addEventListener('message', (ev) => serve((r) => scope.postMessage(r), ev.data));
}
