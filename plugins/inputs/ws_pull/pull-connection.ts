/**
 * One outbound pull connection: dial, read, store, and redial for as long as it exists.
 *
 *   dial(url + ?from=cursor) ──open──▶ connected ──message──▶ queue ──flush──▶ emit (batches)
 *     ▲        │ error / timeout            │ close / dead peer                   │ results
 *     └─backoff┴────────────────────────────┘                   cursor, counters ◀┘
 *
 * Dedupe: a record whose timestamp is at or below the cursor (the remote's newest settled
 * timestamp) is a replay and is skipped; one the sink refuses as not newer than the store's
 * newest (TSS_ERR_TIMESTAMP_ORDER) is a replay that raced the cursor's last write (e.g. after a
 * crash) and counts as a duplicate too. Records without a timestamp get the server's and cannot
 * be deduplicated.
 */
import WebSocket from 'ws';
import { backoffDelay, decodeEnvelope, type Emit, type IngestRecord, type Logger, type OutboundPolicy, type RecordResult, statusOf } from 'tsstore/plugin';
import type { ConnectionConfig, PersistedConnection } from './connection-file.js';
import type { WsPullOptions } from './options.js';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'error';

export interface ConnectionDeps {
  readonly options: WsPullOptions;
  readonly emit: Emit;
  readonly logger: Logger;
  /** The server's outbound allow-list: checked before every dial, and the dial's DNS lookup. */
  readonly outbound: OutboundPolicy;
  /** The input instance id (record origin). */
  readonly inputId: string;
  /** The cursor moved: persist it (coalesced by the caller). */
  readonly onCursor: () => void;
  /** The connection moved from one state to another (metrics); undefined = not existing. */
  readonly onState?: (from: ConnectionState | undefined, to: ConnectionState | undefined) => void;
  /** A handshake succeeded (metrics: the first one is a connect, later ones reconnects). */
  readonly onConnected?: (first: boolean) => void;
}

/** The URL without credentials or query (which may carry tokens), for logs. */
export function loggableUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  const msg = e?.message || String(err);
  return e?.code && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}

export class PullConnection {
  private cursor?: bigint;
  private lastTimestamp?: bigint;
  private stateValue: ConnectionState = 'disconnected';
  /** Set once the stopped connection was reported gone (metrics). */
  private released = false;
  private ws?: WebSocket;
  /** An error was already counted for the current dial (one failure, one count). */
  private dialFailed = false;
  private readonly counters = { messages_received: 0, records_stored: 0, duplicates: 0, ignored: 0, errors: 0, connects: 0, batches: 0 };
  private lastError?: string;
  private lastErrorAt?: Date;
  private connectedAt?: Date;
  private nextRetryAt?: Date;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  private handshakeTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private pongTimer?: NodeJS.Timeout;
  private lastSeen = 0;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private flushing?: Promise<void>;
  private paused = false;
  private stopped = false;
  private discarding = false;
  private closeWaiter?: () => void;
  private readonly log: Logger;

  constructor(
    readonly store: string,
    readonly config: ConnectionConfig,
    saved: Pick<PersistedConnection, 'cursor' | 'last_timestamp'>,
    private readonly deps: ConnectionDeps,
  ) {
    this.cursor = saved.cursor;
    this.lastTimestamp = saved.last_timestamp;
    this.log = deps.logger.child({ store, connection: config.id });
    deps.onState?.(undefined, this.stateValue);
  }

  get id(): string {
    return this.config.id;
  }

  private get state(): ConnectionState {
    return this.stateValue;
  }

  private set state(next: ConnectionState) {
    if (next === this.stateValue) return;
    this.deps.onState?.(this.stateValue, next);
    this.stateValue = next;
  }

  start(): void {
    this.dial();
  }

  /**
   * Stop for good. `shutdown`: store what was already received, then return. `discard` (the
   * connection or its store is being deleted): drop what is queued, wait for the emit in flight.
   */
  async stop(mode: 'shutdown' | 'discard'): Promise<void> {
    this.stopped = true;
    if (mode === 'discard') {
      this.discarding = true;
      this.queue = [];
      this.queuedBytes = 0;
    }
    this.clearTimers();
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.nextRetryAt = undefined;
    const ws = this.ws;
    if (ws) {
      const closed = new Promise<void>((resolve) => {
        this.closeWaiter = resolve;
      });
      if (ws.readyState === WebSocket.OPEN) ws.close(1001, 'tsstore is closing this connection');
      else ws.terminate();
      // A peer that never answers the close frame is cut; the 'close' event always follows.
      const hard = setTimeout(() => ws.terminate(), 1000);
      let giveUpTimer: NodeJS.Timeout | undefined;
      const giveUp = new Promise<void>((resolve) => {
        giveUpTimer = setTimeout(resolve, 3000);
      });
      await Promise.race([closed, giveUp]);
      clearTimeout(hard);
      clearTimeout(giveUpTimer);
    }
    if (this.queue.length > 0) this.scheduleFlush();
    while (this.flushing || this.flushScheduled) await (this.flushing ?? new Promise((r) => setImmediate(r)));
    this.state = 'disconnected';
    if (!this.released) {
      this.released = true;
      this.deps.onState?.(this.stateValue, undefined);
    }
  }

