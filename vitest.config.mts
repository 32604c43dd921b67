import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['core/test/**/*.test.ts', 'daemon/test/**/*.test.ts', 'test/**/*.test.ts', 'sdk/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts', 'test/support/mongoSetup.ts', 'test/support/mariadbSetup.ts'],
    reporters: ['default', './test/support/summaryReporter.ts'],
    setupFiles: ['test/support/secretScan.ts'],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    // Two cores: the servers of the global setup plus two test files at a time.
    maxWorkers: 2,
  },
});
