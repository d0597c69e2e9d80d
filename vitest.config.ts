import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Recall tests build real indexes on a 2-core machine: generous per-test budget.
    testTimeout: 240_000,
    hookTimeout: 240_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