  persisted(): PersistedConnection {
    return { ...this.config, cursor: this.cursor, last_timestamp: this.lastTimestamp };
  }

  /**
   * The status document of the API (bigints are rendered exactly by stringifyExact). Fields with
   * no value yet (no record stored, no error, never connected) are left out, never null: the
   * reference's API describes them as integers and strings.
   */
  status(): Record<string, unknown> {
    const c = this.config;
    const doc: Record<string, unknown> = {
      id: c.id,
      mode: c.mode,
      url: c.url,
      format: c.format,
      status: this.state,
      created_at: c.created_at,
      last_timestamp: this.lastTimestamp,
      cursor: this.cursor,
      messages_received: this.counters.messages_received,
      records_stored: this.counters.records_stored,
      duplicates: this.counters.duplicates,
      ignored: this.counters.ignored,
      errors: this.counters.errors,
      batches: this.counters.batches,
      last_error: this.lastError,
      last_error_at: this.lastErrorAt?.toISOString(),
      connects: this.counters.connects,
      connected_at: this.connectedAt?.toISOString(),
      retry_attempt: this.attempt,
      next_retry_at: this.nextRetryAt?.toISOString(),
      header_names: Object.keys(c.headers),
    };
    for (const k of Object.keys(doc)) if (doc[k] === undefined || doc[k] === null) delete doc[k];
    return doc;
  }

  /** The URL dialled now: the configured one, carrying the cursor when there is one. */
  dialUrl(): string {
    const param = this.deps.options.resume_param;
    if (!param || this.cursor === undefined) return this.config.url;
    const u = new URL(this.config.url);
    u.searchParams.set(param, this.cursor.toString());
    return u.toString();
  }

  private dial(): void {
    if (this.stopped) return;
    this.nextRetryAt = undefined;
    this.state = 'connecting';
    this.dialFailed = false;
    const url = this.dialUrl();
    // Every dial is checked again: the host may resolve elsewhere now, or the config changed.
    this.deps.outbound.check(url).then(
      () => this.connect(url),
      (err: unknown) => {
        if (this.stopped) return;
        this.fail(describeError(err));
        this.state = 'error';
        this.scheduleRetry();
      },
    );
  }

