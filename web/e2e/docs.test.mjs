// /docs in headless Chromium against the real service: Swagger UI renders every operation
// of /openapi.json (an OpenAPI 3.1 document) from the service's own files, asks nothing
// of any other host, and "Try it out" -> "Execute" runs requests and shows the answers.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, webRoot } from '../scripts/paths.mjs';
import { launchBrowser } from './support/browser.mjs';
import { startService } from './support/service.mjs';
import { waitFor } from './support/wait.mjs';

const RESULTS = join(webRoot, 'e2e', 'results');
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs') : RESULTS;
let service;
let browser;
let spec;

before(async () => {
  mkdirSync(RESULTS, { recursive: true });
  service = await startService();
  browser = await launchBrowser();
  spec = await (await fetch(`${service.url}/openapi.json`)).json();
});

after(async () => {
  await browser?.close();
  await service?.stop();
});

/** The docs page, with every request to another origin refused and recorded. */
async function openDocs() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const origin = new URL(service.url).origin;
  const state = { outside: [], errors: [] };
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    state.outside.push(url);
    return route.abort();
  });
  page.on('pageerror', (error) => state.errors.push(error.message));
  await page.goto(`${service.url}/docs`);
  return { page, state };
}

/** Opens an operation and presses "Try it out". */
async function tryItOut(op) {
  await op.locator('.opblock-summary-control').click();
  await op.getByRole('button', { name: 'Try it out' }).click();
}

/** Presses "Execute"; resolves with the status code and the JSON body the page shows. */
async function execute(op) {
  await op.getByRole('button', { name: 'Execute' }).click();
  const row = op.locator('.live-responses-table tbody tr.response').first();
  await waitFor(() => row.isVisible(), 'the live response', 60_000);
  const status = Number((await row.locator('.response-col_status').textContent()).trim());
  const text = await row.locator('.response-col_description pre').first().textContent();
  return { status, body: JSON.parse(text) };
}

describe('/docs', () => {
  it('renders every operation of /openapi.json from local files', { timeout: 60_000 }, async () => {
    assert.equal(spec.openapi, '3.1.0');
    const expected = Object.entries(spec.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`)).sort();
    const { page, state } = await openDocs();
    const ops = page.locator('.opblock');
    await waitFor(async () => (await ops.count()) === expected.length, `${expected.length} operations`, 30_000);
    const shown = await ops.evaluateAll((blocks) => blocks.map((b) => `${b.querySelector('.opblock-summary-method').textContent} `
      + `${b.querySelector('.opblock-summary-path').getAttribute('data-path')}`));
    assert.deepEqual(shown.sort(), expected);
    assert.equal(await page.getByText('Unable to render this definition').count(), 0);
    assert.match(await page.locator('.info .title').textContent(), /streaming-umap/);
    const titles = await page.locator('section.models article[data-json-schema-level="0"] .json-schema-2020-12__title')
      .allTextContents();
    assert.deepEqual(titles.sort(), Object.keys(spec.components.schemas).sort(), 'every schema listed');
    await page.screenshot({ path: join(SHOTS, 'screenshot-docs.png') });
    assert.deepEqual(state, { outside: [], errors: [] });
    await page.context().close();
  });

  it('"Try it out" executes GET /health and the documented debug call', { timeout: 90_000 }, async () => {
    const { page, state } = await openDocs();
    const healthOp = page.locator('#operations-default-get_health');
    await tryItOut(healthOp);
    const health = await execute(healthOp);
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    assert.ok(health.body.workers.total >= 1, JSON.stringify(health.body.workers));

    const umap = page.locator('#operations-default-post_umap_streaming_umap');
    await tryItOut(umap);
    const sent = JSON.parse(await umap.locator('textarea.body-param__text').inputValue());
    assert.deepEqual(sent, { data: [[0.1, 0.2], [0.3, 0.4]], n_components: 2 }, "the example is the README's debug call");
    const answer = await execute(umap);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.job_id, 'immediate');
    assert.equal(answer.body.status, 'completed');
    assert.equal(answer.body.embeddings.length, 2);
    assert.match(answer.body.warning, /n_neighbors clamped/);
    await umap.locator('.live-responses-table').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'screenshot-docs-try-it-out.png') });

    const clusterOp = page.locator('#operations-default-post_umap_streaming_cluster');
    await tryItOut(clusterOp);
    const cluster = await execute(clusterOp);
    assert.equal(cluster.status, 200);
    assert.deepEqual([cluster.body.job_id, cluster.body.n_clusters, cluster.body.labels.length], ['immediate', 2, 4]);
    assert.deepEqual(state, { outside: [], errors: [] });
    await page.context().close();
  });
});
