import { expect } from 'vitest';
import { main } from '../../src/cli/main.js';

/** What one in-process CLI run printed and returned. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process, collecting what it prints. */
export function cli(...argv: string[]): Promise<Run> {
  return cliOn(false, argv);
}

/** Runs the CLI in-process; `tty` makes stderr look like a terminal (progress bars). */
export async function cliOn(tty: boolean, argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), isTTY: tty, columns: 100 },
    env: {},
  });
  return { code, stdout, stderr };
}

/** The last stdout line, parsed as JSON (other tools rely on it). */
export function lastJson(run: Run): Record<string, unknown> {
  const lines = run.stdout.trimEnd().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

/** Success, with the failure's stderr in the assertion message when not. */
export function expectOk(run: Run): void {
  if (run.code !== 0) expect.fail(`exit ${run.code}: ${run.stderr}`);
}

/** A failure reported as exactly one readable line, without stack frames. */
export function expectOneLineError(run: Run, pattern: RegExp, code?: number): void {
  expect(run.code, run.stderr).not.toBe(0);
  if (code !== undefined) expect(run.code, run.stderr).toBe(code);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^webannolo: error: /);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(lines[0]).toMatch(pattern);
}

/** Deterministic pseudo-random floats in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
