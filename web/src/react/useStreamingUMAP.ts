/**
 * `useStreamingUMAP()`: start UMAP and clustering jobs as TanStack Query mutations,
 * place new rows into a kept model (`startTransformJob`), and follow them live. Needs a
 * `QueryClientProvider` above it.
 *
 * An immediate answer (`job_id === "immediate"`) resolves with the result itself; a
 * background job appears in `activeJobs`, is updated by its frames (or by polling), and
 * once completed and fetched carries its result twice: as typed arrays in `job.output`,
 * and in the documented shape in `job.result` (`embeddings` for UMAP and transform,
 * `labels` for clustering), as the immediate answer has it.
 */

import { useMutation, type UseMutationResult } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { StreamingUMAPClient } from '../client/client';
import { immediateResult, type Data } from '../client/http';
import { matrixToRows } from '../client/matrix';
import type { JobSubscription } from '../client/subscription';
import {
  isTerminal,
  type ClusterParams,
  type CompletedResult,
  type ControlResponse,
  type DemoName,
  type DemoSize,
  type FitKind,
  type JobKind,
  type JobResult,
  type JobView,
  type LiveLayout,
  type ResultSummary,
  type SubmitResponse,
  type TransformParams,
  type Transport,
  type UMAPParams,
} from '../client/types';
import { useStreamingUMAPClient } from './context';

/** Where a job's data comes from: rows, a Matrix (sent as .npy), or a demo set made on the server. */
export type JobData = Data | { demo: DemoName; size?: DemoSize };

interface JobExtras {
  /** A name to show for the job (default: its kind and size). */
  label?: string;
  /** Free-form data the caller wants back on the job (e.g. what the job was started from). */
  meta?: Record<string, unknown>;
}

export interface UMAPJobParams extends Partial<UMAPParams>, JobExtras {
  data: JobData;
  /** Stream intermediate layouts (`?live=1`); they land in `job.layout`. */
  live?: boolean;
  liveEvery?: number;
}

export interface ClusterJobParams extends Partial<ClusterParams>, JobExtras {
  data: JobData;
}

/** `startTransformJob`'s options: the service's (`chunk_size`), and the job's name and meta. */
export interface TransformJobOptions extends Partial<TransformParams>, JobExtras {}

/** The service's answer, plus the typed result when it was immediate. */
export type StartedJob = SubmitResponse & { immediate: boolean; typed: JobResult | null };

export interface ActiveJob extends JobView {
  jobId: string;
  kind: JobKind;
  label: string;
  meta: Record<string, unknown>;
  transport: Transport;
  /**
   * The summary while the result is being fetched; then also `embeddings` (UMAP, and the
   * placed rows of a transform) or `labels` (clustering), as documented for `GET /status`
   * (null until completed). `job.model_id` (and `result.model_id`): the model a completed
   * UMAP job started with `keep_model` kept.
   */
  result: CompletedResult | null;
  /** The newest intermediate layout (UMAP jobs started with `live`). */
  layout: LiveLayout | null;
  /** The result as typed arrays, once completed and fetched. */
  output: JobResult | null;
  /** Why the result could not be fetched, if it could not. */
  outputError: string | null;
}

export interface UseStreamingUMAPOptions {
  client?: StreamingUMAPClient;
  /**
   * API key for a service that requires keys: set on the client (requests and sockets
   * from now on). Left out, the client's own key (if any) stays.
   */
  token?: string | null;
  /** Follow jobs by polling only (no WebSocket). */
  forcePolling?: boolean;
  /** Fetch each completed job's result as typed arrays (default true). */
  fetchResults?: boolean;
}

export interface FollowOptions extends JobExtras {
  kind?: JobKind;
  live?: boolean;
  liveEvery?: number;
}

export interface UseStreamingUMAP {
  startUMAPJob: UseMutationResult<StartedJob, Error, UMAPJobParams>;
  startClusteringJob: UseMutationResult<StartedJob, Error, ClusterJobParams>;
  /**
   * Places rows into a kept model's layout (`model_id` of a `keep_model` UMAP job or answer):
   * resolves with the immediate answer (`embeddings`), or with the job's answer while the
   * job (kind `transform`) runs in `activeJobs`. Rejects with the service's error (404 unknown
   * model, 409 still being fitted, 422 wrong number of columns).
   */
  startTransformJob: (modelId: string, data: Data, options?: TransformJobOptions) => Promise<StartedJob>;
  cancelJob: UseMutationResult<ControlResponse, Error, string>;
  pauseJob: UseMutationResult<ControlResponse, Error, string>;
  resumeJob: UseMutationResult<ControlResponse, Error, string>;
  /** Jobs started or followed here, newest first; finished ones stay until removed. */
  activeJobs: ActiveJob[];
  hasActiveJobs: () => boolean;
  /** Follows a job started elsewhere (another tab, the Python client). */
  followJob: (jobId: string, options?: FollowOptions) => void;
  removeJob: (jobId: string) => void;
  clearFinished: () => void;
  client: StreamingUMAPClient;
}

