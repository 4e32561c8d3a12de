/**
 * A local HTTP + WebSocket server that speaks the streaming-umap protocol
 * (docs/API.md) with jobs that the test moves forward by hand. It lets unit tests
 * drive the real client through progress, drops, refused sockets and control
 * actions deterministically; the end-to-end tests use the real service.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { labelsFromNpy, matrixFromNpy } from '../../src/client/matrix';
import { writeNpy } from '../../src/client/npy';
import type { JobKind, StatusName } from '../../src/client/types';

const API = '/umap/streaming';
const TERMINAL = new Set<StatusName>(['completed', 'failed', 'cancelled']);

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string;
  authorization: string | null;
  body: Buffer;
}

/** A kept model: what `keep_model` left behind, as `GET /models` lists it. */
export interface ScriptedModel {
  model_id: string;
  job_id: string | null;
  rows: number;
  dims: number;
}

const kept = (params: Record<string, unknown>) => params.keep_model === true || params.keep_model === 'true';

interface Subscriber {
  socket: WebSocket;
  live: boolean;
}

export class ScriptedJob {
  status: StatusName = 'pending';
  stage = 'queued';
  progress = 0;
  seq = 0;
  epoch: number | null = null;
  error: string | null = null;
  result: Float32Array | Int32Array | null = null;
  /** Set when a job started with `keep_model` completes. */
  modelId: string | null = null;
  /** Called once when the job completes (the service keeps its model). */
  onComplete: ((job: ScriptedJob) => void) | null = null;
  readonly subscribers = new Set<Subscriber>();
  readonly createdAt = Date.now() / 1000;

  constructor(
    readonly id: string,
    readonly kind: JobKind,
    readonly rows: number,
    readonly cols: number,
    readonly params: Record<string, unknown>,
  ) {}

  fields(): Record<string, unknown> {
    return {
      job_id: this.id, status: this.status, stage: this.stage, total_points: this.rows,
      processed_points: Math.round((this.rows * this.progress) / 100), current_chunk: 0, total_chunks: 1,
      progress_percentage: this.progress, estimated_completion: null,
      eta_seconds: TERMINAL.has(this.status) ? 0 : 10, processing_time: 1, model_id: this.modelId,
    };
  }

  summary(): Record<string, unknown> | null {
    if (this.status !== 'completed' || this.result === null) return null;
    const urls = { result_url: `${API}/result/${this.id}`, npy_url: `${API}/result/${this.id}?format=npy` };
    if (this.kind === 'umap') return { n_rows: this.rows, n_components: 2, model_id: this.modelId, ...urls };
    if (this.kind === 'transform') return { n_rows: this.rows, n_components: 2, ...urls };
    return { n_clusters: new Set(this.result).size, noise_points: 0, ...urls };
  }

  statusBody(): Record<string, unknown> {
    return {
      ...this.fields(), kind: this.kind, result: this.summary(), error: this.error, warning: null,
      params: this.params, created_at: this.createdAt, started_at: null, finished_at: null,
      epoch: this.epoch, total_epochs: this.epoch === null ? null : 100, result_expired: false,
    };
  }

  frame(type: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    this.seq += 1;
    return { type, seq: this.seq, ...this.fields(), timestamp: Date.now() / 1000, ...extra };
  }

  broadcast(frame: Record<string, unknown>): void {
    const text = JSON.stringify(frame);
    for (const sub of this.subscribers) sub.socket.send(text);
    if (TERMINAL.has(this.status)) {
      for (const sub of this.subscribers) sub.socket.close(1000);
      this.subscribers.clear();
    }
  }

  /** Moves the job on and sends a progress frame. */
  advance(progress: number, stage = 'knn'): void {
    this.status = 'processing';
    this.stage = stage;
    this.progress = progress;
    this.broadcast(this.frame('progress'));
  }

  /** Sends an intermediate layout to live subscribers. */
  layout(epoch: number, values: Float32Array): void {
    this.epoch = epoch;
    const header = JSON.stringify({
      type: 'layout', job_id: this.id, epoch, rows: this.rows, n_components: 2, bytes: values.byteLength,
    });
    for (const sub of this.subscribers) {
      if (!sub.live) continue;
      sub.socket.send(header);
      sub.socket.send(Buffer.from(values.buffer, values.byteOffset, values.byteLength), { binary: true });
    }
  }

  complete(result?: Float32Array | Int32Array): void {
    this.result = result ?? (this.kind === 'cluster'
      ? Int32Array.from({ length: this.rows }, (_, i) => i % 3)
      : Float32Array.from({ length: this.rows * 2 }, (_, i) => i / 2));
    if (this.kind === 'umap' && kept(this.params)) this.modelId = this.id;
    this.onComplete?.(this);
    this.status = 'completed';
    this.stage = 'done';
    this.progress = 100;
    this.broadcast(this.frame('completed', { result: this.summary(), result_url: `${API}/result/${this.id}` }));
  }

