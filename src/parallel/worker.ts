/**
 * The worker thread's entry: receives tasks from a WorkerPool, runs the handler its `op`
 * names, and answers with the result or the error. Handlers live with the code they belong to
 * (src/indexes/hnsw/workers/worker-tasks.ts, src/quant/pq/worker-tasks.ts); this file only routes.
 */
import { HNSW_TASKS } from '../indexes/hnsw/workers/worker-tasks.js';
import { QUANT_TASKS } from '../quant/pq/worker-tasks.js';
import { FAULT_TASKS } from './fault-tasks.js';
import type { Task } from './pool.js';

type Handler = (task: Task) => unknown;
type Post = (message: unknown) => void;
const handlers: Record<string, Handler> = { ...HNSW_TASKS, ...QUANT_TASKS };

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
// Tasks that fail on purpose, for the tests of worker deaths only (see fault-tasks.ts).
if (isNode && process.env.WEBANNOLO_FAULT_TASKS === '1') Object.assign(handlers, FAULT_TASKS);

/** Runs one task and answers it: its result (a handler may return a promise) or its error. */
function serve(post: Post, message: unknown): void {
  const task = message as Task & { id: number };
  let result: unknown;
  try {
    const handler = handlers[task.op];
    if (!handler) throw new Error(`unknown worker task '${task.op}'`);
    result = handler(task);
  } catch (e) {
    answerError(post, task.id, e);
    return;
  }
  if (result instanceof Promise)
    result.then(
      (r) => answer(post, task.id, r),
      (e) => answerError(post, task.id, e),
    );
  else answer(post, task.id, result);
}

function answer(post: Post, id: number, result: unknown): void {
  try {
    post({ id, result });
  } catch (e) {
    // A result that cannot be cloned (a handler's bug): the call still ends, with a typed error.
    const why = (e as { message?: string }).message ?? String(e);
    post({ id, error: { name: 'WebannoloError', code: 'WORKER_FAILED', message: `a worker thread's reply could not be sent (${why})` } });
  }
}

function answerError(post: Post, id: number, e: unknown): void {
  const err = e as { message?: string; code?: string; name?: string };
  post({ id, error: { message: err.message ?? String(e), code: err.code, name: err.name } });
}

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
