// Debian's Chromium, headless, driven by playwright-core (no browser download).
//
// WebGL runs on SwiftShader in the GPU process (--use-angle=swiftshader) rather than
// with --disable-gpu: with --disable-gpu the compositor is software and every WebGL
// frame is read back synchronously on the page's main thread (measured: ~100 ms per
// 100k-point frame here), which no browser with a GPU does. CHROMIUM_FLAGS overrides.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM_FLAGS = (process.env.CHROMIUM_FLAGS ?? [
  '--headless', '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
].join(' ')).split(' ');

export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`expected Chromium at ${executablePath} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  }
  return chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
}

/** Records main-thread long tasks (PerformanceObserver 'longtask') from page load on. */
export const LONG_TASK_RECORDER = `
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
`;
