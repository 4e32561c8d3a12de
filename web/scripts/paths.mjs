// Where things are, relative to this package; the Python used to dump the API
// contract can be overridden with STREAMING_UMAP_PYTHON.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const webRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(webRoot, '..');
export const bundleDir = join(repoRoot, 'src', 'streaming_umap', 'web', 'static', 'app');
// Swagger UI's files for /docs, copied from the swagger-ui-dist package (scripts/docs-assets.mjs).
export const docsDir = join(repoRoot, 'src', 'streaming_umap', 'web', 'static', 'docs');
export const generatedFile = join(webRoot, 'src', 'generated', 'openapi.ts');

export function pythonPath() {
  if (process.env.STREAMING_UMAP_PYTHON) return process.env.STREAMING_UMAP_PYTHON;
  const venv = join(repoRoot, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}
