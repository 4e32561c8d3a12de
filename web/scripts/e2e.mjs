// `npm run e2e [-- FILE...]`: starts the service once (unless STREAMING_UMAP_E2E_URL names
// one that is running), runs every e2e/*.test.mjs (or the FILEs given) against it with
// node's test runner, one file at a time, and stops it. Each file also runs alone
// (`node --test e2e/docs.test.mjs`), starting a service of its own.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startService } from '../e2e/support/service.mjs';
import { webRoot } from './paths.mjs';

const given = process.argv.slice(2);
const files = given.length > 0 ? given
  : readdirSync(join(webRoot, 'e2e')).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join('e2e', f));
const t0 = Date.now();
const service = await startService();
console.log(`e2e: the service at ${service.url} is ready after ${((Date.now() - t0) / 1000).toFixed(1)} s; running ${files.join(', ')}`);
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
  cwd: webRoot, stdio: 'inherit', env: { ...process.env, STREAMING_UMAP_E2E_URL: service.url },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const code = await new Promise((resolve) => child.on('exit', (status) => resolve(status ?? 1)));
if (code !== 0) {
  // the service's log goes with its temp folder: its tail is the only trace of what it did
  console.log(`e2e: failed; the service's log, last 8000 characters:\n${service.log().slice(-8000)}`);
}
await service.stop();
process.exit(code);