  private connect(url: string): void {
    if (this.stopped) return;
    const { options, outbound } = this.deps;
    let ws: WebSocket;
    try {
      // The lookup resolves, checks and hands the connect only the addresses it checked.
      ws = new WebSocket(url, {
        headers: { ...this.config.headers },
        maxPayload: options.max_frame_size,
        followRedirects: false,
        lookup: outbound.lookupFor(url),
      });
    } catch (err) {
      this.fail(`cannot dial: ${describeError(err)}`);
      this.state = 'error';
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    // Without an 'error' listener a refused or reset connection would crash the process.
    ws.on('error', (err) => {
      if (ws === this.ws && !this.stopped) this.fail(describeError(err));
    });
    ws.on('open', () => this.opened(ws));
    ws.on('message', (data, isBinary) => {
      if (ws === this.ws) this.received(data as Buffer, isBinary);
    });
    ws.on('pong', () => {
      this.lastSeen = Date.now();
    });
    ws.on('close', (code, reason) => this.closed(ws, code, reason.toString('utf8')));
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = undefined;
      if (ws !== this.ws || ws.readyState !== WebSocket.CONNECTING) return;
      this.fail(`handshake did not complete within ${options.handshake_timeout_ms} ms`);
      ws.terminate();
    }, options.handshake_timeout_ms);
  }

  private opened(ws: WebSocket): void {
    if (ws !== this.ws) return;
    if (this.handshakeTimer) {
      clearTimeout(this.handshakeTimer);
      this.handshakeTimer = undefined;
    }
    this.state = 'connected';
    this.attempt = 0;
    this.counters.connects++;
    this.deps.onConnected?.(this.counters.connects === 1);
    this.connectedAt = new Date();
    this.lastSeen = Date.now();
    this.pingTimer = setInterval(() => this.heartbeat(ws), this.deps.options.ping_interval_ms);
    this.log.info({ url: loggableUrl(this.config.url), cursor: this.cursor?.toString() }, 'Pull connection open.');
  }

  private heartbeat(ws: WebSocket): void {
    if (ws !== this.ws || ws.readyState !== WebSocket.OPEN || this.pongTimer) return;
    const sentAt = Date.now();
    ws.ping();
    this.pongTimer = setTimeout(() => {
      this.pongTimer = undefined;
      // A paused socket is not read, so its pongs are not seen: back-pressure is not a dead peer.
      if (ws !== this.ws || this.paused || this.lastSeen >= sentAt) return;
      this.fail(`no pong or message from the remote within ${this.deps.options.pong_timeout_ms} ms (dead peer)`);
      ws.terminate();
    }, this.deps.options.pong_timeout_ms);
  }

  private closed(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    this.clearTimers();
    this.paused = false;
    if (this.stopped) {
      this.state = 'disconnected';
      this.closeWaiter?.();
      return;
    }
    if (!this.dialFailed) {
      this.fail(`remote closed the connection (code ${code}${reason ? `: ${reason}` : ''})`);
      this.state = 'disconnected';
    } else {
      this.state = 'error';
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const { backoff_min_ms, backoff_max_ms } = this.deps.options;
    const delay = backoffDelay(this.attempt++, backoff_min_ms, backoff_max_ms);
    this.nextRetryAt = new Date(Date.now() + delay);
    this.log.warn(
      { url: loggableUrl(this.config.url), error: this.lastError, attempt: this.attempt, delayMs: delay },
      'Pull connection down; redialling after a delay.',
    );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.dial();
    }, delay);
  }

  private clearTimers(): void {
    for (const t of [this.handshakeTimer, this.pongTimer]) if (t) clearTimeout(t);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.handshakeTimer = this.pongTimer = this.pingTimer = undefined;
  }

  /** Count a connection failure once per dial. */
  private fail(message: string): void {
    if (this.dialFailed) return;
    this.dialFailed = true;
    this.noteError(message);
  }

  private noteError(message: string): void {
    this.counters.errors++;
    this.lastError = message;
    this.lastErrorAt = new Date();
  }

  private received(data: Buffer, _isBinary: boolean): void {
    if (this.discarding) return;
    this.counters.messages_received++;
    this.lastSeen = Date.now();
    const { max_message_size, max_pending_messages, max_pending_bytes } = this.deps.options;
    if (data.length > max_message_size) {
      this.noteError(`message skipped: ${data.length} bytes is above max_message_size (${max_message_size})`);
      return;
    }
    this.queue.push(data);
    this.queuedBytes += data.length;
    if ((this.queue.length >= max_pending_messages || this.queuedBytes >= max_pending_bytes) && !this.paused && this.ws) {
      this.ws.pause();
      this.paused = true;
    }
    this.scheduleFlush();
  }

  /** Messages arriving in one event-loop turn, or while an emit is outstanding, share an emit. */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushing = this.flushQueue().finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0 && !this.discarding) this.scheduleFlush();
      });
    });
  }

  private async flushQueue(): Promise<void> {
    const { batch_max_records, batch_max_bytes, max_pending_messages, max_pending_bytes } = this.deps.options;
    while (this.queue.length > 0 && !this.discarding) {
      let n = 0;
      let bytes = 0;
      while (n < this.queue.length && n < batch_max_records && (n === 0 || bytes + this.queue[n].length <= batch_max_bytes)) bytes += this.queue[n++].length;
      const take = n === this.queue.length ? this.queue : this.queue.slice(0, n);
      this.queue = take === this.queue ? [] : this.queue.slice(n);
      this.queuedBytes -= bytes;
      if (this.paused && this.queue.length <= max_pending_messages / 2 && this.queuedBytes <= max_pending_bytes / 2) {
        this.paused = false;
        this.ws?.resume();
      }
      await this.commit(take);
    }
  }

  private async commit(messages: Buffer[]): Promise<void> {
    const records: IngestRecord[] = [];
    let seen = this.cursor;
    const origin = { input: this.deps.inputId, remote: this.config.url };
    for (const raw of messages) {
      const env = decodeEnvelope(raw);
      if (!env.ok) {
        if (env.code === 'TSS_ERR_DATA_REQUIRED') this.counters.ignored++;
        else this.noteError(`message skipped: ${env.message}`);
        continue;
      }
      if (env.timestamp !== undefined) {
        if (seen !== undefined && env.timestamp <= seen) {
          this.counters.duplicates++;
          continue;
        }
        seen = env.timestamp;
      }
      records.push({
        store: this.store,
        timestamp: env.timestamp,
        payload: env.payload,
        format: 'json',
        wellFormed: true,
        schemaFormat: this.config.format,
        origin,
      });
    }
    if (records.length === 0) return;
    let results: RecordResult[];
    this.counters.batches++;
    try {
      results = await this.deps.emit(records);
    } catch (err) {
      this.noteError(`could not store ${records.length} records: ${describeError(err)}`);
      return;
    }
    const before = this.cursor;
    for (let i = 0; i < results.length; i++) this.settle(records[i].timestamp, results[i]);
    if (this.cursor !== before) this.deps.onCursor();
  }

  private settle(ts: bigint | undefined, r: RecordResult): void {
    if (r.ok) {
      this.counters.records_stored++;
      if (this.lastTimestamp === undefined || r.timestamp > this.lastTimestamp) this.lastTimestamp = r.timestamp;
    } else if (r.code === 'TSS_ERR_TIMESTAMP_ORDER') {
      this.counters.duplicates++;
    } else {
      this.noteError(`record ${ts ?? '(no timestamp)'} rejected: ${r.message}`);
      // A server-side failure (disk full, sink closed) may succeed on a later replay: keep the cursor.
      if (statusOf(r.code) >= 500) return;
    }
    if (ts !== undefined && (this.cursor === undefined || ts > this.cursor)) this.cursor = ts;
  }
}
