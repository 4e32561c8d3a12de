// @vitest-environment jsdom
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, cleanup, renderHook } from '@testing-library/react';
import type { ReactNode } from 'react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { StreamingUMAPClient } from '../src/client/client';
import type { SocketFactory } from '../src/client/subscription';
import { StreamingUMAPProvider } from '../src/react/context';
import { useStreamingUMAP, type UseStreamingUMAPOptions } from '../src/react/useStreamingUMAP';
import { ScriptedService } from './support/scriptedService';
import { until } from './support/wait';

let service: ScriptedService;

beforeEach(async () => {
  service = await new ScriptedService().start();
});

afterEach(async () => {
  cleanup();
  await service.stop();
});

function setup(options: UseStreamingUMAPOptions = {}, socket: SocketFactory | null = WebSocket as unknown as SocketFactory) {
  const client = new StreamingUMAPClient({
    baseUrl: service.url, WebSocket: socket, pollIntervalMs: 30, reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const queryClient = new QueryClient();
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={queryClient}>
      <StreamingUMAPProvider client={client}>{children}</StreamingUMAPProvider>
    </QueryClientProvider>
  );
  return renderHook(() => useStreamingUMAP(options), { wrapper });
}

const rows = (n: number) => Array.from({ length: n }, (_, i) => [i, i * 2, 1]);

describe('useStreamingUMAP', () => {
  it('resolves an immediate answer with the embeddings and tracks no job', async () => {
    const { result } = setup();
    let started: Awaited<ReturnType<typeof result.current.startUMAPJob.mutateAsync>> | undefined;
    await act(async () => {
      started = await result.current.startUMAPJob.mutateAsync({ data: rows(3), n_neighbors: 2 });
    });
    expect(started?.job_id).toBe('immediate');
    expect(started?.embeddings).toEqual([[0, 0], [1, 2], [2, 4]]);
    expect(started?.typed?.kind === 'umap' && started.typed.embedding.data).toBeInstanceOf(Float32Array);
    expect(result.current.activeJobs).toHaveLength(0);
    expect(result.current.hasActiveJobs()).toBe(false);
  });

  it('shows a job in activeJobs with live progress, then its typed result', async () => {
    const { result } = setup();
    let jobId = '';
    await act(async () => {
      jobId = (await result.current.startUMAPJob.mutateAsync({ data: rows(20), label: 'twenty rows' })).job_id;
    });
    expect(result.current.activeJobs.map((j) => j.jobId)).toEqual([jobId]);
    expect(result.current.activeJobs[0].label).toBe('twenty rows');
    expect(result.current.hasActiveJobs()).toBe(true);
    const job = service.job(jobId);
    await until(() => job.subscribers.size === 1, 'the socket');
    act(() => job.advance(42, 'layout'));
    await until(() => result.current.activeJobs[0].progress_percentage === 42, 'progress in activeJobs');
    expect(result.current.activeJobs[0].stage).toBe('layout');
    expect(result.current.activeJobs[0].transport).toBe('websocket');
    act(() => job.complete());
    const done = await until(() => result.current.activeJobs[0].output, 'the typed result');
    expect(result.current.activeJobs[0].status).toBe('completed');
    expect(done.kind).toBe('umap');
    if (done.kind === 'umap') expect([done.embedding.rows, done.embedding.cols]).toEqual([20, 2]);
    expect(result.current.hasActiveJobs()).toBe(false);
    // the documented shape too, as the immediate answer has it, next to the summary
    const documented = result.current.activeJobs[0].result;
    expect(documented?.embeddings).toHaveLength(20);
    expect(documented?.embeddings?.[3]).toEqual([3, 3.5]);
    expect(documented?.embeddings).toBe(documented?.embeddings); // made once, on first read
    expect([documented?.n_rows, documented?.npy_url]).toEqual([20, `/umap/streaming/result/${jobId}?format=npy`]);
    expect(documented?.labels).toBeUndefined();
  });

  it('keeps job.result the summary until the arrays are fetched, and only then adds them', async () => {
    const { result } = setup({ fetchResults: false });
    let jobId = '';
    await act(async () => {
      jobId = (await result.current.startUMAPJob.mutateAsync({ data: rows(20) })).job_id;
    });
    expect(result.current.activeJobs[0].result).toBeNull();
    await until(() => service.job(jobId).subscribers.size === 1, 'the socket');
    act(() => service.job(jobId).complete());
    await until(() => result.current.activeJobs[0].status === 'completed', 'completed');
    expect(result.current.activeJobs[0].result?.n_rows).toBe(20);
    expect(result.current.activeJobs[0].result?.embeddings).toBeUndefined();
  });

  it('starts clustering on a Matrix and fetches Int32Array labels', async () => {
    const { result } = setup();
    let jobId = '';
    await act(async () => {
      const data = { data: Float32Array.from({ length: 30 }, (_, i) => i), rows: 15, cols: 2 };
      jobId = (await result.current.startClusteringJob.mutateAsync({ data, algorithm: 'kmeans', n_clusters: 3 })).job_id;
    });
    expect(service.requestsTo('/umap/streaming/cluster')[0].query.get('algorithm')).toBe('kmeans');
    await until(() => service.job(jobId).subscribers.size === 1, 'the socket');
    act(() => service.job(jobId).complete());
    const output = await until(() => result.current.activeJobs[0].output, 'the labels');
    expect(output.kind === 'cluster' && output.labels).toBeInstanceOf(Int32Array);
    if (output.kind === 'cluster') expect(output.nClusters).toBe(3);
    expect(result.current.activeJobs[0].result?.labels).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect(result.current.activeJobs[0].result?.n_clusters).toBe(3);
  });

  it('cancels, pauses and resumes jobs', async () => {
    const { result } = setup();
    let jobId = '';
    await act(async () => {
      jobId = (await result.current.startUMAPJob.mutateAsync({ data: rows(20) })).job_id;
    });
    await until(() => service.job(jobId).subscribers.size === 1, 'the socket');
    await act(async () => {
      await result.current.pauseJob.mutateAsync(jobId);
    });
    await until(() => result.current.activeJobs[0].status === 'paused', 'paused');
    await act(async () => {
      await result.current.resumeJob.mutateAsync(jobId);
    });
    await until(() => result.current.activeJobs[0].status === 'processing', 'resumed');
    act(() => result.current.cancelJob.mutate(jobId));
    await until(() => result.current.activeJobs[0].status === 'cancelled', 'cancelled');
    expect(result.current.hasActiveJobs()).toBe(false);
    expect(result.current.activeJobs[0].output).toBeNull();
  });

  it('follows a job by polling when sockets are refused, and reconnects when they come back', async () => {
    service.refuseSockets = true;
    const { result } = setup();
    const job = service.addJob('umap', 50);
    act(() => result.current.followJob(job.id));
    await until(() => result.current.activeJobs[0]?.transport === 'polling', 'polling');
    act(() => job.advance(35));
    await until(() => result.current.activeJobs[0].progress_percentage === 35, 'progress by polling');
    service.refuseSockets = false;
    await until(() => result.current.activeJobs[0].transport === 'websocket', 'the socket after a retry');
    act(() => job.complete());
    await until(() => result.current.activeJobs[0].output, 'the result');
    expect(service.requestsTo('/umap/streaming/status').every((r) => r.query.get('include_result') === 'false')).toBe(true);
  });

  it('follows by polling only when asked to', async () => {
    const { result } = setup({ forcePolling: true });
    const job = service.addJob('cluster', 50);
    act(() => result.current.followJob(job.id, { kind: 'cluster' }));
    await until(() => result.current.activeJobs[0]?.kind === 'cluster' && result.current.activeJobs[0].transport === 'polling', 'polling');
    act(() => job.complete());
    await until(() => result.current.activeJobs[0].output, 'the result');
    expect(service.snapshotsSent).toBe(0);
    expect(result.current.activeJobs[0].label).toBe(`Clustering · 50 rows · job ${job.id}`);
  });

  it('takes a token option: jobs start and are followed with the key', async () => {
    service.requiredKey = 'sumap_0123456789ab_hook';
    const { result } = setup({ token: 'sumap_0123456789ab_hook' });
    let jobId = '';
    await act(async () => {
      jobId = (await result.current.startUMAPJob.mutateAsync({ data: rows(20) })).job_id;
    });
    await until(() => result.current.activeJobs[0]?.transport === 'websocket', 'the socket');
    act(() => service.job(jobId).complete());
    await until(() => result.current.activeJobs[0]?.output, 'the result');
    expect(result.current.activeJobs[0].status).toBe('completed');
    expect(service.requests.every((r) => r.authorization === 'Bearer sumap_0123456789ab_hook')).toBe(true);
    expect(result.current.client.token).toBe('sumap_0123456789ab_hook');
  });
});

describe('useStreamingUMAP: kept models and transform', () => {
  it('keeps the model of a keep_model job: job.model_id once it has completed', async () => {
    const { result } = setup();
    let jobId = '';
    await act(async () => {
      jobId = (await result.current.startUMAPJob.mutateAsync({ data: rows(20), keep_model: true })).job_id;
    });
    expect(JSON.parse(service.requestsTo('/umap/streaming/umap')[0].body.toString()).keep_model).toBe(true);
    await until(() => service.job(jobId).subscribers.size === 1, 'the socket');
    act(() => service.job(jobId).advance(60, 'layout'));
    await until(() => result.current.activeJobs[0].progress_percentage === 60, 'progress');
    expect(result.current.activeJobs[0].model_id).toBeNull();
    act(() => service.job(jobId).complete());
    await until(() => result.current.activeJobs[0].output, 'the result');
    expect(result.current.activeJobs[0].model_id).toBe(jobId);
    expect(result.current.activeJobs[0].result?.model_id).toBe(jobId);
  });

  it('answers a few rows at once: the placed rows, and no job', async () => {
    const { result } = setup();
    const model = service.addModel(3);
    const started = await act(() => result.current.startTransformJob(model.model_id, rows(3)));
    expect([started.immediate, started.embeddings]).toEqual([true, [[0, 0], [1, 2], [2, 4]]]);
    expect(started.typed?.kind).toBe('transform');
    expect(result.current.activeJobs).toHaveLength(0);
  });

  it('tracks a transform job in activeJobs: progress, pause, resume, then job.result.embeddings', async () => {
    const { result } = setup();
    const model = service.addModel(3);
    const started = await act(() => result.current.startTransformJob(model.model_id, rows(20), {
      label: 'placing twenty', meta: { into: 'layout 1' }, chunk_size: 100,
    }));
    expect(started.immediate).toBe(false);
    const jobId = started.job_id;
    const sent = service.requestsTo(`/umap/streaming/transform/${model.model_id}`)[0];
    expect(JSON.parse(sent.body.toString()).chunk_size).toBe(100);
    expect(result.current.activeJobs[0]).toMatchObject({ jobId, kind: 'transform', label: 'placing twenty', meta: { into: 'layout 1' } });
    const job = service.job(jobId);
    await until(() => job.subscribers.size === 1, 'the socket');
    act(() => job.advance(40, 'transform'));
    await until(() => result.current.activeJobs[0].progress_percentage === 40, 'progress in activeJobs');
    await act(async () => {
      await result.current.pauseJob.mutateAsync(jobId);
    });
    await until(() => result.current.activeJobs[0].status === 'paused', 'paused');
    await act(async () => {
      await result.current.resumeJob.mutateAsync(jobId);
    });
    act(() => job.complete());
    const output = await until(() => result.current.activeJobs[0].output, 'the placed rows');
    expect(output.kind === 'transform' && [output.embedding.rows, output.embedding.cols]).toEqual([20, 2]);
    expect(result.current.activeJobs[0].result?.embeddings?.[3]).toEqual([3, 3.5]);
    expect(result.current.activeJobs[0].label).toBe('placing twenty');
  });

  it('names a transform job it was not given a name for, and cancels it', async () => {
    const { result } = setup();
    const model = service.addModel(3);
    const { job_id: jobId } = await act(() => result.current.startTransformJob(model.model_id, rows(20)));
    expect(result.current.activeJobs[0].label).toBe('Transform · 20 rows');
    await until(() => service.job(jobId).subscribers.size === 1, 'the socket');
    act(() => result.current.cancelJob.mutate(jobId));
    await until(() => result.current.activeJobs[0].status === 'cancelled', 'cancelled');
    expect(result.current.activeJobs[0].output).toBeNull();
  });

  it('rejects with the service\'s message for rows of the wrong width', async () => {
    const { result } = setup();
    const model = service.addModel(4);
    const error = await act(() => result.current.startTransformJob(model.model_id, rows(20)).catch((e: unknown) => e));
    expect((error as Error).message).toBe("422: expected rows of 4 values (the model's); found 3");
    expect(result.current.activeJobs).toHaveLength(0);
  });
});
