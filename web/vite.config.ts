import react from '@vitejs/plugin-react';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The page is served by the service itself: `/` returns index.html and `/static`
// serves this build's folder, which is committed inside the Python package.
// SUM_OUT_DIR lets the bundle check build elsewhere and compare.
const outDir = process.env.SUM_OUT_DIR ?? resolve(import.meta.dirname, '../src/streaming_umap/web/static/app');
const service = process.env.STREAMING_UMAP_URL ?? 'http://127.0.0.1:8003';

export default defineConfig({
  base: '/static/',
  plugins: [react()],
  build: {
    outDir,
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: false,
    target: 'es2022',
  },
  worker: { format: 'es' },
  server: {
    proxy: {
      '/umap': { target: service, ws: true },
      '/health': service,
      '/docs': service,
    },
  },
});
