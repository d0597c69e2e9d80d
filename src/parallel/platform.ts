/**
 * The one place that knows whether workers are Node worker_threads or browser Web Workers.
 * Everything else talks to a WorkerPort.
 */

/** A started worker, whatever the platform. */
export interface WorkerPort {
  post(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** An error the worker did not catch (it is dead afterwards). */
  onError(listener: (error: Error) => void): void;
  /**
   * The worker's thread ended, whatever the cause: process.exit(), a kill, a crash after an
   * uncaught error. Node only: a browser reports no exit (a Web Worker that closes itself
   * leaves its call pending; webannolo's worker never does).
   */
  onExit(listener: (code: number) => void): void;
  /** A message from the worker could not be read (deserialized) on this side. */
  onMessageError(listener: (error: Error) => void): void;
  /** Ends the worker; resolves once it has exited (its threads and handles are gone). */
  terminate(): Promise<void>;
  /** Node: whether this worker keeps the process alive (only while it has work). */
  keepAlive(on: boolean): void;
  /** The platform's own worker object (a Node Worker or a Web Worker), for diagnostics and tests. */
  readonly thread: unknown;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

let cores: number | undefined;

/** How many threads `threads` defaults to: every core the platform reports. */
export async function hardwareThreads(): Promise<number> {
  cores ??= await countCores();
  return cores;
}

async function countCores(): Promise<number> {
  if (isNode) {
    const moduleName = 'node:os';
    const os = (await import(/* @vite-ignore */ moduleName)) as { availableParallelism?: () => number; cpus: () => unknown[] };
    return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  }
  const n = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency : undefined;
  return Math.max(1, n ?? 1);
}

/** Whether this platform can run workers at all (Node, or a browser with module workers). */
export function canSpawnWorkers(): boolean {
  return isNode || typeof Worker === 'function';
}

/** Starts one worker running src/parallel/worker.ts. */
export async function spawnWorker(name: string): Promise<WorkerPort> {
  return isNode ? spawnNodeWorker(name) : spawnWebWorker(name);
}

interface NodeWorker {
  postMessage(m: unknown): void;
  on(event: 'message', l: (m: unknown) => void): void;
  on(event: 'error' | 'messageerror', l: (e: Error) => void): void;
  on(event: 'exit', l: (code: number) => void): void;
  terminate(): Promise<number>;
  ref(): void;
  unref(): void;
}

async function spawnNodeWorker(name: string): Promise<WorkerPort> {
  // Imported by name and only in Node: browser bundles never see worker_threads.
  const moduleName = 'node:worker_threads';
  const { Worker: NodeWorkerCtor } = (await import(/* @vite-ignore */ moduleName)) as {
    Worker: new (url: URL, options: { name: string; execArgv: string[] }) => NodeWorker;
  };
  // Workers inherit Node's flags, but not those that only make sense for an eval'd main script.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  const worker = new NodeWorkerCtor(nodeWorkerUrl(), { name, execArgv });
  worker.unref();
  return {
    post: (m) => worker.postMessage(m),
    onMessage: (l) => worker.on('message', l),
    onError: (l) => worker.on('error', l),
    onExit: (l) => worker.on('exit', l),
    onMessageError: (l) => worker.on('messageerror', l),
    terminate: async () => void (await worker.terminate()),
    keepAlive: (on) => (on ? worker.ref() : worker.unref()),
    thread: worker,
  };
}

/**
 * The compiled worker script. Tests run this module from TypeScript sources, which Node
 * cannot start as a worker: they use the build in dist/ (the test setup builds it first).
 */
function nodeWorkerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('../../dist/src/parallel/worker.js', here);
  return new URL('./worker.js', here);
}

function spawnWebWorker(name: string): Promise<WorkerPort> {
  // This exact form lets bundlers (Vite, webpack 5) find and bundle the worker script.
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name });
  return Promise.resolve({
    post: (m) => worker.postMessage(m),
    onMessage: (l) => worker.addEventListener('message', (e) => l(e.data)),
    onError: (l) =>
      worker.addEventListener('error', (e) => {
        e.preventDefault();
        l(new Error(e.message || 'worker failed to start'));
      }),
    onExit: () => {},
    onMessageError: (l) => worker.addEventListener('messageerror', () => l(new Error('a message from the worker could not be read'))),
    terminate: () => Promise.resolve(worker.terminate()),
    keepAlive: () => {},
    thread: worker,
  });
}
