import { defineConfig } from 'vitest/config';

/**
 * Browser end-to-end tests of the demo: `npm run test:e2e` (builds demo-dist/ first).
 * Kept apart from `npm test`, whose pattern is test/**\/*.test.ts.
 */
export default defineConfig({
  root: new URL('../../', import.meta.url).pathname,
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default', './test/e2e/summary-reporter.ts'],
  },
});
