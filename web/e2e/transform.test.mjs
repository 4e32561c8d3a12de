// End-to-end: kept models. The page runs its layout with keep_model; once it has finished,
// "Add points from file" sends a file to /umap/streaming/transform/{model_id} and the placed
// points are drawn over the layout, highlighted, while the layout itself stays as it was.
// A service of its own, with a low immediate threshold: 400 rows become a transform job
// (progress on its card), 50 are answered at once.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, webRoot } from '../scripts/paths.mjs';
import { launchBrowser } from './support/browser.mjs';
import { hasColour, inkOf } from './support/pixels.mjs';
import { startService } from './support/service.mjs';
import { waitFor } from './support/wait.mjs';

const RESULTS = join(webRoot, 'e2e', 'results');
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs') : RESULTS;
const PLACED_FILL = '#ffd21f'; // src/app/scatter/palette.ts
let service;
let browser;

before(async () => {
  mkdirSync(RESULTS, { recursive: true });
  service = await startService({
    own: true, env: { STREAMING_UMAP_IMMEDIATE_THRESHOLD: '200', GPU_UMAP_MAX_CONCURRENT_JOBS: '1' },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await service?.stop();
});

/** A little-endian .npy of `rows` (float32, C order). */
function npyOf(rows) {
  const values = Float32Array.from(rows.flat());
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows.length}, ${rows[0].length}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 255, header.length >> 8]);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(values.buffer)]);
}

/** The rows of a 2-D .npy the service sends (float32 or float64, C order). */
function rowsOfNpy(buffer) {
  const headerLength = buffer.readUInt16LE(8);
  const header = buffer.subarray(10, 10 + headerLength).toString('latin1');
  const [, descr] = /'descr': '([^']+)'/.exec(header);
  const [rows, cols] = /'shape': \((\d+), (\d+)\)/.exec(header).slice(1).map(Number);
  const bytes = buffer.subarray(10 + headerLength);
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const flat = descr === '<f8' ? new Float64Array(copy) : descr === '<f4' ? new Float32Array(copy) : null;
  assert.ok(flat, `expected float32 or float64 demo data; found ${descr}`);
  return Array.from({ length: rows }, (_, r) => Array.from(flat.subarray(r * cols, (r + 1) * cols)));
}

function card(page, label) {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return page.locator('li.sum-job').filter({ has: page.locator('.sum-label', { hasText: new RegExp(`^${escaped}`) }) });
}

