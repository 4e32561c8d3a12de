import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { StreamingUMAPClient } from '../src/client/client';
import {
  ControlRefusedError, JobNotFoundError, ModelNotFoundError, StreamingUMAPError, UnauthorizedError,
} from '../src/client/errors';
import { immediateResult } from '../src/client/http';
import { matrixFromNpy } from '../src/client/matrix';
import type { SocketFactory } from '../src/client/subscription';
import type { JobView, LiveLayout, Transport } from '../src/client/types';
import { ScriptedService } from './support/scriptedService';
import { until } from './support/wait';

let service: ScriptedService;
let client: StreamingUMAPClient;

function makeClient(extra: Partial<ConstructorParameters<typeof StreamingUMAPClient>[0]> = {}) {
  return new StreamingUMAPClient({
    baseUrl: service.url, WebSocket: WebSocket as unknown as SocketFactory, pollIntervalMs: 30,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...extra,
  });
}

beforeEach(async () => {
  service = await new ScriptedService().start();
  client = makeClient();
});

afterEach(async () => {
  await service.stop();
});

function rows(n: number, cols = 3): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: cols }, (_, j) => i + j / 10));
}

describe('submitting', () => {
  it('answers small inputs immediately with the embeddings', async () => {
    const response = await client.startUMAP(rows(4), { n_neighbors: 3 });
    expect(response.job_id).toBe('immediate');
    expect(response.embeddings).toHaveLength(4);
    const typed = immediateResult(response, 'umap');
    expect(typed?.kind).toBe('umap');
    if (typed?.kind === 'umap') {
      expect([typed.embedding.rows, typed.embedding.cols]).toEqual([4, 2]);
      expect(typed.embedding.data[2]).toBeCloseTo(1);
    }
    const sent = JSON.parse(service.requestsTo('/umap/streaming/umap')[0].body.toString());
    expect(sent.n_neighbors).toBe(3);
  });

  it('sends a Matrix as a .npy body with the parameters in the query', async () => {
    const data = Float32Array.from({ length: 50 * 4 }, (_, i) => i);
    const response = await client.startClustering({ data, rows: 50, cols: 4 }, { algorithm: 'kmeans', n_clusters: 3 });
    expect(response.status).toBe('started');
    const [request] = service.requestsTo('/umap/streaming/cluster');
    expect(request.contentType).toBe('application/x-npy');
    expect(request.query.get('algorithm')).toBe('kmeans');
    expect(request.query.get('n_clusters')).toBe('3');
    const body = request.body.buffer.slice(request.body.byteOffset, request.body.byteOffset + request.body.byteLength);
    const m = matrixFromNpy(body as ArrayBuffer);
    expect([m.rows, m.cols]).toEqual([50, 4]);
    expect(m.data[199]).toBe(199);
  });

  it('turns an error body into an error that names the field', async () => {
    const error = await client.startUMAP([], {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamingUMAPError);
    expect((error as StreamingUMAPError).status).toBe(422);
    expect((error as StreamingUMAPError).field).toBe('data');
    expect(await client.status('nope').catch((e: unknown) => e)).toBeInstanceOf(JobNotFoundError);
  });
});

describe('following a job over the WebSocket', () => {
  it('gets a snapshot, progress, the completion and the typed result', async () => {
    const job = service.addJob('umap', 40);
    const views: JobView[] = [];
    const transports: Transport[] = [];
    const sub = client.subscribe(job.id, { onUpdate: (v) => views.push(v), onTransport: (t) => transports.push(t) });
    await until(() => views.length >= 1, 'the snapshot');
    expect(sub.transport).toBe('websocket');
    expect(views[0].kind).toBe('umap');
    job.advance(30);
    job.advance(60, 'layout');
    job.complete();
    const final = await sub.done;
    expect(final.status).toBe('completed');
    expect(views.map((v) => v.progress_percentage)).toEqual([0, 30, 60, 100]);
    expect(transports).toEqual(['websocket', 'closed']);
    expect(service.requestsTo('/umap/streaming/status')).toHaveLength(0);
    const result = await client.result(job.id, 'umap', final.result ?? {});
    expect(result.kind === 'umap' && result.embedding.data).toBeInstanceOf(Float32Array);
    if (result.kind === 'umap') expect(Array.from(result.embedding.data.slice(0, 4))).toEqual([0, 0.5, 1, 1.5]);
  });

  it('receives live layouts as Float32Array after their header', async () => {
    const job = service.addJob('umap', 5);
    const layouts: LiveLayout[] = [];
    const sub = client.subscribe(job.id, { live: true, liveEvery: 1, onLayout: (l) => layouts.push(l) });
    await until(() => sub.transport === 'websocket' && job.subscribers.size === 1, 'the socket');
    job.layout(3, Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    await until(() => layouts.length === 1, 'a layout');
    expect(layouts[0].epoch).toBe(3);
    expect([layouts[0].embedding.rows, layouts[0].embedding.cols]).toEqual([5, 2]);
    expect(Array.from(layouts[0].embedding.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    sub.close();
  });

  it('pauses, resumes and cancels over the socket', async () => {
    const job = service.addJob('umap', 40);
    const sub = client.subscribe(job.id);
    await until(() => sub.transport === 'websocket' && job.subscribers.size === 1, 'the socket');
    job.advance(10);
    expect((await sub.pause()).status).toBe('paused');
    await until(() => sub.view?.status === 'paused', 'the paused state');
    expect((await sub.resume()).status).toBe('processing');
    await expect(sub.resume()).rejects.toThrow(ControlRefusedError);
    expect((await sub.cancel()).status).toBe('cancelled');
    expect((await sub.done).status).toBe('cancelled');
    expect(service.requestsTo('/umap/streaming/pause')).toHaveLength(0);
    expect(service.requestsTo('/umap/streaming/cancel')).toHaveLength(0);
  });

  it('rejects for an unknown job (close code 4404)', async () => {
    await expect(client.subscribe('missing').done).rejects.toBeInstanceOf(JobNotFoundError);
  });
});

describe('falling back to polling', () => {
  it('polls the status (without the result) when the socket cannot open, and keeps retrying the socket', async () => {
    service.refuseSockets = true;
    const job = service.addJob('cluster', 40);
    const sub = client.subscribe(job.id);
    await until(() => sub.transport === 'polling' && sub.view !== null, 'a polled status');
    job.advance(50, 'cluster');
    await until(() => sub.view?.progress_percentage === 50, 'progress seen by polling');
    await until(() => sub.stats.socketFailures >= 2, 'socket retries');
    job.complete();
    const final = await sub.done;
    expect(final.status).toBe('completed');
    expect(final.result?.n_clusters).toBe(3);
    const polls = service.requestsTo('/umap/streaming/status');
    expect(polls.length).toBeGreaterThan(1);
    expect(polls.every((r) => r.query.get('include_result') === 'false')).toBe(true);
    expect(sub.stats.socketsOpened).toBe(0);
  });

  it('polls after a drop, reconnects, and resumes from a fresh snapshot', async () => {
    const job = service.addJob('umap', 40);
    const transports: Transport[] = [];
    const sub = client.subscribe(job.id, { onTransport: (t) => transports.push(t) });
    await until(() => job.subscribers.size === 1, 'the first socket');
    job.advance(20);
    await until(() => sub.view?.progress_percentage === 20, 'the first progress frame');
    service.refuseSockets = true;
    service.dropSockets();
    await until(() => sub.transport === 'polling', 'the fallback');
    job.advance(45); // nobody listens on a socket: only polling can see this
    await until(() => sub.view?.progress_percentage === 45, 'progress seen by polling');
    service.refuseSockets = false;
    await until(() => sub.transport === 'websocket' && job.subscribers.size === 1, 'the reconnect');
    expect(service.snapshotsSent).toBe(2);
    job.advance(80, 'layout');
    await until(() => sub.view?.progress_percentage === 80, 'a frame after the reconnect');
    job.complete();
    expect((await sub.done).status).toBe('completed');
    expect(transports).toEqual(['websocket', 'polling', 'websocket', 'closed']);
    expect(sub.stats.socketsOpened).toBe(2);
  });

  it('controls the job over REST while polling', async () => {
    const polling = makeClient({ WebSocket: null });
    const job = service.addJob('umap', 40);
    const sub = polling.subscribe(job.id);
    await until(() => sub.view !== null, 'a polled status');
    expect(sub.transport).toBe('polling');
    expect((await sub.pause()).status).toBe('paused');
    await until(() => sub.view?.status === 'paused', 'the paused state by polling');
    await expect(sub.resume()).resolves.toMatchObject({ status: 'processing' });
    await sub.cancel();
    expect((await sub.done).status).toBe('cancelled');
    expect(service.requestsTo('/umap/streaming/pause')).toHaveLength(1);
    expect(service.requestsTo('/umap/streaming/cancel')).toHaveLength(1);
  });

  it('rejects when polling finds no such job', async () => {
    const polling = makeClient({ WebSocket: null });
    await expect(polling.subscribe('missing').done).rejects.toBeInstanceOf(JobNotFoundError);
  });
});

describe('API keys', () => {
  it('sends the token on every request and as a socket subprotocol, never as the echoed one', async () => {
    service.requiredKey = 'sumap_0123456789ab_secret';
    const keyed = makeClient({ token: 'sumap_0123456789ab_secret' });
    const started = await keyed.startUMAP(rows(30));
    const job = service.job(started.job_id);
    const views: JobView[] = [];
    const sub = keyed.subscribe(job.id, { onUpdate: (v) => views.push(v) });
    await until(() => sub.transport === 'websocket', 'the socket');
    job.advance(40);
    job.complete();
    const done = await sub.done;
    expect(done.status).toBe('completed');
    expect(views.map((v) => v.status)).toContain('processing');
    expect(service.requests.every((r) => r.authorization === 'Bearer sumap_0123456789ab_secret')).toBe(true);
    expect(service.offeredProtocols).toEqual([['streaming-umap.v1', 'streaming-umap.bearer.sumap_0123456789ab_secret']]);
    expect(sub.stats.polls).toBe(0);
  });

  it('without a valid key: UnauthorizedError over REST, and the socket ends the subscription', async () => {
    const job = service.addJob('umap', 30);
    service.requiredKey = 'sumap_0123456789ab_right';
    const anonymous = makeClient();
    expect(await anonymous.status(job.id).catch((e: unknown) => e)).toBeInstanceOf(UnauthorizedError);
    const wrong = makeClient({ token: 'sumap_0123456789ab_wrong' });
    const sub = wrong.subscribe(job.id);
    const error = await sub.done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect((error as UnauthorizedError).status).toBe(401);
    expect(sub.stats.polls).toBe(0); // 4401: polling would be refused too
    wrong.setToken('sumap_0123456789ab_right');
    expect((await wrong.status(job.id)).job_id).toBe(job.id);
  });
});

describe('kept models and transform', () => {
  it('sends keep_model and init_from in a JSON body, and in the query with a .npy body', async () => {
    const model = service.addModel(3);
    const answer = await client.startUMAP(rows(4), { keep_model: true, init_from: model.model_id });
    expect(answer.model_id).toMatch(/^model\d+$/);
    const sent = JSON.parse(service.requestsTo('/umap/streaming/umap')[0].body.toString());
    expect([sent.keep_model, sent.init_from]).toEqual([true, model.model_id]);
    const started = await client.startUMAP({ data: new Float32Array(40), rows: 20, cols: 2 }, { keep_model: true });
    expect(started.model_id).toBe(started.job_id);
    expect(service.requestsTo('/umap/streaming/umap')[1].query.get('keep_model')).toBe('true');
    await expect(client.startUMAP(rows(4), { init_from: 'f'.repeat(32) })).rejects.toBeInstanceOf(ModelNotFoundError);
  });

  it('gives a completed keep_model job a model_id, then lists, reads and deletes the model', async () => {
    const started = await client.startUMAP(rows(30), { keep_model: true });
    const job = service.job(started.job_id);
    const views: JobView[] = [];
    const sub = client.subscribe(job.id, { onUpdate: (v) => views.push(v) });
    await until(() => job.subscribers.size === 1, 'the socket');
    job.advance(50, 'layout');
    job.complete();
    const done = await sub.done;
    expect(views.slice(0, -1).every((v) => v.model_id === null)).toBe(true);
    expect([done.model_id, done.result?.model_id]).toEqual([job.id, job.id]);
    const list = await client.models();
    expect([list.count, list.models[0].model_id, list.models[0].dims]).toEqual([1, job.id, 3]);
    expect((await client.model(job.id)).rows).toBe(30);
    expect((await client.deleteModel(job.id)).model_id).toBe(job.id);
    await expect(client.model(job.id)).rejects.toBeInstanceOf(ModelNotFoundError);
    await expect(client.deleteModel(job.id)).rejects.toBeInstanceOf(ModelNotFoundError);
  });

  it('places a few rows at once and more as a transform job, whose result is a Float32Array matrix', async () => {
    const model = service.addModel(3);
    const now = await client.startTransform(model.model_id, rows(4), { chunk_size: 500 });
    expect([now.job_id, now.embeddings]).toEqual(['immediate', [[0, 0.1], [1, 1.1], [2, 2.1], [3, 3.1]]]);
    const [request] = service.requestsTo(`/umap/streaming/transform/${model.model_id}`);
    expect(JSON.parse(request.body.toString()).chunk_size).toBe(500);
    const typed = immediateResult(now, 'transform');
    expect(typed?.kind === 'transform' && [typed.embedding.rows, typed.embedding.cols]).toEqual([4, 2]);

    const started = await client.startTransform(model.model_id, { data: new Float32Array(60), rows: 20, cols: 3 });
    expect(service.requestsTo('/umap/streaming/transform')[1].contentType).toBe('application/x-npy');
    const job = service.job(started.job_id);
    expect(job.kind).toBe('transform');
    const sub = client.subscribe(job.id);
    await until(() => job.subscribers.size === 1, 'the socket');
    expect((await sub.pause()).status).toBe('paused');
    await sub.resume();
    job.complete();
    const done = await sub.done;
    expect([done.kind, done.model_id]).toEqual(['transform', null]);
    const result = await client.result(job.id, 'transform');
    expect(result.kind === 'transform' && result.embedding.data).toBeInstanceOf(Float32Array);
  });

  it('transform() resolves with the positions whichever way the service answers', async () => {
    const model = service.addModel(3);
    const small = await client.transform(model.model_id, rows(2));
    expect(Array.from(small.data, (v) => Math.round(v * 10) / 10)).toEqual([0, 0.1, 1, 1.1]);
    const large = client.transform(model.model_id, rows(25));
    const job = await until(() => [...service.jobs.values()].find((j) => j.kind === 'transform' && j.subscribers.size > 0), 'the job');
    job.complete();
    const placed = await large;
    expect([placed.rows, placed.cols, placed.data[3]]).toEqual([25, 2, 1.5]);
  });

  it('rejects an unknown model (404) and rows of the wrong width (422, with the service\'s message)', async () => {
    await expect(client.startTransform('0'.repeat(32), rows(3))).rejects.toBeInstanceOf(ModelNotFoundError);
    const model = service.addModel(5);
    const error = await client.transform(model.model_id, rows(3)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamingUMAPError);
    expect([(error as StreamingUMAPError).status, (error as StreamingUMAPError).detail])
      .toEqual([422, "expected rows of 5 values (the model's); found 3"]);
  });
});