  control(action: string): { ok: boolean; message: string } {
    if (TERMINAL.has(this.status)) return { ok: false, message: `job ${this.id} is ${this.status}` };
    if (action === 'cancel') {
      this.status = 'cancelled';
      this.error = 'cancelled on request';
      return { ok: true, message: 'cancelled' };
    }
    if (action === 'pause') {
      this.status = 'paused';
      return { ok: true, message: 'paused' };
    }
    if (this.status !== 'paused') return { ok: false, message: `job ${this.id} is ${this.status}, not paused` };
    this.status = 'processing';
    return { ok: true, message: 'resumed' };
  }
}

export class ScriptedService {
  readonly jobs = new Map<string, ScriptedJob>();
  readonly models = new Map<string, ScriptedModel>();
  readonly requests: RecordedRequest[] = [];
  /** Answer WebSocket upgrades with 503, as a proxy that blocks sockets would. */
  refuseSockets = false;
  snapshotsSent = 0;
  immediateThreshold = 10;
  /** As a service that requires keys: this one, on requests and sockets (null: none needed). */
  requiredKey: string | null = null;
  /** The subprotocols each socket offered. */
  readonly offeredProtocols: string[][] = [];
  private server: Server;
  private wss = new WebSocketServer({
    noServer: true,
    // as the service: echo the fixed protocol, never the entry that carries the key
    handleProtocols: (protocols) => {
      this.offeredProtocols.push([...protocols]);
      return protocols.has('streaming-umap.v1') ? 'streaming-umap.v1' : false;
    },
  });
  private nextId = 1;
  url = '';

  constructor() {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => {
      if (this.refuseSockets) {
        // The client may reset the connection as soon as it reads the 503; that reset is
        // the client's answer, not an error of this service (an unheard 'error' would be
        // an uncaught exception in the test run).
        socket.on('error', () => socket.destroy());
        socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, req));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Cuts every open socket without a close frame (as a network drop does). */
  dropSockets(): void {
    for (const ws of this.wss.clients) ws.terminate();
    for (const job of this.jobs.values()) job.subscribers.clear();
  }

  addJob(kind: JobKind, rows: number, cols = 4, params: Record<string, unknown> = {}): ScriptedJob {
    const job = new ScriptedJob(`job${this.nextId++}`, kind, rows, cols, params);
    job.onComplete = (done) => {
      if (done.modelId) this.models.set(done.modelId, { model_id: done.modelId, job_id: done.id, rows, dims: cols });
    };
    this.jobs.set(job.id, job);
    return job;
  }

  /** A kept model of `dims` columns, as a completed `keep_model` job leaves one. */
  addModel(dims: number, rows = 100): ScriptedModel {
    const model = { model_id: `model${this.nextId++}`, job_id: null, rows, dims };
    this.models.set(model.model_id, model);
    return model;
  }

  job(id: string): ScriptedJob {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`the scripted service has no job ${id}`);
    return job;
  }

  requestsTo(prefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const record: RecordedRequest = {
      method: req.method ?? 'GET', path: url.pathname, query: url.searchParams,
      contentType: req.headers['content-type'] ?? '', authorization: req.headers.authorization ?? null,
      body: Buffer.concat(chunks),
    };
    this.requests.push(record);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (this.requiredKey !== null && record.authorization !== `Bearer ${this.requiredKey}`) {
      send(401, { detail: 'this server requires an API key', field: null, row: null });
      return;
    }
    const route = url.pathname.replace(API, '');
    const [, action, id] = route.split('/');
    if (req.method === 'POST' && (action === 'umap' || action === 'cluster')) {
      this.submit(action, record, send);
      return;
    }
    if (action === 'transform' || action === 'models') {
      this.onModel(action, id ? this.models.get(id) : undefined, id, record, send);
      return;
    }
    const job = id ? this.jobs.get(id) : undefined;
    if (id && !job) {
      send(404, { detail: `no job with id '${id}'`, field: null, row: null });
      return;
    }
    if (job && action === 'status') {
      send(200, job.statusBody());
    } else if (job && action === 'result') {
      if (job.result === null) send(409, { detail: `job ${job.id} is ${job.status}`, field: null, row: null });
      else {
        const shape = job.kind === 'cluster' ? [job.rows] : [job.rows, 2];
        res.writeHead(200, { 'Content-Type': 'application/x-npy' });
        res.end(Buffer.from(writeNpy(job.result, shape)));
      }
    } else if (job && (action === 'cancel' || action === 'pause' || action === 'resume')) {
      const outcome = job.control(action);
      if (!outcome.ok) send(409, { detail: outcome.message, field: null, row: null });
      else {
        send(200, { job_id: job.id, status: job.status, message: outcome.message });
        job.broadcast(job.frame(job.status === 'processing' ? 'resumed' : job.status));
      }
    } else {
      send(404, { detail: `no route ${req.method} ${url.pathname}`, field: null, row: null });
    }
  }

