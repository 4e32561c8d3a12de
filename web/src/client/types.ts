/**
 * Types of the HTTP API (generated from the service's OpenAPI document) and of the
 * WebSocket frames (the generated `Frame` plus the fields docs/API.md adds per type).
 */

import type { components } from '../generated/openapi';
import type { Matrix } from './matrix';

type Schemas = components['schemas'];

export type UMAPParams = Schemas['UMAPParams'];
export type ClusterParams = Schemas['ClusterParams'];
export type TransformParams = Schemas['TransformParams'];
export type SubmitResponse = Schemas['SubmitResponse'];
export type JobStatus = Schemas['JobStatus'];
export type JobList = Schemas['JobList'];
export type ControlResponse = Schemas['ControlResponse'];
export type Health = Schemas['Health'];
/** A kept model (`keep_model`): the layout new rows are placed into by `startTransform`. */
export type ModelInfo = Schemas['ModelInfo'];
export type ModelList = Schemas['ModelList'];
export type ModelDeleted = Schemas['ModelDeleted'];
export type HealthStatus = Schemas['HealthStatus'];

/** Whether /health gave the details (a key, or a service that needs none). */
export function hasDetails(health: Health | HealthStatus): health is Health {
  return 'workers' in health;
}
export type ErrorBody = Schemas['ErrorBody'];
export type StatusName = JobStatus['status'];
export type JobKind = JobStatus['kind'];
/** The kinds that fit data of their own (and have demo jobs); `transform` places rows into a model. */
export type FitKind = Exclude<JobKind, 'transform'>;
export type Metric = UMAPParams['metric'];
export type Algorithm = ClusterParams['algorithm'];

export const TERMINAL_STATUSES: ReadonlySet<StatusName> = new Set(['completed', 'failed', 'cancelled']);

export function isTerminal(status: StatusName): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** The `result` summary of a completed job (no arrays). */
export interface ResultSummary {
  n_rows?: number;
  n_components?: number;
  n_clusters?: number | null;
  noise_points?: number | null;
  result_url?: string;
  npy_url?: string;
  /** A UMAP job started with `keep_model`: its model, for `startTransform`. */
  model_id?: string | null;
  [key: string]: unknown;
}

/**
 * `job.result` of a completed job once the hook has fetched its arrays: the summary plus
 * the rows in the shape the service documents (`GET /status`) and the immediate answer
 * uses: `embeddings` for UMAP, `labels` for clustering. Each is made from the typed
 * arrays on first read (`job.output` holds those, cheaper for large results).
 */
export interface CompletedResult extends ResultSummary {
  /** UMAP: the layout, one `[x, y, ...]` per input row; transform: each placed row's position. */
  embeddings?: number[][];
  /** Clustering: one label per input row, -1 = noise. */
  labels?: number[];
}

/** The frame every server-to-client JSON message carries, as generated from `Frame`. */
export type BaseFrame = Schemas['Frame'];
export type FrameType = BaseFrame['type'];

interface EpochFields {
  epoch?: number | null;
  total_epochs?: number | null;
}

export type SnapshotFrame = BaseFrame & EpochFields & {
  type: 'snapshot';
  kind: JobKind;
  params: Record<string, unknown>;
  result: ResultSummary | null;
  error: string | null;
  warning: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  result_expired?: boolean;
};
export type ProgressFrame = BaseFrame & EpochFields & { type: 'progress' | 'paused' | 'resumed' };
export type CompletedFrame = BaseFrame & EpochFields & {
  type: 'completed';
  result: ResultSummary | null;
  result_url: string;
  warning?: string | null;
};
export type EndedFrame = BaseFrame & EpochFields & { type: 'failed' | 'cancelled'; error: string | null };
/** The answer to a client action (generated from `AckFrame`). */
export type AckFrame = Schemas['AckFrame'];
/** Sent on errors; an unknown job gets one of these, then close code 4404 (generated from `ErrorFrame`). */
export type ErrorFrame = Schemas['ErrorFrame'];
/** Precedes one binary frame of `rows x n_components` little-endian float32 (generated). */
export type LayoutHeaderFrame = Schemas['LayoutHeaderFrame'];

export type ServerFrame =
  | SnapshotFrame
  | ProgressFrame
  | CompletedFrame
  | EndedFrame
  | AckFrame
  | ErrorFrame
  | LayoutHeaderFrame;

/**
 * Every frame type the generated schema names must have a frame type here: if the
 * server adds one, this line stops compiling until the client learns it.
 */
type Covered = ServerFrame['type'];
export const FRAME_TYPES_COVERED: Record<FrameType, true> & Record<Covered, true> = {
  snapshot: true, progress: true, paused: true, resumed: true, completed: true,
  failed: true, cancelled: true, ack: true, error: true, layout: true,
};

export type ClientAction = Schemas['ClientAction'];

/** An intermediate layout received with `?live=1`. */
export interface LiveLayout {
  jobId: string;
  epoch: number;
  embedding: Matrix;
}

/** What the client knows of a job: the status fields, kept current by frames or polling. */
export interface JobView {
  job_id: string;
  kind?: JobKind;
  status: StatusName;
  stage: string;
  total_points: number;
  processed_points: number;
  current_chunk: number;
  total_chunks: number;
  progress_percentage: number;
  estimated_completion: number | null;
  eta_seconds: number | null;
  processing_time: number;
  epoch?: number | null;
  total_epochs?: number | null;
  result?: ResultSummary | null;
  error?: string | null;
  warning?: string | null;
  /** A UMAP job started with `keep_model`: its model's id once it has completed (null before). */
  model_id?: string | null;
  params?: Record<string, unknown>;
  created_at?: number;
  started_at?: number | null;
  finished_at?: number | null;
  /** The job's frame sequence number last applied (-1 when only polled). */
  seq: number;
  /** Client clock (ms) when this view was last updated; ETA and elapsed count from it. */
  receivedAt: number;
}

export type Transport = 'connecting' | 'websocket' | 'polling' | 'closed';

/** A completed job's result as typed arrays (`transform`: the placed rows' positions in the model's layout). */
export type JobResult =
  | { kind: 'umap' | 'transform'; jobId: string; embedding: Matrix; summary: ResultSummary }
  | {
      kind: 'cluster';
      jobId: string;
      labels: Int32Array;
      nClusters: number | null;
      noisePoints: number | null;
      summary: ResultSummary;
    };

export type DemoName = 'digits' | 'mixture';

export interface DemoSize {
  rows?: number;
  dims?: number;
}
