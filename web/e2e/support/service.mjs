// Starts the real streaming-umap service for the end-to-end tests: a free port,
// its own data and log folders, the CPU backend, two job workers. Waits until
// /health says "ok" with no worker warming. STREAMING_UMAP_PYTHON picks the Python;
// STREAMING_UMAP_E2E_URL reuses a service that is already running instead.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonPath, repoRoot } from '../../scripts/paths.mjs';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function health(url, apiKey) {
  try {
    const response = await fetch(`${url}/health`, { headers: apiKey ? { Authorization: `Bearer ${apiKey}` } : {} });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

/**
 * `env` adds settings; `dataDir` is the data folder to use (made here when left out);
 * `apiKey` is sent to /health while waiting (a service that requires keys); `own` starts
 * a service of its own even when STREAMING_UMAP_E2E_URL names a running one.
 */
/** `streaming-umap keys create NAME --admin` on `dataDir`: the key it prints. */
export function createKey(dataDir, name = 'e2e') {
  const python = pythonPath();
  const done = spawnSync(python, ['-m', 'streaming_umap.cli', 'keys', 'create', name, '--admin', '--data-dir', dataDir],
    { encoding: 'utf8' });
  if (done.status !== 0) throw new Error(`keys create failed: ${done.stderr}`);
  return done.stdout.trim();
}

export async function startService({ timeoutMs = 300_000, env: extra = {}, dataDir, apiKey, own = false } = {}) {
  if (process.env.STREAMING_UMAP_E2E_URL && !own) {
    return { url: process.env.STREAMING_UMAP_E2E_URL.replace(/\/$/, ''), stop: async () => {}, log: () => '' };
  }
  const port = await freePort();
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'sum-e2e-'));
  const env = {
    ...process.env,
    STREAMING_UMAP_DATA_DIR: dir,
    STREAMING_UMAP_LOG_DIR: join(dir, 'logs'),
    NUMBA_CACHE_DIR: process.env.NUMBA_CACHE_DIR ?? join(repoRoot, '.cache', 'numba'),
    STREAMING_UMAP_BACKEND: 'cpu',
    GPU_UMAP_MAX_CONCURRENT_JOBS: '2',
    ...extra,
  };
  const python = pythonPath();
  const child = spawn(python, ['-m', 'streaming_umap.cli', 'serve', '--host', '127.0.0.1', '--port', String(port)], {
    env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the service (${python}) exited with ${child.exitCode} before it was ready:\n${output.slice(-3000)}`);
    }
    const h = await health(url, apiKey);
    if (h && h.status === 'ok' && h.workers.warming === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the service was not ready within ${timeoutMs / 1000} s (last health: ${JSON.stringify(h)}):\n${output.slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { url, stop, log: () => output };
}
