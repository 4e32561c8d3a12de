/**
 * Following one job: WebSocket first, REST polling whenever the socket cannot open
 * or drops, reconnecting with backoff. Each (re)connection starts with a `snapshot`
 * frame, so nothing is lost across a drop. The subscription ends at a terminal state.
 *
 * Transport states:  connecting -> websocket <-> polling -> closed
 */

import { ControlRefusedError, JobNotFoundError, StreamingUMAPError, UnauthorizedError } from './errors';
import { API, type HttpClient } from './http';
import {
  isTerminal,
  type AckFrame,
  type ClientAction,
  type ControlResponse,
  type JobStatus,
  type JobView,
  type LayoutHeaderFrame,
  type LiveLayout,
  type ServerFrame,
  type Transport,
} from './types';

/** The part of the browser's WebSocket this client uses (Node's `ws` package fits too). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type SocketFactory = new (url: string, protocols?: string[]) => SocketLike;

/** The subprotocol the service answers with, and the prefix of the one carrying the key. */
export const WS_PROTOCOL = 'streaming-umap.v1';
export const WS_TOKEN_PREFIX = 'streaming-umap.bearer.';

export interface ReconnectOptions {
  /** First delay before a reconnect, doubled after each failure (default 250 ms). */
  initialDelayMs: number;
  /** Longest delay between reconnects (default 5000 ms). */
  maxDelayMs: number;
}

export interface SubscribeOptions {
  /** Receive intermediate layouts during the layout stage (`?live=1`). */
  live?: boolean;
  /** With `live`: a layout every K epochs (server default 10). */
  liveEvery?: number;
  /** Never open a socket: follow by polling only. */
  forcePolling?: boolean;
  onUpdate?: (view: JobView) => void;
  onLayout?: (layout: LiveLayout) => void;
  onTransport?: (transport: Transport) => void;
}

export interface SubscriptionDeps {
  http: HttpClient;
  WebSocket: SocketFactory | null;
  pollIntervalMs: number;
  reconnect: ReconnectOptions;
  /** Seconds to wait for an `ack` before using REST instead (default 5). */
  ackTimeoutMs: number;
}

const OPEN = 1;
const CLOSE_UNKNOWN_JOB = 4404;
const CLOSE_UNAUTHORIZED = 4401;