describe('adding points to a finished layout', () => {
  it('places a file\'s rows into the layout\'s model, draws them over it, and shows a 422 for the wrong width', { timeout: 300_000 }, async () => {
    // rows of three of the digits (a little noise on each): they must land where their originals
    // are, and the other seven clusters stay in sight
    const digits = rowsOfNpy(Buffer.from(await (await fetch(`${service.url}/umap/streaming/demo/digits/data`)).arrayBuffer()));
    const { labels } = await (await fetch(`${service.url}/umap/streaming/demo/digits/labels`)).json();
    const picked = digits.map((_, i) => i).filter((i) => [0, 3, 6].includes(labels[i])).slice(0, 450);
    assert.equal(picked.length, 450);
    const noisy = picked.map((i, k) => digits[i].map((v, j) => Math.max(0, v + Math.sin(k * 13 + j) * 0.5)));
    const jobFile = join(RESULTS, 'placed-400.npy');
    writeFileSync(jobFile, npyOf(noisy.slice(0, 400)));
    const immediateFile = join(RESULTS, 'placed-50.csv');
    writeFileSync(immediateFile, noisy.slice(400).map((r) => r.join(',')).join('\n'));
    const wrongFile = join(RESULTS, 'five-columns.csv');
    writeFileSync(wrongFile, Array.from({ length: 30 }, (_, i) => [1, 2, 3, 4, i].join(',')).join('\n'));

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    await page.goto(`${service.url}/`);
    await waitFor(async () => (await page.getByTestId('health').textContent()).startsWith('ok'), 'the health line');
    const addPoints = page.getByLabel('add points from file');
    assert.equal(await addPoints.isDisabled(), true, 'nothing to add points to before a layout has finished');

    await page.getByLabel('n_epochs').fill('200');
    await page.getByRole('button', { name: 'Run UMAP' }).click();
    const layoutJob = card(page, 'UMAP · digits demo');
    await waitFor(async () => (await layoutJob.getAttribute('data-status')) === 'completed', 'the layout', 180_000);
    const layoutId = await layoutJob.getAttribute('data-job-id');
    const status = await (await fetch(`${service.url}/umap/streaming/status/${layoutId}?include_result=false`)).json();
    assert.equal(status.model_id, layoutId, 'the page keeps the model of its layout (keep_model)');
    await waitFor(async () => (await page.getByLabel('colour by').inputValue()) === 'layout', 'the layout clustered', 120_000);
    await waitFor(() => addPoints.isEnabled(), 'the add-points control');
    const plot = page.getByTestId('scatter');
    const where = (i) => page.evaluate((k) => window.__streamingUmapPlot.pointToClient(k), i);
    const before = await Promise.all(picked.slice(0, 20).map(where));

    // 400 rows: a transform job, with its card and progress
    await addPoints.setInputFiles(jobFile);
    const placing = card(page, 'Placed · placed-400.npy · into UMAP · digits demo');
    await waitFor(() => placing.isVisible(), 'the transform job card', 30_000);
    await waitFor(async () => (await placing.getAttribute('data-status')) === 'completed', 'the transform job', 120_000);
    assert.equal(Number(await placing.getByRole('progressbar').getAttribute('aria-valuenow')), 100);
    await waitFor(async () => (await plot.getAttribute('data-placed')) === '400', 'the placed points on the plot', 10_000);
    // 50 rows (CSV): answered at once, added to the same layout
    await addPoints.setInputFiles(immediateFile);
    await waitFor(async () => (await plot.getAttribute('data-placed')) === '450', 'the immediate points too', 30_000);

    assert.equal(await plot.getAttribute('data-points'), '1797', 'the layout keeps its points');
    assert.equal(await page.evaluate(() => window.__streamingUmapPlot.placedCount()), 450);
    assert.equal(await page.locator('.plot-legend-placed').textContent(), 'placed (450)');
    const after = await Promise.all(picked.slice(0, 20).map(where));
    after.forEach((p, k) => assert.ok(Math.abs(p.x - before[k].x) < 0.5 && Math.abs(p.y - before[k].y) < 0.5,
      `point ${picked[k]} moved from ${JSON.stringify(before[k])} to ${JSON.stringify(p)}`));

    // each placed row lands near the digit it was made from
    const box = await plot.boundingBox();
    const distances = await page.evaluate((rows) => rows.map((row, k) => {
      const a = window.__streamingUmapPlot.placedToClient(k);
      const b = window.__streamingUmapPlot.pointToClient(row);
      return Math.hypot(a.x - b.x, a.y - b.y);
    }), picked);
    const median = [...distances].sort((a, b) => a - b)[Math.floor(distances.length / 2)];
    console.log(`placed rows: median ${median.toFixed(1)} px from their originals (plot ${Math.round(box.width)} x ${Math.round(box.height)})`);
    assert.ok(median < 0.05 * Math.min(box.width, box.height), `median distance ${median} px`);

    await page.waitForTimeout(200); // one animation frame
    const shot = await plot.screenshot();
    assert.ok(hasColour(shot, PLACED_FILL), 'the placed points are drawn in their own colour');
    const pixels = inkOf(shot);
    assert.ok(pixels.colours >= 5, `${pixels.colours} colours: the clusters stay coloured`);
    await page.screenshot({ path: join(SHOTS, 'screenshot-placed.png'), fullPage: true });
    await plot.screenshot({ path: join(RESULTS, 'screenshot-placed-plot.png') });

    // rows of 5 values into a 64-column model: the service's 422, in its own words
    await addPoints.setInputFiles(wrongFile);
    const error = page.getByTestId('place-error');
    await waitFor(() => error.isVisible(), 'the refusal', 30_000);
    const text = await error.textContent();
    console.log(`wrong width: ${text}`);
    assert.match(text, /^five-columns\.csv: .*\b64\b/);
    assert.match(text, /\b5\b/);
    assert.equal(await plot.getAttribute('data-placed'), '450');
    await page.screenshot({ path: join(RESULTS, 'screenshot-placed-refused.png'), fullPage: true });
    await context.close();
  });
});
