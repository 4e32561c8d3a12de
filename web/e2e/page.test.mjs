// End-to-end: the built page, served by the real service (started here), in
// headless Chromium. The long-task figures are printed and written to
// e2e/results/figures.json (not committed).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, webRoot } from '../scripts/paths.mjs';
import { launchBrowser, LONG_TASK_RECORDER } from './support/browser.mjs';
import { startLayoutStream } from './support/layoutStream.mjs';
import { inkOf } from './support/pixels.mjs';
import { startService } from './support/service.mjs';
import { waitFor } from './support/wait.mjs';

const RESULTS = join(webRoot, 'e2e', 'results');
// Screenshots land in e2e/results/; with UPDATE_SCREENSHOTS=1 in docs/ (the README shows one).
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs') : RESULTS;
const figures = {};
let service;
let browser;

async function openPage(query = '', { blockSockets = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.addInitScript(LONG_TASK_RECORDER);
  if (blockSockets) {
    // Every WebSocket to the service closes at once, as behind a proxy that drops them.
    await page.routeWebSocket(/\/umap\/streaming\/ws\//, (ws) => ws.close({ code: 1011, reason: 'blocked by the test' }));
  }
  await page.goto(`${service.url}/${query}`);
  return page;
}

/** The job card whose label starts with `label`. */
function card(page, label) {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return page.locator('li.sum-job').filter({ has: page.locator('.sum-label', { hasText: new RegExp(`^${escaped}`) }) });
}

async function longTasksBetween(page, start, end) {
  const tasks = await page.evaluate(() => window.__longTasks);
  const inside = tasks.filter((t) => t.start >= start && t.start <= end);
  return { count: inside.length, maxMs: Math.round(Math.max(0, ...inside.map((t) => t.duration))) };
}

before(async () => {
  mkdirSync(RESULTS, { recursive: true });
  const t0 = Date.now();
  service = await startService();
  figures.serviceReadySeconds = (Date.now() - t0) / 1000;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await service?.stop();
  writeFileSync(join(RESULTS, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  console.log(`figures: ${JSON.stringify(figures)}`);
});

function blobs(rows, dims) {
  // three well-separated groups, deterministic
  return Array.from({ length: rows }, (_, i) => Array.from({ length: dims }, (_, j) => (i % 3) * 10 + Math.sin(i * 7 + j) * 0.5));
}

describe('the page at /', () => {
  it('uploads a .csv and a .npy, parsed in a worker, and shows the immediate layouts', { timeout: 120_000 }, async () => {
    const page = await openPage();
    await waitFor(async () => (await page.getByTestId('health').textContent()).startsWith('ok'), 'the health line');
    const csv = ['a,b,c,d,e,f', ...blobs(300, 6).map((r) => r.join(','))].join('\n');
    await page.getByLabel('upload data').setInputFiles({ name: 'blobs.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await waitFor(async () => (await page.getByTestId('file-info').textContent().catch(() => '')) === 'blobs.csv: 300 × 6', 'the parsed CSV');
    await page.getByRole('button', { name: 'Run UMAP' }).click();
    const plot = page.getByTestId('scatter');
    await waitFor(async () => (await plot.getAttribute('data-points')) === '300', 'the immediate layout of the CSV');
    await waitFor(async () => (await page.getByLabel('colour by').inputValue()) === 'layout', 'the immediate clustering');
    await page.waitForTimeout(200);
    const pixels = inkOf(await plot.screenshot());
    assert.ok(pixels.ink > 500 && pixels.colours >= 3, `CSV plot: ${JSON.stringify(pixels)}`);

    const values = Float32Array.from(blobs(500, 4).flat());
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (500, 4), }";
    header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
    const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 255, header.length >> 8]);
    const npy = Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(values.buffer)]);
    await page.getByLabel('upload data').setInputFiles({ name: 'blobs.npy', mimeType: 'application/octet-stream', buffer: npy });
    await waitFor(async () => (await page.getByTestId('file-info').textContent().catch(() => '')) === 'blobs.npy: 500 × 4', 'the parsed .npy');
    await page.getByRole('button', { name: 'Run UMAP' }).click();
    await waitFor(async () => (await plot.getAttribute('data-points')) === '500', 'the immediate layout of the .npy');
    await page.getByLabel('upload data').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('1,2\n3\n') });
    await waitFor(async () => /line 2 has 1/.test(await page.getByRole('alert').textContent().catch(() => '')), 'the parse error');
    await page.context().close();
  });

  it('runs the digits demo live: progress moves, pause and resume, the plot draws and colours by cluster', { timeout: 180_000 }, async () => {
    const page = await openPage();
    await waitFor(async () => (await page.getByTestId('health').textContent()).startsWith('ok'), 'the health line');
    await page.getByLabel('n_epochs').fill('1000');
    await page.getByRole('button', { name: 'Run UMAP' }).click();
    const job = card(page, 'UMAP · digits demo');
    const bar = job.getByRole('progressbar');
    await waitFor(async () => (await job.getAttribute('data-status')) === 'processing', 'the job to start');
    const seen = new Set();
    await waitFor(async () => {
      seen.add(Number(await bar.getAttribute('aria-valuenow')));
      return [...seen].filter((v) => v > 0 && v < 100).length >= 2;
    }, 'the progress bar to move');
    await job.getByRole('button', { name: 'Pause' }).click();
    await waitFor(async () => (await job.getAttribute('data-status')) === 'paused', 'the paused state');
    const held = Number(await bar.getAttribute('aria-valuenow'));
    assert.match(await job.getByTestId('job-eta').textContent(), /paused/);
    await job.getByRole('button', { name: 'Resume' }).click();
    await waitFor(async () => (await job.getAttribute('data-status')) === 'completed', 'the job to complete', 120_000);
    assert.equal(Number(await bar.getAttribute('aria-valuenow')), 100);
    assert.ok(held < 100, `held at ${held} %`);
    const uploads = await page.evaluate(() => window.__streamingUmapPlot.stats().uploads);
    assert.ok(uploads >= 3, `the plot animated through ${uploads} layouts`);

    // The finished layout is clustered (HDBSCAN on the layout) and coloured by it.
    const clusters = card(page, 'Clusters · UMAP · digits demo');
    await waitFor(async () => (await clusters.getAttribute('data-status')) === 'completed', 'the clustering', 120_000);
    await waitFor(async () => (await page.getByLabel('colour by').inputValue()) === 'layout', 'colours by cluster');
    const plot = page.getByTestId('scatter');
    assert.equal(await plot.getAttribute('data-points'), '1797');
    await page.waitForTimeout(200); // one animation frame to draw the new colours
    const pixels = inkOf(await plot.screenshot());
    assert.ok(pixels.ink > 2000, `${pixels.ink} inked pixels`);
    assert.ok(pixels.colours >= 5, `${pixels.colours} colours`);

    // Hover shows the row and its cluster; wheel zooms, drag pans.
    const p = await page.evaluate(() => window.__streamingUmapPlot.pointToClient(100));
    await page.mouse.move(p.x, p.y);
    const tooltip = page.getByTestId('tooltip');
    await waitFor(() => tooltip.isVisible(), 'the tooltip');
    assert.match(await tooltip.textContent(), /row \d+.*(cluster (\d+|noise)).*class \d/);
    await job.locator('summary').click(); // the page grows a scrollbar: the plot shrinks a little
    await page.waitForTimeout(200);
    const again = await page.evaluate(() => window.__streamingUmapPlot.pointToClient(100));
    await page.mouse.move(again.x, again.y);
    await waitFor(() => tooltip.isVisible(), 'the tooltip again');
    await page.screenshot({ path: join(SHOTS, 'screenshot-digits.png'), fullPage: true });
    const spread = () => page.evaluate(() => {
      const [a, b] = [window.__streamingUmapPlot.pointToClient(100), window.__streamingUmapPlot.pointToClient(1500)];
      return Math.hypot(a.x - b.x, a.y - b.y);
    });
    const spreadBefore = await spread();
    await page.mouse.move(again.x, again.y);
    await page.mouse.wheel(0, -600);
    await waitFor(async () => (await spread()) > spreadBefore * 1.5, 'the wheel to zoom in');
    const before = await page.evaluate(() => window.__streamingUmapPlot.pointToClient(100));
    await page.mouse.move(before.x + 5, before.y + 5);
    await page.mouse.down();
    await page.mouse.move(before.x + 65, before.y + 45, { steps: 4 });
    await page.mouse.up();
    const panned = await page.evaluate(() => window.__streamingUmapPlot.pointToClient(100));
    assert.ok(Math.abs(panned.x - before.x - 60) < 2 && Math.abs(panned.y - before.y - 40) < 2,
      `dragging by (60, 40) moved the point by (${panned.x - before.x}, ${panned.y - before.y})`);
    await page.context().close();
  });

  it('cancels a running 100k x 512 job while a second tab follows it by polling with sockets blocked', { timeout: 180_000 }, async () => {
    const page = await openPage();
    await page.getByRole('radio', { name: /Mixture demo/ }).check();
    await page.getByRole('button', { name: 'Run UMAP' }).click();
    const job = card(page, 'UMAP · mixture demo (100,000 × 512)');
    await waitFor(() => job.isVisible(), 'the job card', 60_000);
    const jobId = await job.getAttribute('data-job-id');

    const follower = await openPage(`?job=${jobId}`, { blockSockets: true });
    const polls = [];
    follower.on('request', (r) => { if (r.url().includes(`/status/${jobId}`)) polls.push(r.url()); });
    const followed = follower.locator(`li.sum-job[data-job-id="${jobId}"]`);
    await waitFor(async () => (await followed.getByTestId('job-transport').textContent().catch(() => '')) === 'polling',
      'the follower to fall back to polling');
    await waitFor(async () => (await followed.getAttribute('data-status')) === 'processing', 'the follower to see it run');
    assert.equal(await followed.getByTestId('job-transport').textContent(), 'polling');

    await job.getByRole('button', { name: 'Cancel' }).click();
    await waitFor(async () => (await job.getAttribute('data-status')) === 'cancelled', 'the cancellation', 60_000);
    await waitFor(async () => (await followed.getAttribute('data-status')) === 'cancelled', 'the follower to see it', 30_000);
    assert.ok(polls.length >= 2, `${polls.length} polls`);
    assert.ok(polls.every((u) => u.includes('include_result=false')), 'polls leave the result out');
    const status = await (await fetch(`${service.url}/umap/streaming/status/${jobId}?include_result=false`)).json();
    assert.equal(status.status, 'cancelled');
    await follower.screenshot({ path: join(SHOTS, 'screenshot-polling-cancelled.png') });
    await follower.context().close();
    await page.context().close();
  });

  it('draws 100k points while receiving 10 layouts/s, and measures main-thread long tasks', { timeout: 120_000 }, async () => {
    const stream = await startLayoutStream({ rows: 100_000, fps: 10, frames: 80 });
    try {
      const page = await openPage(`?api=${encodeURIComponent(stream.url)}&job=${stream.jobId}&live=1`);
      const job = page.locator(`li.sum-job[data-job-id="${stream.jobId}"]`);
      await waitFor(async () => (await page.evaluate(() => window.__streamingUmapPlot?.stats().uploads ?? 0)) >= 5,
        'the first layouts', 30_000);
      const [start, uploads0] = await page.evaluate(() => [performance.now(), window.__streamingUmapPlot.stats().uploads]);
      await waitFor(async () => (await job.getAttribute('data-status')) === 'completed', 'the end of the stream', 60_000);
      const [end, uploads1] = await page.evaluate(() => [performance.now(), window.__streamingUmapPlot.stats().uploads]);
      const seconds = (end - start) / 1000;
      const tasks = await longTasksBetween(page, start, end);
      figures.stream = {
        points: 100_000, seconds: Math.round(seconds * 10) / 10,
        layoutsPerSecond: Math.round(((uploads1 - uploads0) / seconds) * 10) / 10,
        longTasks: tasks.count, longestTaskMs: tasks.maxMs,
      };
      console.log(`long tasks while drawing 100k points at ${figures.stream.layoutsPerSecond} layouts/s: ${JSON.stringify(figures.stream)}`);
      assert.equal(await page.getByTestId('scatter').getAttribute('data-points'), '100000');
      assert.ok(figures.stream.layoutsPerSecond >= 5, `${figures.stream.layoutsPerSecond} layouts/s drawn`);
      const pixels = inkOf(await page.getByTestId('scatter').screenshot());
      assert.ok(pixels.ink > 10_000, `${pixels.ink} inked pixels`);
      const p = await page.evaluate(() => window.__streamingUmapPlot.pointToClient(4242));
      await page.mouse.move(p.x, p.y);
      await waitFor(() => page.getByTestId('tooltip').isVisible(), 'the tooltip over 100k points');
      await page.screenshot({ path: join(SHOTS, 'screenshot-100k.png') });
      if (process.env.STREAMING_UMAP_STRICT_LONGTASKS === '1') assert.equal(tasks.count, 0, `long tasks: ${JSON.stringify(tasks)}`);
      await page.context().close();
    } finally {
      await stream.stop();
    }
  });
});