const UMAP_FIELDS = [
  'n_components', 'n_neighbors', 'min_dist', 'metric', 'random_state', 'n_epochs', 'chunk_size', 'keep_model', 'init_from',
] as const;
const CLUSTER_FIELDS = [
  'algorithm', 'n_clusters', 'eps', 'min_samples', 'min_cluster_size', 'metric', 'random_state', 'chunk_size',
] as const;
const TRANSFORM_FIELDS = ['chunk_size'] as const;
const KIND_NAMES: Record<JobKind, string> = { umap: 'UMAP', cluster: 'Clustering', transform: 'Transform' };

function pick<T extends object>(source: T, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = (source as Record<string, unknown>)[f];
    if (v !== undefined) out[f] = v;
  }
  return out;
}

function describe(kind: JobKind, data: JobData, response: SubmitResponse): string {
  const what = KIND_NAMES[kind];
  if ('demo' in data) return `${what} · ${data.demo} demo (${response.total_points.toLocaleString('en-US')} rows)`;
  return `${what} · ${response.total_points.toLocaleString('en-US')} rows`;
}

/**
 * The summary with the fetched rows added in the documented shape. The plain arrays are
 * made on first read only, so that a page drawing `output` never pays for them.
 */
export function documentedResult(output: JobResult, summary: ResultSummary | null | undefined): CompletedResult {
  const result: CompletedResult = { ...summary };
  const key = output.kind === 'cluster' ? 'labels' : 'embeddings';
  let rows: number[][] | number[] | undefined;
  Object.defineProperty(result, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      rows ??= output.kind === 'cluster' ? Array.from(output.labels) : matrixToRows(output.embedding);
      return rows;
    },
  });
  return result;
}

function placeholder(jobId: string, kind: JobKind, extras: JobExtras, totalPoints: number): ActiveJob {
  return {
    jobId, job_id: jobId, kind, label: extras.label ?? `${kind} ${jobId.slice(0, 8)}`, meta: extras.meta ?? {},
    status: 'pending', stage: 'queued', total_points: totalPoints, processed_points: 0, current_chunk: 0,
    total_chunks: 0, progress_percentage: 0, estimated_completion: null, eta_seconds: null, processing_time: 0,
    seq: -1, receivedAt: Date.now(), transport: 'connecting', result: null, layout: null, output: null,
    outputError: null,
  };
}

