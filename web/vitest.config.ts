import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `streaming-umap-web/...`: the package by name, as the docs' examples import it (tsconfig paths too)
  resolve: { alias: { 'streaming-umap-web': resolve(import.meta.dirname, 'src') } },
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    environment: 'node',
    testTimeout: 15000,
  },
});
