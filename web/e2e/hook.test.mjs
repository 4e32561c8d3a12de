// The migration guide's code (MIGRATING.md = test/guide/*.tsx), built with Vite and run in
// headless Chromium against the real service: the hook's completed jobs give the component
// `job.result.embeddings` and `job.result.labels`, as immediate answers do. The built files
// are served on the service's own origin by the browser (page.route), so no CORS is needed.
import react from '@vitejs/plugin-react';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'vite';
import { webRoot } from '../scripts/paths.mjs';
import { launchBrowser } from './support/browser.mjs';
import { startService } from './support/service.mjs';
import { waitFor } from './support/wait.mjs';

const RESULTS = join(webRoot, 'e2e', 'results');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
let service;
let browser;
let built;

before(async () => {
  mkdirSync(RESULTS, { recursive: true });
  built = mkdtempSync(join(tmpdir(), 'sum-guide-'));
  await build({
    configFile: false, root: join(webRoot, 'test', 'guide'), base: '/__guide/', logLevel: 'error',
    plugins: [react()], resolve: { alias: { 'streaming-umap-web': join(webRoot, 'src') } },
    build: { outDir: built, emptyOutDir: true, target: 'es2022' },
  });
  service = await startService();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await service?.stop();
  if (built) rmSync(built, { recursive: true, force: true });
});

async function openGuide(rows) {
  const page = await (await browser.newContext({ viewport: { width: 1000, height: 800 } })).newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.route('**/__guide/**', (route) => {
    const path = new URL(route.request().url()).pathname.replace('/__guide/', '') || 'index.html';
    route.fulfill({ body: readFileSync(join(built, path)), contentType: TYPES[extname(path)] ?? 'application/octet-stream' });
  });
  await page.goto(`${service.url}/__guide/index.html?rows=${rows}`);
  return { page, errors };
}

const summary = (page) => page.getByTestId('summary').textContent();

describe("the migration guide's component, in Chromium against the service", () => {
  it('gets job.result.embeddings and job.result.labels from background jobs', { timeout: 240_000 }, async () => {
    const { page, errors } = await openGuide(1200); // over the immediate threshold: jobs
    assert.equal(await summary(page), '0 points, 0 clusters');
    await page.getByRole('button', { name: 'Run UMAP' }).click();
    const umap = page.locator('li.sum-job').first();
    await waitFor(async () => (await umap.getAttribute('data-status')) === 'processing', 'the UMAP job to run', 60_000);
    await waitFor(async () => (await summary(page)) === '1200 points, 0 clusters', 'the layout in job.result.embeddings', 180_000);
    await page.getByRole('button', { name: 'Cluster the layout' }).click();
    await waitFor(async () => (await page.locator('li.sum-job').count()) === 2, 'the clustering job');
    await waitFor(async () => (await summary(page)) === '1200 points, 3 clusters', 'the labels in job.result.labels', 120_000);
    const statuses = await page.locator('li.sum-job').evaluateAll((cards) => cards.map((c) => c.dataset.status));
    assert.deepEqual(statuses, ['completed', 'completed']);
    await page.screenshot({ path: join(RESULTS, 'screenshot-guide.png') });
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it('gets the same fields from immediate answers', { timeout: 60_000 }, async () => {
    const { page, errors } = await openGuide(300);
    await page.getByRole('button', { name: 'Run UMAP' }).click();
    await waitFor(async () => (await summary(page)) === '300 points, 0 clusters', 'the immediate layout');
    await page.getByRole('button', { name: 'Cluster the layout' }).click();
    await waitFor(async () => (await summary(page)) === '300 points, 3 clusters', 'the immediate labels');
    assert.equal(await page.locator('li.sum-job').count(), 0, 'no job was started');
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});
