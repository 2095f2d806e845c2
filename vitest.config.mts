import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Real servers and real workflows: generous bounds, no speed assertions (those live in bench/).
    testTimeout: 180_000,
    hookTimeout: 180_000,
    globals: true,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default'],
  },
});
