import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The same pre-bundled chevrotain build the CLI uses.
    alias: { chevrotain: fileURLToPath(new URL('./node_modules/chevrotain/lib/chevrotain.mjs', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // A test that asserts nothing passes whatever the code does: each must make an assertion.
    expect: { requireAssertions: true },
  },
});
