/**
 * One outbound push connection: a WebSocket client to the remote plus a delivery (a persisted
 * cursor over the store, read by tsstore's deliveries machinery) that feeds it.
 *
 *   store ──commit──▶ delivery ──deliver(batch)──▶ send each record ──▶ ping(seq) ──pong(seq)──▶ ack
 *                       ▲   cursor saved (outputs/push-<id>.json) after every ack ◀──────────────┘
 *                       └── a failed batch (connection lost, remote stalled) is sent again after the redial
 *
 * The acknowledgement is WebSocket's own: after a batch the connection sends a ping and waits for
 * its pong. Frames are read in order, so the remote's pong means it has read every message before
 * it; only then does the cursor move. Every WebSocket server answers pings (RFC 6455), so a plain
 * reference-compatible receiver needs nothing extra. A record is therefore never skipped; it may be
 * sent twice (a connection lost, or tsstore killed, after the remote read a batch and before its
 * acknowledgement was saved), with the same timestamp: the receiver drops a timestamp it already has.
 *
 * Redials: 1 s doubling to 60 s (options), jittered, reset after a successful handshake.
 * Bounded: one batch of records in memory, at most `max_buffered_bytes` queued on the socket;
 * a remote that stops reading for `ack_timeout_ms` is cut and redialled.
 */
import WebSocket from 'ws';
import {
  backoffDelay,
  type Deliveries,
  type Delivery,
  type DeliveryFrom,
  type DeliveryStatus,
  type Logger,
  type OutboundPolicy,
  type OutputRecord,
  renderData,
  type StoreView,
  substringFilter,
} from 'tsstore/plugin';
import type { WsPushOptions } from './options.js';
import type { PushConfig } from './push-file.js';

export type PushState = 'connecting' | 'connected' | 'disconnected' | 'error';

/** What a per-record hook sees: the record as sent (`text` is the JSON of its `data`). */
export interface PushedRecord {
  readonly timestamp: bigint;
  readonly data: Buffer;
  readonly text: string;
}

/**
 * A per-record hook on a push connection (alert rules, for instance): called for every record the
 * connection sends, in order, before it is sent; the messages it returns are sent right after the
 * record's own message, in the same acknowledged batch.
 */
export interface PushRecordHook {
  onRecord(record: PushedRecord): readonly string[] | void;
}

export interface PushDeps {
  readonly options: WsPushOptions;
  readonly deliveries: Deliveries;
  readonly logger: Logger;
  /** The server's outbound allow-list: checked before every dial, and the dial's DNS lookup. */
  readonly outbound: OutboundPolicy;
  /** The store as it is now (data type and schema, to render records). */
  readonly view: () => StoreView | undefined;
  readonly hooks?: readonly PushRecordHook[];
  /** The delivery ended on its own (the store was deleted). */
  readonly onStopped?: (reason: string) => void;
}

/** The URL without credentials or query (which may carry tokens), for logs and status. */
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

export function cursorName(id: string): string {
  return `push-${id}`;
}

function deliveryFrom(from: bigint): DeliveryFrom {
  return from === 0n ? 'oldest' : from === -1n ? 'now' : from;
}

export class PushConnection {
  private stateValue: PushState = 'disconnected';
  private ws?: WebSocket;
  private delivery?: Delivery;
  private stopped = false;
  private attempt = 0;
  private dialFailed = false;
  private retryTimer?: NodeJS.Timeout;
  private handshakeTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  /** Waiting for the remote: a batch's pong, a keep-alive pong, or sends to complete. */
  private watchdog?: NodeJS.Timeout;
  private readonly counters = { messages_sent: 0, messages_received: 0, errors: 0, connects: 0 };
  private lastError?: string;
  private lastErrorAt?: Date;
  private connectedAt?: Date;
  private nextRetryAt?: Date;
  private pingSeq = 0;
  private pendingPong?: { readonly seq: string; resolve(): void; reject(err: Error): void };
  private connectedWaiters: { resolve(ws: WebSocket): void; reject(err: Error): void }[] = [];
  private readonly match?: (text: string) => boolean;
  private readonly log: Logger;

  constructor(
    readonly store: string,
    readonly config: PushConfig,
    private readonly deps: PushDeps,
  ) {
    this.match = substringFilter(config.filter, config.filter_ignore_case);
    this.log = deps.logger.child({ store, connection: config.id });
  }

  get id(): string {
    return this.config.id;
  }
  get state(): PushState {
    return this.stateValue;
  }

