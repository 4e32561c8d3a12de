/**
 * `useStreamingUMAP()`: start UMAP and clustering jobs as TanStack Query mutations
 * and follow them live. Needs a `QueryClientProvider` above it.
 *
 * An immediate answer (`job_id === "immediate"`) resolves the mutation with the
 * result itself; a background job appears in `activeJobs`, is updated by its frames
 * (or by polling), and once completed and fetched carries its result twice: as typed
 * arrays in `job.output`, and in the documented shape in `job.result` (`embeddings` for
 * UMAP, `labels` for clustering), as the immediate answer has it.
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
  type JobKind,
  type JobResult,
  type JobView,
  type LiveLayout,
  type ResultSummary,
  type SubmitResponse,
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

/** The service's answer, plus the typed result when it was immediate. */
export type StartedJob = SubmitResponse & { immediate: boolean; typed: JobResult | null };

export interface ActiveJob extends JobView {
  jobId: string;
  kind: JobKind;
  label: string;
  meta: Record<string, unknown>;
  transport: Transport;
  /**
   * The summary while the result is being fetched; then also `embeddings` (UMAP) or
   * `labels` (clustering), as documented for `GET /status` (null until completed).
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

const UMAP_FIELDS = ['n_components', 'n_neighbors', 'min_dist', 'metric', 'random_state', 'n_epochs', 'chunk_size'] as const;
const CLUSTER_FIELDS = [
  'algorithm', 'n_clusters', 'eps', 'min_samples', 'min_cluster_size', 'metric', 'random_state', 'chunk_size',
] as const;

function pick<T extends object>(source: T, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = (source as Record<string, unknown>)[f];
    if (v !== undefined) out[f] = v;
  }
  return out;
}

function describe(kind: JobKind, data: JobData, response: SubmitResponse): string {
  const what = kind === 'umap' ? 'UMAP' : 'Clustering';
  if ('demo' in data) return `${what} · ${data.demo} demo (${response.total_points.toLocaleString('en-US')} rows)`;
  return `${what} · ${response.total_points.toLocaleString('en-US')} rows`;
}

/**
 * The summary with the fetched rows added in the documented shape. The plain arrays are
 * made on first read only, so that a page drawing `output` never pays for them.
 */
export function documentedResult(output: JobResult, summary: ResultSummary | null | undefined): CompletedResult {
  const result: CompletedResult = { ...summary };
  const key = output.kind === 'umap' ? 'embeddings' : 'labels';
  let rows: number[][] | number[] | undefined;
  Object.defineProperty(result, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      rows ??= output.kind === 'umap' ? matrixToRows(output.embedding) : Array.from(output.labels);
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
        const label = named ? job.label : `${jobKind === 'umap' ? 'UMAP' : 'Clustering'} · `
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

  const start = useCallback(async (kind: JobKind, params: UMAPJobParams | ClusterJobParams): Promise<StartedJob> => {
    const apiParams = pick(params, kind === 'umap' ? UMAP_FIELDS : CLUSTER_FIELDS);
    const data = params.data;
    let response: SubmitResponse;
    if ('demo' in data) response = await client.startDemo(data.demo, kind, apiParams, data.size);
    else if (kind === 'umap') response = await client.startUMAP(data, apiParams);
    else response = await client.startClustering(data, apiParams);
    if (response.job_id === 'immediate') {
      return { ...response, immediate: true, typed: immediateResult(response, kind) };
    }
    const live = kind === 'umap' ? (params as UMAPJobParams).live : false;
    const liveEvery = kind === 'umap' ? (params as UMAPJobParams).liveEvery : undefined;
    follow(response.job_id, kind, {
      label: params.label ?? describe(kind, data, response), meta: params.meta, live, liveEvery,
    }, response.total_points);
    return { ...response, immediate: false, typed: null };
  }, [client, follow]);

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
    startUMAPJob, startClusteringJob, cancelJob, pauseJob, resumeJob, activeJobs: jobs,
    hasActiveJobs, followJob, removeJob, clearFinished, client,
  }), [startUMAPJob, startClusteringJob, cancelJob, pauseJob, resumeJob, jobs, hasActiveJobs, followJob,
    removeJob, clearFinished, client]);
}
