/** REST side of the client: submit, status, results, control, kept models, demo data. */

import {
  ControlRefusedError, JobNotFoundError, ModelNotFoundError, StreamingUMAPError, TransportError, UnauthorizedError,
} from './errors';
import { isMatrix, labelsFromNpy, matrixFromNpy, matrixFromRows, type Matrix } from './matrix';
import { writeNpy } from './npy';
import type {
  ClusterParams,
  ControlResponse,
  DemoName,
  DemoSize,
  FitKind,
  Health,
  HealthStatus,
  JobKind,
  JobList,
  JobResult,
  JobStatus,
  ModelDeleted,
  ModelInfo,
  ModelList,
  ResultSummary,
  SubmitResponse,
  TransformParams,
  UMAPParams,
} from './types';

export const API = '/umap/streaming';

/** A `.npy` file as it is, e.g. an uploaded File: sent without being parsed here. */
export interface NpyBody {
  npy: Blob | ArrayBuffer;
}

/** Data to submit: rows of numbers (sent as JSON), a Matrix or a ready `.npy` (sent as a `.npy` body). */
export type Data = readonly (readonly number[])[] | Matrix | NpyBody;

function isNpyBody(data: Data): data is NpyBody {
  return typeof data === 'object' && data !== null && 'npy' in data;
}

/** Which page of `GET /umap/streaming/models`: `after` is the previous page's `next_after`. */
export interface ModelPage {
  limit?: number;
  after?: string | null;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface HttpOptions {
  /** Origin of the service, e.g. `http://127.0.0.1:8003`; empty = the page's own origin. */
  baseUrl?: string;
  fetch?: FetchLike;
  /**
   * API key, for a service that requires keys: sent as `Authorization: Bearer` on every
   * request and as a `Sec-WebSocket-Protocol` entry on the socket. `setToken()` changes it.
   */
  token?: string | null;
}

type Query = Record<string, string | number | boolean | null | undefined>;

function queryString(query: Query): string {
  const parts = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

async function errorOf(response: Response, what: string): Promise<StreamingUMAPError> {
  let detail = `${what} answered ${response.status} ${response.statusText}`;
  let field: string | null = null;
  let row: number | null = null;
  try {
    const body = (await response.json()) as { detail?: unknown; field?: unknown; row?: unknown };
    if (typeof body.detail === 'string') detail = body.detail;
    if (typeof body.field === 'string') field = body.field;
    if (typeof body.row === 'number') row = body.row;
  } catch {
    // not a JSON error body: keep the status line
  }
  const Kind = response.status === 404 ? JobNotFoundError
    : response.status === 401 || response.status === 403 ? UnauthorizedError : StreamingUMAPError;
  return new Kind(response.status, detail, field, row);
}

/** A 404 on a request that names a model is about the model, not a job. */
async function aboutModel<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof JobNotFoundError) throw new ModelNotFoundError(error.status, error.detail, error.field, error.row);
    throw error;
  }
}

export class HttpClient {
  readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private apiKey: string | null;

  constructor(options: HttpOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('expected a fetch function; this environment has none');
    this.fetchImpl = (input, init) => f(input, init);
    this.apiKey = options.token?.trim() || null;
  }

  /** The API key sent from now on (`null`: none). */
  get token(): string | null {
    return this.apiKey;
  }

