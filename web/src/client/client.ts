/** The framework-free client: REST calls plus `subscribe()` to follow a job. */

import { StreamingUMAPError } from './errors';
import { HttpClient, immediateResult, type Data, type FetchLike } from './http';
import type { Matrix } from './matrix';
import {
  JobSubscription,
  type ReconnectOptions,
  type SocketFactory,
  type SubscribeOptions,
} from './subscription';
import type { JobResult, JobView, TransformParams } from './types';

export interface ClientOptions {
  /** Origin of the service, e.g. `http://127.0.0.1:8003`; empty = the page's own origin. */
  baseUrl?: string;
  fetch?: FetchLike;
  /** API key, where the service requires keys (see `HttpOptions.token`). */
  token?: string | null;
  /** WebSocket constructor; defaults to the global one. `null` follows jobs by polling only. */
  WebSocket?: SocketFactory | null;
  /** Milliseconds between status polls while the socket is unavailable (default 1000). */
  pollIntervalMs?: number;
  reconnect?: Partial<ReconnectOptions>;
  ackTimeoutMs?: number;
}

export class StreamingUMAPClient extends HttpClient {
  private readonly socketFactory: SocketFactory | null;
  private readonly pollIntervalMs: number;
  private readonly reconnect: ReconnectOptions;
  private readonly ackTimeoutMs: number;

  constructor(options: ClientOptions = {}) {
    super(options);
    const globalSocket = (globalThis as { WebSocket?: SocketFactory }).WebSocket ?? null;
    this.socketFactory = options.WebSocket === undefined ? globalSocket : options.WebSocket;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.reconnect = { initialDelayMs: 250, maxDelayMs: 5000, ...options.reconnect };
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
  }

  /** Follows a job until it ends; see {@link JobSubscription}. */
  subscribe(jobId: string, options: SubscribeOptions = {}): JobSubscription {
    return new JobSubscription(jobId, {
      http: this,
      WebSocket: this.socketFactory,
      pollIntervalMs: this.pollIntervalMs,
      reconnect: this.reconnect,
      ackTimeoutMs: this.ackTimeoutMs,
    }, options);
  }

  /** Follows a job to its end and fetches its result as typed arrays. */
  async waitForResult(jobId: string, options: SubscribeOptions = {}): Promise<{ view: JobView; result: JobResult | null }> {
    const view = await this.subscribe(jobId, options).done;
    if (view.status !== 'completed' || !view.kind) return { view, result: null };
    return { view, result: await this.result(jobId, view.kind, view.result ?? {}) };
  }

  /**
   * Places rows into a kept model's layout and resolves with their positions, whichever
   * way the service answers (at once, or as a `transform` job followed to its end).
   */
  async transform(modelId: string, data: Data, params: Partial<TransformParams> = {}, options: SubscribeOptions = {}): Promise<Matrix> {
    const started = await this.startTransform(modelId, data, params);
    const immediate = immediateResult(started, 'transform');
    if (immediate?.kind === 'transform') return immediate.embedding;
    const { view, result } = await this.waitForResult(started.job_id, options);
    if (result?.kind !== 'transform') {
      throw new StreamingUMAPError(0, `transform job ${started.job_id} ended ${view.status}${view.error ? `: ${view.error}` : ''}`);
    }
    return result.embedding;
  }
}
