// The tests, the conformance kit's included: `npm test` builds the plugin first (the kit loads
// dist/index.js the way the daemon will), then runs them.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