  private onModel(action: string, model: ScriptedModel | undefined, id: string | undefined, record: RecordedRequest,
    send: (s: number, b: unknown) => void): void {
    if (!id && record.method === 'GET') {
      const models = [...this.models.values()];
      send(200, { models, count: models.length, total: models.length, next_after: null });
    } else if (!model) {
      send(404, { detail: `no model with id '${id}'`, field: null, row: null });
    } else if (action === 'transform' && record.method === 'POST') {
      this.submit('transform', record, send, model);
    } else if (record.method === 'DELETE') {
      this.models.delete(model.model_id);
      send(200, { model_id: model.model_id, message: 'deleted' });
    } else {
      send(200, model);
    }
  }

  private submit(kind: JobKind, record: RecordedRequest, send: (s: number, b: unknown) => void, model?: ScriptedModel): void {
    let rows: number;
    let cols: number;
    let params: Record<string, unknown>;
    let data: number[][] | null = null;
    if (record.contentType.startsWith('application/x-npy')) {
      const buffer = record.body.buffer.slice(record.body.byteOffset, record.body.byteOffset + record.body.byteLength);
      const m = matrixFromNpy(buffer as ArrayBuffer);
      [rows, cols] = [m.rows, m.cols];
      params = Object.fromEntries(record.query);
    } else {
      const body = JSON.parse(record.body.toString('utf8')) as { data?: unknown };
      if (!Array.isArray(body.data) || body.data.length === 0) {
        send(422, { detail: 'invalid `data`: expected a non-empty list of rows', field: 'data', row: null });
        return;
      }
      data = body.data as number[][];
      [rows, cols] = [data.length, data[0].length];
      const { data: _data, ...rest } = body;
      params = rest;
    }
    if (typeof params.init_from === 'string' && !this.models.has(params.init_from)) {
      send(404, { detail: `init_from: no model with id '${params.init_from}'`, field: 'init_from', row: null });
      return;
    }
    if (model && cols !== model.dims) {
      send(422, { detail: `expected rows of ${model.dims} values (the model's); found ${cols}`, field: 'data', row: null });
      return;
    }
    if (data !== null && rows < this.immediateThreshold) {
      const modelId = kind === 'umap' && kept(params) ? `model${this.nextId++}` : null;
      if (modelId) this.models.set(modelId, { model_id: modelId, job_id: null, rows, dims: cols });
      const answer = kind === 'cluster'
        ? { labels: data.map((_, i) => i % 2), n_clusters: 2, noise_points: 0, centers: null }
        : { embeddings: data.map((row) => [row[0], row[1]]), model_id: modelId };
      send(200, {
        job_id: 'immediate', status: 'completed', message: 'computed immediately', total_points: rows,
        estimated_chunks: 1, processing_time: 0.01, warning: null, ...answer,
      });
      return;
    }
    const job = this.addJob(kind, rows, cols, params);
    send(202, {
      job_id: job.id, status: 'started', message: `${kind} job queued (${rows} x ${cols})`, total_points: rows,
      estimated_chunks: 1, warning: null, status_url: `${API}/status/${job.id}`, ws_url: `${API}/ws/${job.id}`,
      model_id: kind === 'umap' && kept(params) ? job.id : null,
    });
  }

  private onSocket(ws: WebSocket, req: IncomingMessage): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const id = url.pathname.split('/').pop() ?? '';
    const job = this.jobs.get(id);
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (this.requiredKey !== null && !offered.includes(`streaming-umap.bearer.${this.requiredKey}`)) {
      ws.send(JSON.stringify({ type: 'error', job_id: id, message: 'this server requires an API key' }));
      ws.close(4401);
      return;
    }
    if (!job) {
      ws.send(JSON.stringify({ type: 'error', job_id: id, message: `no job with id '${id}'` }));
      ws.close(4404);
      return;
    }
    ws.send(JSON.stringify({ ...job.statusBody(), type: 'snapshot', seq: job.seq, timestamp: Date.now() / 1000 }));
    this.snapshotsSent += 1;
    if (TERMINAL.has(job.status)) {
      ws.send(JSON.stringify(job.frame(job.status)));
      ws.close(1000);
      return;
    }
    const sub: Subscriber = { socket: ws, live: url.searchParams.get('live') === '1' };
    job.subscribers.add(sub);
    ws.on('close', () => job.subscribers.delete(sub));
    ws.on('message', (raw) => {
      const { action } = JSON.parse(String(raw)) as { action: string };
      const outcome = job.control(action);
      ws.send(JSON.stringify({ ...job.frame('ack'), action, ...outcome }));
      if (outcome.ok) job.broadcast(job.frame(job.status === 'processing' ? 'resumed' : job.status));
    });
  }
}

export { labelsFromNpy, matrixFromNpy };
