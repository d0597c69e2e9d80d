import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Run } from './cli.js';

/** The CLI as users run it: bin/webannolo.js over the compiled dist/, in its own process. */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'webannolo.js');

/** Compiles dist/ when it is missing or older than src/cli and src/node (vitest's global setup normally has). */
export function ensureBuilt(): void {
  const built = join(ROOT, 'dist', 'src', 'cli', 'main.js');
  const newest = Math.max(
    ...['cli', 'node'].flatMap((d) => readdirSync(join(ROOT, 'src', d)).map((f) => statSync(join(ROOT, 'src', d, f)).mtimeMs)),
  );
  if (existsSync(built) && statSync(built).mtimeMs >= newest) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  } catch {
    // Type errors elsewhere still emit JavaScript; the runs tell whether it worked.
  }
}

/** A running CLI process and what it will have printed and returned when it ends. */
export interface Running {
  readonly child: ChildProcess;
  /** Exit code, or null when a signal ended it (then `signal`). */
  readonly done: Promise<Run & { signal: NodeJS.Signals | null }>;
}

/** Starts `webannolo ...args` as a real process. */
export function startBin(args: readonly string[], cwd?: string): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Runs `webannolo ...args` as a real process to its end. */
export function runBin(args: readonly string[], cwd?: string): Promise<Run & { signal: NodeJS.Signals | null }> {
  return startBin(args, cwd).done;
}
