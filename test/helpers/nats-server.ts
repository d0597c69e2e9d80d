import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A nats-server (with JetStream) of a test's own, on 127.0.0.1 at a free port. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Kills the server and removes its JetStream store. */
  stop(): Promise<void>;
}

const BINARY = process.env['NATS_SERVER'] ?? 'nats-server';

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

/** Starts nats-server -js on a free port and waits (at most `waitMs`) until it accepts connections. */
export async function startNatsServer(waitMs = 15_000): Promise<NatsServer> {
  const store = mkdtempSync(join(tmpdir(), 'webannolo-nats-'));
  const port = await freePort();
  const child: ChildProcess = spawn(BINARY, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const ended = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited) child.kill('SIGKILL');
    await ended;
    rmSync(store, { recursive: true, force: true });
  };
  const deadline = Date.now() + waitMs;
  while (!(await accepts(port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`nats-server did not start on port ${port}: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `nats://127.0.0.1:${port}`, port, stop };
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

/** A `webannolo serve --nats ...` process, started and ready (it printed its JSON line). */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * Starts `webannolo serve ...args` as its own process (bin/webannolo.js over dist/) and waits
 * until its last stdout line is JSON (a replica serving) or `readyText` appears, at most `waitMs`.
 */
export async function startServe(args: readonly string[], waitMs = 60_000, readyText?: RegExp): Promise<ServeProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'webannolo.js'), 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exited = false;
  const ended = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const proc: ServeProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    kill: async () => {
      if (!exited) child.kill('SIGKILL');
      await ended;
    },
  };
  const deadline = Date.now() + waitMs;
  const ready = () => (readyText ? readyText.test(out) : /^\{.*\}\s*$/m.test(out));
  while (!ready()) {
    if (exited || Date.now() > deadline) {
      await proc.kill();
      throw new Error(`serve ${args.join(' ')} did not start: ${err.slice(-2000)}${out.slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
}
