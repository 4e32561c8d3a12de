// A source of live layouts at a fixed rate, for measuring the page under load:
// one job of `rows` points whose layout converges from noise to 20 clusters,
// sent as the service sends it (progress frame, `layout` header, binary float32
// frame) `fps` times a second. The real service on this 2-core machine produces
// 100k-point layouts only ~3 times a second, so it cannot supply this load.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const API = '/umap/streaming';

function mulberry32(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function layouts(rows, clusters = 20) {
  const rand = mulberry32(7);
  const start = new Float32Array(rows * 2);
  const end = new Float32Array(rows * 2);
  const centres = Array.from({ length: clusters }, () => [rand() * 20 - 10, rand() * 20 - 10]);
  for (let i = 0; i < rows; i++) {
    const c = centres[i % clusters];
    start[2 * i] = rand() * 4 - 2;
    start[2 * i + 1] = rand() * 4 - 2;
    const a = rand() * Math.PI * 2;
    const r = Math.sqrt(rand()) * 1.2;
    end[2 * i] = c[0] + r * Math.cos(a);
    end[2 * i + 1] = c[1] + r * Math.sin(a);
  }
  return { start, end };
}

function npy(values, rows) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, 2), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(values.buffer)]);
}

// `holdResult`: the result request waits until `releaseResult()`, to see the page between the
// terminal frame and the fetched result.
export async function startLayoutStream({ rows = 100_000, fps = 10, frames = 60, holdResult = false } = {}) {
  const jobId = 'layout-stream';
  const { start, end } = layouts(rows);
  const state = { frame: 0, status: 'processing', sent: 0, seq: 1, resultRequests: 0 };
  let releaseResult;
  const released = holdResult ? new Promise((resolve) => { releaseResult = resolve; }) : Promise.resolve();
  const fields = () => ({
    job_id: jobId, status: state.status, stage: state.status === 'completed' ? 'done' : 'layout',
    total_points: rows, processed_points: rows, current_chunk: 1, total_chunks: 1,
    progress_percentage: Math.round((1000 * state.frame) / frames) / 10,
    estimated_completion: null, eta_seconds: Math.max(0, (frames - state.frame) / fps), processing_time: state.frame / fps,
    epoch: state.frame, total_epochs: frames,
  });
  const summary = () => (state.status === 'completed'
    ? { n_rows: rows, n_components: 2, result_url: `${API}/result/${jobId}`, npy_url: `${API}/result/${jobId}?format=npy` }
    : null);
  const status = () => ({
    ...fields(), kind: 'umap', result: summary(), error: null, warning: null, params: { n_components: 2 },
    created_at: 0, started_at: 0, finished_at: null, result_expired: false,
  });
  const cors = { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'application/json' };
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === `${API}/result/${jobId}` && state.status === 'completed') {
      state.resultRequests += 1;
      void released.then(() => {
        res.writeHead(200, { ...cors, 'Content-Type': 'application/x-npy' });
        res.end(npy(end, rows));
      });
    } else if (path === `${API}/status/${jobId}`) {
      res.writeHead(200, cors);
      res.end(JSON.stringify(status()));
    } else if (path === '/health') {
      res.writeHead(200, cors);
      res.end(JSON.stringify({ status: 'ok', version: 'stream', backend: 'stream', device: 'layout stream',
        workers: { total: 1, alive: 1, warming: 0, busy: 1, idle: 0, immediate: 0 }, queue_depth: 0, max_queue: 1,
        active_jobs: 1, uptime_seconds: 1, gpu: null }));
    } else {
      res.writeHead(404, cors);
      res.end(JSON.stringify({ detail: `no route ${path}`, field: null, row: null }));
    }
  });
  const wss = new WebSocketServer({ server });
  const current = new Float32Array(rows * 2);
  wss.on('connection', (ws, req) => {
    if (!req.url.includes(`/ws/${jobId}`)) {
      ws.close(4404);
      return;
    }
    ws.send(JSON.stringify({ ...status(), type: 'snapshot', seq: state.seq, timestamp: Date.now() / 1000 }));
    const timer = setInterval(() => {
      state.frame += 1;
      state.seq += 1;
      if (state.frame >= frames) {
        clearInterval(timer);
        state.status = 'completed';
        ws.send(JSON.stringify({ ...fields(), type: 'completed', seq: state.seq, timestamp: Date.now() / 1000,
          result: summary(), result_url: `${API}/result/${jobId}` }));
        ws.close(1000);
        return;
      }
      const t = 1 - (1 - state.frame / frames) ** 3;
      for (let i = 0; i < current.length; i++) current[i] = start[i] + (end[i] - start[i]) * t;
      ws.send(JSON.stringify({ ...fields(), type: 'progress', seq: state.seq, timestamp: Date.now() / 1000 }));
      ws.send(JSON.stringify({ type: 'layout', job_id: jobId, epoch: state.frame, rows, n_components: 2, bytes: current.byteLength }));
      ws.send(Buffer.from(current.buffer), { binary: true });
      state.sent += 1;
    }, 1000 / fps);
    ws.on('close', () => clearInterval(timer));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url, jobId, state, end,
    releaseResult: () => releaseResult?.(),
    stop: () => new Promise((resolve) => {
      releaseResult?.();
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
