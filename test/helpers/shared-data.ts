import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

/**
 * The real datasets live outside the repository, in `../shared/data` next to the checkout
 * (see its README). Without them, tests on them are skipped with one line, so that a fresh
 * clone's `npm test` still passes; in CI (CI=true) they must be there, so their absence fails.
 */

const expected = fileURLToPath(new URL('../../../shared/data/', import.meta.url));

/** Absolute path of ../shared/data, or null when that folder is missing. */
export const sharedDataDir: string | null = existsSync(expected) ? expected : null;

const inCi = process.env.CI === 'true';
let announced = false;

/** Absolute path of a file under ../shared/data (only meaningful inside describeShared). */
export function sharedPath(...parts: string[]): string {
  return join(sharedDataDir ?? expected, ...parts);
}

/**
 * `describe` for tests that need ../shared/data: runs them when the folder exists, skips them
 * (saying so once per test file) when it does not, and fails loudly when it does not in CI.
 */
export function describeShared(name: string, fn: () => void): void {
  if (sharedDataDir === null && inCi) {
    describe(name, () => {
      it('needs ../shared/data', () => {
        throw new Error(`CI=true but ${expected} is missing: the tests on shared datasets cannot run`);
      });
    });
    return;
  }
  if (sharedDataDir === null && !announced) {
    announced = true;
    console.log('../shared/data not found: skipping tests on shared datasets');
  }
  describe.skipIf(sharedDataDir === null)(name, fn);
}