  /** Opens the delivery (resuming from its saved cursor) and dials the remote. */
  async start(): Promise<void> {
    const { options } = this.deps;
    const match = this.match;
    this.delivery = await this.deps.deliveries.open({
      store: this.store,
      cursor: cursorName(this.config.id),
      from: deliveryFrom(this.config.from),
      batch: options.batch,
      retry: { minMs: options.backoff_min_ms, maxMs: options.backoff_max_ms },
      match:
        match &&
        ((data) => {
          const v = this.deps.view();
          return v ? match(renderData(v, data, this.config.format)) : true;
        }),
      deliver: (records) => this.deliver(records),
      missed: (count) => {
        this.log.warn({ missed: count }, 'The ring overwrote records before this push connection sent them.');
      },
      stopped: (reason) => {
        void this.stop();
        this.deps.onStopped?.(reason);
      },
    });
    this.dial();
  }

  /** Close the socket and stop the delivery (its cursor file stays). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimers();
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    const err = new Error('the push connection was stopped');
    this.pendingPong?.reject(err);
    for (const w of this.connectedWaiters.splice(0)) w.reject(err);
    const ws = this.ws;
    this.ws = undefined;
    await this.delivery?.stop();
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close(1001, 'push connection stopped');
      const cut = setTimeout(() => ws.terminate(), 2000);
      await closed;
      clearTimeout(cut);
    }
    this.stateValue = 'disconnected';
  }

  /** Stop and delete the cursor file (the connection was deleted). */
  async remove(): Promise<void> {
    await this.stop();
    await this.delivery?.remove();
  }

  /** The status document (reference fields first; absent values omitted). */
  async status(): Promise<Record<string, unknown>> {
    const c = this.config;
    let d: DeliveryStatus | undefined;
    try {
      d = await this.delivery?.status();
    } catch {
      d = undefined;
    }
    const doc: Record<string, unknown> = {
      id: c.id,
      mode: c.mode,
      url: c.url,
      from: c.from === 0n ? undefined : c.from,
      format: c.format,
      filter: c.filter,
      filter_ignore_case: c.filter_ignore_case || undefined,
      status: this.stateValue,
      created_at: c.created_at,
      last_timestamp: d?.cursor,
      messages_sent: this.counters.messages_sent,
      messages_received: this.counters.messages_received,
      errors: this.counters.errors,
      last_error: this.lastError,
      last_error_at: this.lastErrorAt?.toISOString(),
      connects: this.counters.connects,
      connected_at: this.connectedAt?.toISOString(),
      retry_attempt: this.attempt || undefined,
      next_retry_at: this.nextRetryAt?.toISOString(),
      delivery_state: d?.state,
      lag_records: d?.lagRecords,
      lag_seconds: d?.lagSeconds,
      missed: d?.missed,
      header_names: Object.keys(c.headers),
    };
    for (const k of Object.keys(doc)) if (doc[k] === undefined || doc[k] === null) delete doc[k];
    return doc;
  }

  private set state(s: PushState) {
    this.stateValue = s;
  }

