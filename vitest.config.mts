import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Integration tests run real `nx` processes and share the CPU; run test files one at a time.
    fileParallelism: false,
  },
});
