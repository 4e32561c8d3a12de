// End-to-end: the page against a service that requires API keys. It asks for the key,
// says when one is refused, keeps the right one for the tab only, and runs a job with
// it over REST and the WebSocket (the key as a Sec-WebSocket-Protocol entry).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchBrowser } from './support/browser.mjs';
import { createKey, startService } from './support/service.mjs';
import { waitFor } from './support/wait.mjs';

let service;
let browser;
let key;

before(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sum-e2e-keys-'));
  key = createKey(dataDir);
  service = await startService({
    own: true, dataDir, apiKey: key,
    env: { STREAMING_UMAP_AUTH: 'required', STREAMING_UMAP_WARMUP: 'light', GPU_UMAP_MAX_CONCURRENT_JOBS: '1' },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await service?.stop();
});

describe('a service that requires API keys', () => {
  it('the page asks for a key, refuses a wrong one, and runs a live job with the right one', { timeout: 180_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const socketFrames = []; // what the job's WebSocket received: a snapshot once the key got it in
    page.on('websocket', (ws) => ws.on('framereceived', (frame) => {
      const text = String(frame.payload);
      socketFrames.push(text.includes('"type":"snapshot"') ? 'snapshot' : text.slice(0, 80));
    }));
    await page.goto(`${service.url}/`);
    const health = page.getByTestId('health');
    await waitFor(async () => /API key is needed/.test(await health.textContent()), 'the status-only health line');
    const prompt = page.getByRole('form', { name: 'API key' });
    await waitFor(() => prompt.isVisible(), 'the key prompt');

    await prompt.getByLabel('API key').fill('sumap_000000000000_' + 'x'.repeat(43));
    await prompt.getByRole('button', { name: 'Use key' }).click();
    await waitFor(async () => /refused this API key/.test(await prompt.textContent()), 'the refusal');

    await prompt.getByLabel('API key').fill(key);
    await prompt.getByRole('button', { name: 'Use key' }).click();
    await waitFor(async () => (await health.textContent()).startsWith('ok · cpu'), 'the full health line');
    assert.equal(await prompt.count(), 0);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('streaming-umap.api-key')), key);

    await page.getByLabel('n_epochs').fill('60');
    await page.getByRole('button', { name: 'Run UMAP' }).click();
    const job = page.locator('li.sum-job').first();
    await waitFor(async () => (await job.getAttribute('data-status')) === 'completed', 'the digits job', 150_000);
    await waitFor(async () => (await page.getByTestId('scatter').getAttribute('data-points')) === '1797', 'the layout');
    assert.ok(socketFrames.includes('snapshot'), `socket frames: ${socketFrames.slice(0, 3)}`);
    assert.ok(!socketFrames.some((f) => f.includes('API key')), 'no socket was refused');

    await page.reload(); // the same tab keeps its key
    await waitFor(async () => (await health.textContent()).startsWith('ok · cpu'), 'the health line after a reload');
    assert.equal(await page.getByRole('form', { name: 'API key' }).count(), 0);
    await context.close();

    const other = await browser.newContext(); // another tab of another session: asked again
    const fresh = await other.newPage();
    await fresh.goto(`${service.url}/`);
    await waitFor(() => fresh.getByRole('form', { name: 'API key' }).isVisible(), 'the prompt in a new session');
    await other.close();
  });
});
