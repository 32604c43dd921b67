// Runs this example's tests on their own (`npx vitest run` in this folder). In the repository's
// CI they run from the root configuration instead (its include lists examples/*/test).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
