/**
 * The processes of the service benchmark (bench/serve.ts): `webannolo serve` servers, shard
 * replicas and gateways, a nats-server, each started as its own process and waited for until
 * it prints its JSON line; and the cleanup that kills whatever is left when the bench ends or
 * fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './args.js';

/** A child process started by the bench, with what it printed. */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** The JSON object of the line it printed when ready (empty for nats-server). */
  readonly ready: Record<string, unknown>;
  readonly stderr: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Proc>();
const tempDirs = new Set<string>();
let cleanupInstalled = false;

/** Kills every process still running and removes the temporary folders: on exit, on SIGINT / SIGTERM. */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => {
    for (const p of live) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  };
  process.once('exit', killAll);
  for (const s of ['SIGINT', 'SIGTERM'] as const)
    process.once(s, () => {
      killAll();
      process.exit(130);
    });
}

/** A temporary folder removed when the bench exits. */
export function tempDir(prefix: string): string {
  installCleanup();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts `command args` and waits (at most `waitMs`) until `isReady` accepts one of its stdout
 * lines parsed as JSON, or, without `isReady`, until `probe` resolves true.
 */
async function start(
  name: string,
  command: string,
  args: readonly string[],
  wait: { waitMs: number; isReady?: (line: Record<string, unknown>) => boolean; probe?: () => Promise<boolean> },
): Promise<Proc> {
  installCleanup();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let out = '';
  let err = '';
  let ready: Record<string, unknown> | null = null;
  let spawnError: Error | null = null;
  const ended = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    // Not started at all (say the binary is missing): no 'exit' follows.
    child.once('error', (e) => {
      spawnError = e;
      resolve();
    });
  });
  const exited = () => spawnError !== null || child.exitCode !== null || child.signalCode !== null;
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    let nl = out.indexOf('\n');
    while (nl >= 0) {
      const line = out.slice(0, nl).trim();
      out = out.slice(nl + 1);
      if (ready === null && line.startsWith('{') && wait.isReady) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (wait.isReady(parsed)) ready = parsed;
        } catch {
          // Not JSON after all: a log line.
        }
      }
      nl = out.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const proc: Proc = {
    name,
    child,
    get ready() {
      return ready ?? {};
    },
    stderr: () => err,
    stop: async (graceMs = 10_000) => {
      if (!exited()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await ended;
        clearTimeout(timer);
      }
      live.delete(proc);
    },
  };
  live.add(proc);
  const deadline = Date.now() + wait.waitMs;
  for (;;) {
    if (wait.isReady ? ready !== null : await wait.probe!()) return proc;
    if (exited() || Date.now() > deadline) {
      await proc.stop(0);
      throw new Error(`${name} did not start (${command} ${args.join(' ')}): ${spawnError ?? ''}\n${err.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `node bin/webannolo.js ...args` as a process of its own; ready at its first JSON line that `isReady` accepts. */
export function startCli(
  name: string,
  args: readonly string[],
  isReady: (line: Record<string, unknown>) => boolean,
  waitMs = 120_000,
): Promise<Proc> {
  return start(name, process.execPath, [join(ROOT, 'bin', 'webannolo.js'), ...args], { waitMs, isReady });
}

/** A `webannolo serve` with an HTTP port (local or gateway): ready when it prints `{"listening": URL}`. */
export async function startHttpServer(name: string, args: readonly string[]): Promise<{ proc: Proc; url: string }> {
  const proc = await startCli(name, ['serve', ...args], (line) => typeof line['listening'] === 'string');
  return { proc, url: String(proc.ready['listening']) };
}

/** A nats-server (JetStream on, store in a temporary folder) on 127.0.0.1 at a free port. */
export async function startNats(binary: string): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const store = tempDir('webannolo-bench-nats-');
  const proc = await start('nats-server', binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
    waitMs: 15_000,
    probe: () => accepts(port),
  });
  return { proc, url: `nats://127.0.0.1:${port}` };
}

/** Runs `node bin/webannolo.js ...args` to its end and returns the last JSON line of its stdout. */
export async function runCli(args: readonly string[]): Promise<Record<string, unknown>> {
  installCleanup();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'webannolo.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  const code = await new Promise<number | string | null>((resolve) => {
    child.once('exit', (c) => resolve(c));
    child.once('error', (e) => resolve(e.message));
  });
  if (code !== 0) throw new Error(`webannolo ${args.join(' ')} exited with ${code}:\n${err.slice(-3000)}`);
  const last = out
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (last === undefined) throw new Error(`webannolo ${args.join(' ')} printed no JSON line:\n${out.slice(-2000)}`);
  return JSON.parse(last) as Record<string, unknown>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(500);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.connect(port, '127.0.0.1');
  });
}