  private dial(): void {
    if (this.stopped) return;
    this.nextRetryAt = undefined;
    this.state = 'connecting';
    this.dialFailed = false;
    const url = this.config.url;
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
        maxPayload: options.max_message_size,
        followRedirects: false,
        perMessageDeflate: false,
        lookup: outbound.lookupFor(url),
      });
    } catch (err) {
      this.fail(`cannot dial: ${describeError(err)}`);
      this.state = 'error';
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.on('error', (err) => {
      if (ws === this.ws && !this.stopped) this.fail(describeError(err));
    });
    ws.on('open', () => this.opened(ws));
    ws.on('message', () => {
      if (ws === this.ws) this.counters.messages_received++;
    });
    ws.on('pong', (data) => {
      if (ws === this.ws) this.ponged(data);
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
    // The backoff starts over only once the remote proved it works (a batch or a ping answered):
    // a remote that accepts and closes at once is redialled ever more slowly.
    this.counters.connects++;
    this.connectedAt = new Date();
    this.pingTimer = setInterval(() => this.keepAlive(ws), this.deps.options.ping_interval_ms);
    this.log.info({ url: loggableUrl(this.config.url) }, 'Push connection open.');
    for (const w of this.connectedWaiters.splice(0)) w.resolve(ws);
    this.delivery?.wake();
  }

  private closed(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    this.clearTimers();
    this.pendingPong?.reject(new Error(`the remote closed the connection (code ${code})`));
    if (this.stopped) return;
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
    if (this.attempt === 1 || this.attempt % 10 === 0)
      this.log.warn(
        { url: loggableUrl(this.config.url), error: this.lastError, attempt: this.attempt, delayMs: delay },
        'Push connection down; redialling after a delay.',
      );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.dial();
    }, delay);
  }

  private clearTimers(): void {
    for (const t of [this.handshakeTimer, this.watchdog]) if (t) clearTimeout(t);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.handshakeTimer = this.watchdog = this.pingTimer = undefined;
  }

  /** Count a connection failure once per dial. */
  private fail(message: string): void {
    if (this.dialFailed) return;
    this.dialFailed = true;
    this.counters.errors++;
    this.lastError = message;
    this.lastErrorAt = new Date();
  }

  /** The remote showed no progress within ack_timeout_ms: cut it (the batch is sent again after the redial). */
  private arm(ws: WebSocket, what: string): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      if (ws !== this.ws) return;
      this.fail(`the remote did not ${what} within ${this.deps.options.ack_timeout_ms} ms`);
      ws.terminate();
    }, this.deps.options.ack_timeout_ms);
  }

  private disarm(): void {
    if (this.watchdog) {
      clearTimeout(this.watchdog);
      this.watchdog = undefined;
    }
  }

  private keepAlive(ws: WebSocket): void {
    if (ws !== this.ws || this.pendingPong || this.watchdog) return;
    const seq = `k${++this.pingSeq}`;
    this.pendingPong = {
      seq,
      resolve: () => {
        this.disarm();
        this.attempt = 0;
      },
      reject: () => undefined,
    };
    this.arm(ws, 'answer a ping');
    ws.ping(seq);
  }

  private ponged(data: Buffer): void {
    const p = this.pendingPong;
    if (!p || data.toString('latin1') !== p.seq) return;
    this.pendingPong = undefined;
    p.resolve();
  }

  private connected(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.stateValue === 'connected') return Promise.resolve(this.ws);
    if (this.stopped) return Promise.reject(new Error('the push connection was stopped'));
    return new Promise((resolve, reject) => this.connectedWaiters.push({ resolve, reject }));
  }

  /** One batch: each record's message (and its hooks' messages), then a ping; resolves on its pong. */
  private async deliver(records: readonly OutputRecord[]): Promise<void> {
    const ws = await this.connected();
    const view = this.deps.view();
    if (!view) throw new Error(`store ${this.store} is gone`);
    let onClose: (() => void) | undefined;
    const gone = new Promise<never>((_, reject) => {
      onClose = (): void => reject(new Error('the connection to the remote was lost mid-batch'));
      ws.once('close', onClose);
    });
    gone.catch(() => undefined);
    try {
      this.counters.messages_sent += await this.sendBatch(ws, view, records, gone);
    } finally {
      ws.off('close', onClose!);
    }
  }

  private async sendBatch(ws: WebSocket, view: StoreView, records: readonly OutputRecord[], gone: Promise<never>): Promise<number> {
    const { max_buffered_bytes } = this.deps.options;
    let count = 0;
    for (const r of records) {
      const text = renderData(view, r.data, this.config.format);
      const messages = [`{"type":"data","timestamp":${r.timestamp},"data":${text}}`];
      for (const h of this.deps.hooks ?? []) {
        const extra = h.onRecord({ timestamp: r.timestamp, data: r.data, text });
        if (extra) messages.push(...extra);
      }
      for (const m of messages) {
        if (ws.readyState !== WebSocket.OPEN) throw new Error('the connection to the remote was lost mid-batch');
        const sent = new Promise<void>((resolve, reject) => ws.send(m, (err) => (err ? reject(err) : resolve())));
        sent.catch(() => undefined);
        count++;
        // Back-pressure: wait for the remote to read when too much is queued on the socket.
        if (ws.bufferedAmount > max_buffered_bytes) {
          this.arm(ws, 'read what was sent');
          await Promise.race([sent, gone]);
          this.disarm();
        }
      }
    }
    await this.acknowledged(ws, gone);
    this.attempt = 0;
    return count;
  }

  private async acknowledged(ws: WebSocket, gone: Promise<never>): Promise<void> {
    // A keep-alive ping still in flight is replaced: its pong comes first and is ignored.
    const seq = `a${++this.pingSeq}`;
    const pong = new Promise<void>((resolve, reject) => {
      this.pendingPong = { seq, resolve, reject };
    });
    pong.catch(() => undefined);
    this.arm(ws, 'acknowledge a batch (answer the ping sent after it)');
    ws.ping(seq);
    try {
      await Promise.race([pong, gone]);
    } finally {
      if (this.pendingPong?.seq === seq) this.pendingPong = undefined;
      this.disarm();
    }
  }
}