  setToken(token: string | null): void {
    this.apiKey = token?.trim() || null;
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  async request(path: string, init?: RequestInit): Promise<Response> {
    const what = `${init?.method ?? 'GET'} ${path.split('?')[0]}`;
    let response: Response;
    const headers = new Headers(init?.headers);
    if (this.apiKey) headers.set('Authorization', `Bearer ${this.apiKey}`);
    try {
      response = await this.fetchImpl(this.url(path), { ...init, headers });
    } catch (error) {
      throw new TransportError(`${what} could not reach the service: ${String(error)}`);
    }
    if (!response.ok) throw await errorOf(response, what);
    return response;
  }

  async json<T>(path: string, init?: RequestInit): Promise<T> {
    return (await (await this.request(path, init)).json()) as T;
  }

  private submit(path: string, data: Data, params: object): Promise<SubmitResponse> {
    if (isMatrix(data) || isNpyBody(data)) {
      const body = isNpyBody(data) ? data.npy : writeNpy(data.data, [data.rows, data.cols]);
      return this.json(path + queryString(params as Query), {
        method: 'POST', body, headers: { 'Content-Type': 'application/x-npy' },
      });
    }
    return this.json(path, {
      method: 'POST', body: JSON.stringify({ ...params, data }), headers: { 'Content-Type': 'application/json' },
    });
  }

  /**
   * `POST /umap/streaming/umap`: a Matrix goes as `.npy` with the params in the query.
   * `keep_model: true` keeps the layout as a model: `model_id` of the immediate answer, or
   * of the job once it has completed; `init_from` refits from a model (a 404 for an unknown
   * one is a `ModelNotFoundError`).
   */
  startUMAP(data: Data, params: Partial<UMAPParams> = {}): Promise<SubmitResponse> {
    const started = this.submit(`${API}/umap`, data, params);
    return params.init_from ? aboutModel(started) : started;
  }

  startClustering(data: Data, params: Partial<ClusterParams> = {}): Promise<SubmitResponse> {
    return this.submit(`${API}/cluster`, data, params);
  }

  /**
   * `POST /umap/streaming/transform/{modelId}`: places new rows (the model's number of
   * columns) into a kept model's layout. Small inputs are answered with `embeddings`
   * (`job_id` "immediate"); larger ones become a job of kind `transform`, followed and
   * controlled like any other. Unknown model: `ModelNotFoundError`; one still being fitted: 409.
   */
  startTransform(modelId: string, data: Data, params: Partial<TransformParams> = {}): Promise<SubmitResponse> {
    return aboutModel(this.submit(`${API}/transform/${encodeURIComponent(modelId)}`, data, params));
  }

  /** The caller's kept models, a page at a time, oldest first. */
  models(page: ModelPage = {}): Promise<ModelList> {
    return this.json(`${API}/models${queryString({ ...page })}`);
  }

  model(modelId: string): Promise<ModelInfo> {
    return aboutModel(this.json(`${API}/models/${encodeURIComponent(modelId)}`));
  }

  deleteModel(modelId: string): Promise<ModelDeleted> {
    return aboutModel(this.json(`${API}/models/${encodeURIComponent(modelId)}`, { method: 'DELETE' }));
  }

  /** Starts a job on a demo data set made on the server. */
  startDemo(
    name: DemoName,
    kind: FitKind,
    params: Partial<UMAPParams> | Partial<ClusterParams> = {},
    size: DemoSize = {},
  ): Promise<SubmitResponse> {
    const query = queryString({ ...size, ...(params as Query) });
    return this.json(`${API}/demo/${name}/${kind}${query}`, { method: 'POST' });
  }

  async demoLabels(name: DemoName, size: DemoSize = {}): Promise<Int32Array> {
    const response = await this.request(`${API}/demo/${name}/labels${queryString({ ...size, format: 'npy' })}`);
    return labelsFromNpy(await response.arrayBuffer());
  }

  async demoData(name: DemoName, size: DemoSize = {}): Promise<Matrix> {
    const response = await this.request(`${API}/demo/${name}/data${queryString({ ...size })}`);
    return matrixFromNpy(await response.arrayBuffer());
  }

  status(jobId: string, includeResult = false): Promise<JobStatus> {
    return this.json(`${API}/status/${encodeURIComponent(jobId)}${queryString({ include_result: includeResult })}`);
  }

  /** A completed job's result as typed arrays (`?format=npy`). */
  async result(jobId: string, kind: JobKind, summary: ResultSummary = {}): Promise<JobResult> {
    const response = await this.request(`${API}/result/${encodeURIComponent(jobId)}?format=npy`);
    const buffer = await response.arrayBuffer();
    if (kind !== 'cluster') return { kind, jobId, embedding: matrixFromNpy(buffer), summary };
    return {
      kind, jobId, labels: labelsFromNpy(buffer), summary,
      nClusters: summary.n_clusters ?? null, noisePoints: summary.noise_points ?? null,
    };
  }

  jobs(includeAll = false): Promise<JobList> {
    return this.json(`${API}/jobs${includeAll ? '?include=all' : ''}`);
  }

  /** `HealthStatus` (the status alone) where keys are required and this client has none. */
  health(): Promise<Health | HealthStatus> {
    return this.json('/health');
  }

  private async control(path: string, method: string): Promise<ControlResponse> {
    try {
      return await this.json<ControlResponse>(path, { method });
    } catch (error) {
      if (error instanceof StreamingUMAPError && error.status === 409) {
        throw new ControlRefusedError(409, error.detail, error.field, error.row);
      }
      throw error;
    }
  }

  cancel(jobId: string): Promise<ControlResponse> {
    return this.control(`${API}/cancel/${encodeURIComponent(jobId)}`, 'DELETE');
  }

  pause(jobId: string): Promise<ControlResponse> {
    return this.control(`${API}/pause/${encodeURIComponent(jobId)}`, 'POST');
  }

  resume(jobId: string): Promise<ControlResponse> {
    return this.control(`${API}/resume/${encodeURIComponent(jobId)}`, 'POST');
  }
}

/** The typed result carried by an immediate answer (`job_id === "immediate"`). */
export function immediateResult(response: SubmitResponse, kind: JobKind): JobResult | null {
  if (response.job_id !== 'immediate') return null;
  if (kind !== 'cluster' && response.embeddings) {
    return { kind, jobId: 'immediate', embedding: matrixFromRows(response.embeddings), summary: {} };
  }
  if (kind === 'cluster' && response.labels) {
    return {
      kind, jobId: 'immediate', labels: Int32Array.from(response.labels),
      nClusters: response.n_clusters ?? null, noisePoints: response.noise_points ?? null,
      summary: { n_clusters: response.n_clusters, noise_points: response.noise_points },
    };
  }
  return null;
}