function wsUrl(baseUrl: string, path: string): string {
  if (baseUrl) return baseUrl.replace(/^http/, 'ws') + path;
  const { protocol, host } = globalThis.location;
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}${path}`;
}

function viewFromStatus(status: JobStatus, receivedAt: number, seq: number): JobView {
  return { ...status, result: status.result as JobView['result'], seq, receivedAt };
}

interface PendingAck {
  action: ClientAction['action'];
  resolve: (response: ControlResponse) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class JobSubscription {
  readonly done: Promise<JobView>;
  private state: Transport = 'connecting';
  private current: JobView | null = null;
  private socket: SocketLike | null = null;
  private layoutHeader: LayoutHeaderFrame | null = null;
  private failures = 0;
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pending: PendingAck[] = [];
  private settle!: { resolve: (view: JobView) => void; reject: (error: Error) => void };
  /** Counters for tests and diagnostics. */
  readonly stats = { socketsOpened: 0, socketFailures: 0, polls: 0, frames: 0, layouts: 0 };

  constructor(
    readonly jobId: string,
    private readonly deps: SubscriptionDeps,
    private readonly options: SubscribeOptions = {},
  ) {
    this.done = new Promise<JobView>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.done.catch(() => undefined); // a rejection is for whoever awaits `done`
    if (options.forcePolling || deps.WebSocket === null) this.startPolling(0);
    else this.openSocket();
  }

  get transport(): Transport {
    return this.state;
  }

  get view(): JobView | null {
    return this.current;
  }

  /** Stops following (the job itself goes on). */
  close(): void {
    this.finish(null);
  }

  cancel(): Promise<ControlResponse> {
    return this.control('cancel');
  }

  pause(): Promise<ControlResponse> {
    return this.control('pause');
  }

  resume(): Promise<ControlResponse> {
    return this.control('resume');
  }

  // ------------------------------------------------------------ transport

  private setTransport(next: Transport): void {
    if (this.state === next) return;
    this.state = next;
    this.options.onTransport?.(next);
  }

  private openSocket(): void {
    if (this.state === 'closed' || this.deps.WebSocket === null) return;
    const query = this.options.live ? `?live=1&live_every=${this.options.liveEvery ?? 10}` : '';
    const url = wsUrl(this.deps.http.baseUrl, `${API}/ws/${encodeURIComponent(this.jobId)}${query}`);
    let socket: SocketLike;
    const token = this.deps.http.token;
    try {
      // Browsers cannot set headers on a socket: the key goes as a subprotocol entry
      socket = token ? new this.deps.WebSocket(url, [WS_PROTOCOL, WS_TOKEN_PREFIX + token]) : new this.deps.WebSocket(url);
    } catch {
      this.socketLost(null);
      return;
    }
    this.socket = socket;
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => {
      this.stats.socketsOpened += 1;
      this.failures = 0;
      this.stopPolling();
      this.setTransport('websocket');
    };
    socket.onmessage = (event) => this.onMessage(event.data);
    socket.onerror = () => undefined; // onclose follows and decides
    socket.onclose = (event) => this.socketLost(socket, event.code);
  }

  private socketLost(socket: SocketLike | null, code?: number): void {
    if (socket !== this.socket && socket !== null) return; // an old socket closing late
    this.socket = null;
    this.layoutHeader = null;
    this.rejectPending('the WebSocket closed before the service answered');
    if (this.state === 'closed') return;
    if (code === CLOSE_UNKNOWN_JOB) {
      this.finish(new JobNotFoundError(404, `no job with id ${JSON.stringify(this.jobId)}`));
      return;
    }
    if (code === CLOSE_UNAUTHORIZED) { // polling would be refused too
      this.finish(new UnauthorizedError(401, 'the service requires a valid API key (the token option)'));
      return;
    }
    this.stats.socketFailures += 1;
    this.failures += 1;
    this.startPolling(0);
    const { initialDelayMs, maxDelayMs } = this.deps.reconnect;
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.failures - 1, 16));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.openSocket();
    }, delay);
  }

  private startPolling(delayMs: number): void {
    if (this.state === 'closed' || this.pollTimer !== null) return;
    this.setTransport('polling');
    this.pollTimer = setTimeout(() => void this.poll(), delayMs);
  }

  private stopPolling(): void {
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  private async poll(): Promise<void> {
    this.pollTimer = null;
    if (this.state !== 'polling') return;
    this.stats.polls += 1;
    try {
      const status = await this.deps.http.status(this.jobId, false);
      if (this.state !== 'polling') return; // the socket came back meanwhile: its snapshot rules
      this.apply(viewFromStatus(status, Date.now(), this.current?.seq ?? -1));
    } catch (error) {
      if (error instanceof JobNotFoundError || error instanceof UnauthorizedError) {
        this.finish(error);
        return;
      }
      // the service is unreachable for now: keep trying at the same pace
    }
    if (this.state === 'polling' && this.pollTimer === null) {
      this.pollTimer = setTimeout(() => void this.poll(), this.deps.pollIntervalMs);
    }
  }

  // ------------------------------------------------------------ frames

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') {
      this.onBinary(data);
      return;
    }
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return; // not a frame of this protocol
    }
    this.stats.frames += 1;
    switch (frame.type) {
      case 'layout':
        this.layoutHeader = frame;
        return;
      case 'error':
        return; // an unknown job is reported by its close code
      case 'ack':
        this.settleAck(frame); // before applying: a terminal state closes the subscription
        this.applyFrame(frame);
        return;
      case 'snapshot':
      case 'progress':
      case 'paused':
      case 'resumed':
      case 'completed':
      case 'failed':
      case 'cancelled':
        this.applyFrame(frame);
        return;
      default: {
        const unknown: never = frame;
        return unknown;
      }
    }
  }

  private onBinary(data: unknown): void {
    const header = this.layoutHeader;
    this.layoutHeader = null;
    if (header === null || !(data instanceof ArrayBuffer)) return;
    const values = header.rows * header.n_components;
    if (data.byteLength !== values * 4) return; // not the frame the header announced
    this.stats.layouts += 1;
    this.options.onLayout?.({
      jobId: this.jobId,
      epoch: header.epoch,
      embedding: { data: new Float32Array(data), rows: header.rows, cols: header.n_components },
    });
  }

  private applyFrame(frame: Exclude<ServerFrame, { type: 'layout' | 'error' }>): void {
    const seq = frame.seq;
    // A snapshot restates the current state (its seq repeats the latest); older frames are stale.
    if (this.current && frame.type !== 'snapshot' && frame.type !== 'ack' && seq <= this.current.seq) return;
    const { type: _type, timestamp: _timestamp, ...fields } = frame as typeof frame & { timestamp?: number };
    const extra = fields as Partial<JobView> & { action?: unknown; ok?: unknown; message?: unknown };
    delete extra.action;
    delete extra.ok;
    delete extra.message;
    this.apply({ ...(this.current ?? {}), ...extra, seq: Math.max(seq, this.current?.seq ?? -1), receivedAt: Date.now() } as JobView);
  }

  private apply(view: JobView): void {
    if (this.current && isTerminal(this.current.status)) return; // a terminal state never changes
    this.current = view;
    this.options.onUpdate?.(view);
    if (isTerminal(view.status)) this.finish(null);
  }

  private finish(error: Error | null): void {
    if (this.state === 'closed') return;
    this.setTransport('closed');
    this.stopPolling();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= OPEN) socket.close(1000);
    this.rejectPending('the subscription closed');
    if (error) this.settle.reject(error);
    else if (this.current && isTerminal(this.current.status)) this.settle.resolve(this.current);
    else this.settle.reject(new Error(`stopped following job ${this.jobId} before it ended`));
  }

  // ------------------------------------------------------------ control

  private async control(action: ClientAction['action']): Promise<ControlResponse> {
    const socket = this.socket;
    if (socket && socket.readyState === OPEN && this.state === 'websocket') {
      try {
        return await this.sendAction(socket, action);
      } catch (error) {
        if (error instanceof ControlRefusedError) throw error;
        // no answer on the socket: say it again over REST
      }
    }
    const response = await this.deps.http[action](this.jobId);
    if (this.state === 'polling') {
      this.stopPolling();
      this.pollTimer = setTimeout(() => void this.poll(), 0); // show the new state at once
    }
    return response;
  }

  private sendAction(socket: SocketLike, action: ClientAction['action']): Promise<ControlResponse> {
    return new Promise<ControlResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = this.pending.filter((p) => p.timer !== timer);
        reject(new Error(`no ack for ${action} within ${this.deps.ackTimeoutMs} ms`));
      }, this.deps.ackTimeoutMs);
      this.pending.push({ action, resolve, reject, timer });
      socket.send(JSON.stringify({ action } satisfies ClientAction));
    });
  }

  private settleAck(frame: AckFrame): void {
    const index = this.pending.findIndex((p) => p.action === frame.action);
    if (index < 0) return;
    const [waiting] = this.pending.splice(index, 1);
    clearTimeout(waiting.timer);
    if (frame.ok) waiting.resolve({ job_id: frame.job_id, status: frame.status, message: frame.message });
    else waiting.reject(new ControlRefusedError(409, frame.message));
  }

  private rejectPending(reason: string): void {
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new StreamingUMAPError(0, reason));
    }
  }
}
