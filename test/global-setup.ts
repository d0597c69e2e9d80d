import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Worker threads run the compiled library (Node cannot start a worker from TypeScript
 * sources), so the tests build dist/ first: a worker never runs stale code.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
