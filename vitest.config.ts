import { defineConfig } from 'vitest/config';

// Integration tests start real master and agent processes; two cores, so at most two files at once.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