export function useStreamingUMAP(options: UseStreamingUMAPOptions = {}): UseStreamingUMAP {
  const contextClient = useStreamingUMAPClient();
  const client = options.client ?? contextClient;
  // before any request of this render's effects and mutations
  if (options.token !== undefined && client.token !== (options.token?.trim() || null)) client.setToken(options.token);
  const { forcePolling = false, fetchResults = true } = options;
  const [jobs, setJobs] = useState<ActiveJob[]>([]);
  const subscriptions = useRef(new Map<string, JobSubscription>());
  const mounted = useRef(true);

  const update = useCallback((jobId: string, change: (job: ActiveJob) => Partial<ActiveJob>) => {
    if (!mounted.current) return;
    setJobs((list) => list.map((job) => (job.jobId === jobId ? { ...job, ...change(job) } : job)));
  }, []);

  const follow = useCallback((jobId: string, kind: JobKind | undefined, extras: FollowOptions, totalPoints = 0) => {
    if (subscriptions.current.has(jobId)) return;
    setJobs((list) => [placeholder(jobId, kind ?? 'umap', extras, totalPoints), ...list.filter((j) => j.jobId !== jobId)]);
    const named = extras.label !== undefined;
    const sub = client.subscribe(jobId, {
      live: extras.live, liveEvery: extras.liveEvery, forcePolling,
      onUpdate: (view) => update(jobId, (job) => {
        const jobKind = view.kind ?? job.kind;
        const label = named ? job.label : `${KIND_NAMES[jobKind]} · `
          + `${view.total_points.toLocaleString('en-US')} rows · job ${jobId.slice(0, 8)}`;
        return { ...view, result: view.result ?? null, kind: jobKind, label };
      }),
      onLayout: (layout) => update(jobId, () => ({ layout })),
      onTransport: (transport) => update(jobId, () => ({ transport })),
    });
    subscriptions.current.set(jobId, sub);
    sub.done.then(async (view) => {
      if (!fetchResults || view.status !== 'completed') return;
      try {
        const output = await client.result(jobId, view.kind ?? kind ?? 'umap', view.result ?? {});
        update(jobId, (job) => ({ output, result: documentedResult(output, job.result ?? view.result) }));
      } catch (error) {
        update(jobId, () => ({ outputError: String(error) }));
      }
    }, (error: unknown) => {
      if (subscriptions.current.get(jobId) === sub) {
        update(jobId, () => ({ outputError: error instanceof Error ? error.message : String(error) }));
      }
    });
  }, [client, forcePolling, fetchResults, update]);

  useEffect(() => {
    mounted.current = true;
    const subs = subscriptions.current;
    return () => {
      mounted.current = false;
      for (const sub of subs.values()) sub.close();
      subs.clear();
    };
  }, []);

  /** The immediate answer as it is; a job's answer once the job is followed in activeJobs. */
  const settle = useCallback((kind: JobKind, data: JobData, response: SubmitResponse, extras: FollowOptions): StartedJob => {
    if (response.job_id === 'immediate') {
      return { ...response, immediate: true, typed: immediateResult(response, kind) };
    }
    follow(response.job_id, kind, { ...extras, label: extras.label ?? describe(kind, data, response) }, response.total_points);
    return { ...response, immediate: false, typed: null };
  }, [follow]);

  const start = useCallback(async (kind: FitKind, params: UMAPJobParams | ClusterJobParams): Promise<StartedJob> => {
    const apiParams = pick(params, kind === 'umap' ? UMAP_FIELDS : CLUSTER_FIELDS);
    const data = params.data;
    let response: SubmitResponse;
    if ('demo' in data) response = await client.startDemo(data.demo, kind, apiParams, data.size);
    else if (kind === 'umap') response = await client.startUMAP(data, apiParams);
    else response = await client.startClustering(data, apiParams);
    const live = kind === 'umap' ? (params as UMAPJobParams).live : false;
    const liveEvery = kind === 'umap' ? (params as UMAPJobParams).liveEvery : undefined;
    return settle(kind, data, response, { label: params.label, meta: params.meta, live, liveEvery });
  }, [client, settle]);

  const startTransformJob = useCallback(async (modelId: string, data: Data, options: TransformJobOptions = {}) => {
    const response = await client.startTransform(modelId, data, pick(options, TRANSFORM_FIELDS));
    return settle('transform', data, response, { label: options.label, meta: options.meta });
  }, [client, settle]);

  const startUMAPJob = useMutation<StartedJob, Error, UMAPJobParams>({
    mutationFn: (params) => start('umap', params),
  });
  const startClusteringJob = useMutation<StartedJob, Error, ClusterJobParams>({
    mutationFn: (params) => start('cluster', params),
  });

  const control = (action: 'cancel' | 'pause' | 'resume') => (jobId: string) => {
    const sub = subscriptions.current.get(jobId);
    if (sub && sub.transport !== 'closed') return sub[action]();
    return client[action](jobId);
  };
  const cancelJob = useMutation<ControlResponse, Error, string>({ mutationFn: control('cancel') });
  const pauseJob = useMutation<ControlResponse, Error, string>({ mutationFn: control('pause') });
  const resumeJob = useMutation<ControlResponse, Error, string>({ mutationFn: control('resume') });

  const jobsRef = useRef(jobs);
  jobsRef.current = jobs;
  const hasActiveJobs = useCallback(() => jobsRef.current.some((job) => !isTerminal(job.status)), []);

  const followJob = useCallback((jobId: string, opts: FollowOptions = {}) => {
    follow(jobId, opts.kind, opts);
  }, [follow]);

  const removeJob = useCallback((jobId: string) => {
    subscriptions.current.get(jobId)?.close();
    subscriptions.current.delete(jobId);
    setJobs((list) => list.filter((job) => job.jobId !== jobId));
  }, []);

  const clearFinished = useCallback(() => {
    setJobs((list) => list.filter((job) => {
      if (!isTerminal(job.status)) return true;
      subscriptions.current.delete(job.jobId);
      return false;
    }));
  }, []);

  return useMemo(() => ({
    startUMAPJob, startClusteringJob, startTransformJob, cancelJob, pauseJob, resumeJob, activeJobs: jobs,
    hasActiveJobs, followJob, removeJob, clearFinished, client,
  }), [startUMAPJob, startClusteringJob, startTransformJob, cancelJob, pauseJob, resumeJob, jobs, hasActiveJobs, followJob,
    removeJob, clearFinished, client]);
}
