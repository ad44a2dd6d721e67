/**
 * One connection to NATS JetStream, shared by everything a sink publishes: connects in the
 * background with backoff (a sink opens, and tsstore starts, while the uplink is down), checks or
 * creates the stream, bounds the publishes awaiting a PubAck (the window), and turns NATS errors
 * into sentences that name the problem.
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as Nats from 'nats';
import type { ConnectionOptions, JetStreamClient, JetStreamManager, MsgHdrs, NatsConnection, PubAck, StoredMsg } from 'nats';
import { backoffDelay, isTssError, type Logger, toTssError, TssError } from 'tsstore/plugin';
import { durationMs, durationNs, JetStreamOptions } from './options.js';

/** The NATS client, loaded on first use: a server without a JetStream sink never pays for it (startup time, memory). */
let natsModule: typeof Nats | undefined;
function nats(): typeof Nats {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (natsModule ??= require('nats') as typeof Nats);
}

export type LinkState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** JetStream API error codes (`api_error.err_code`) this link acts on. */
export const JS_ERR = {
  /** No message matches the get request. */
  NO_MESSAGE: 10037,
  /** A stream of that name exists already (create raced another client). */
  STREAM_NAME_IN_USE: 10058,
  /** The stream does not exist. */
  STREAM_NOT_FOUND: 10059,
} as const;

/** The first retry delay (connect, stream lookup, forwarding); it doubles up to `retry_max`, jittered. */
export const RETRY_MIN_MS = 100;

/** Header names carried by every record message. */
export const HDR_STORE = 'Tss-Store';
export const HDR_TIMESTAMP = 'Tss-Timestamp';
/** Bytes of this store's records up to and including this one (since the store's last reset). */
export const HDR_BYTES_SUM = 'Tss-Bytes-Sum';

export interface RecordMessage {
  readonly store: string;
  readonly timestamp: bigint;
  readonly data: Buffer;
  readonly bytesSum?: number;
  /** `false` publishes without a message id (no de-duplication). */
  readonly dedup?: boolean;
}

/** A stored record message as read back from the stream. */
export interface StreamRecord {
  readonly seq: number;
  readonly timestamp: bigint;
  readonly size: number;
  readonly bytesSum: number;
}

export function messageId(store: string, timestamp: bigint): string {
  return `${store}:${timestamp}`;
}

interface NatsLikeError {
  code?: string;
  message?: string;
  api_error?: { err_code?: number; description?: string };
  chainedError?: Error;
}

export class JetStreamLink {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private state_: LinkState = 'connecting';
  private lastError_: string | undefined;
  private streamChecked: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  /** Aborts the current retry wait (stop). */
  private waiting: AbortController | undefined;
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly connectedListeners = new Set<() => void>();
  /** Counters for stats. */
  published = 0;
  duplicates = 0;
  failures = 0;

  constructor(
    private readonly opts: JetStreamOptions,
    private readonly logger: Logger,
  ) {}

  get state(): LinkState {
    return this.state_;
  }
  get lastError(): string | undefined {
    return this.lastError_;
  }
  get stream(): string {
    return this.opts.stream;
  }

  /** The subject a store's records go to. */
  subjectOf(store: string): string {
    return this.opts.subject.replace('<store>', store);
  }

  /** Starts connecting in the background; never throws. */
  start(): void {
    this.loop ??= this.connectLoop();
  }

  onConnected(listener: () => void): () => void {
    this.connectedListeners.add(listener);
    return () => this.connectedListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.stopped = true;
    const wasConnected = this.state_ === 'connected';
    this.state_ = 'closed';
    this.waiting?.abort();
    const nc = this.nc;
    this.nc = undefined;
    // drain() waits for the server, so it never ends while the uplink is down.
    if (nc) await (wasConnected ? nc.drain() : nc.close()).catch(() => nc.close().catch(() => undefined));
    await this.loop;
    for (const w of this.waiters.splice(0)) w();
  }

  private connectionOptions(): ConnectionOptions {
    const o = this.opts;
    const co: ConnectionOptions = {
      servers: [...o.servers],
      name: 'tsstore',
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: Math.min(1000, durationMs(o.retry_max)),
      timeout: Math.max(1000, durationMs(o.ack_timeout)),
    };
    if (o.token) co.token = o.token;
    if (o.user) {
      co.user = o.user;
      co.pass = o.pass;
    }
    if (o.creds_file) {
      const file = o.creds_file;
      co.authenticator = nats().credsAuthenticator(() => fs.readFileSync(file));
    }
    if (o.tls === true) co.tls = {};
    else if (o.tls) co.tls = { caFile: o.tls.ca_file, certFile: o.tls.cert_file, keyFile: o.tls.key_file };
    return co;
  }

  private setError(message: string, level: 'warn' | 'error' = 'warn'): void {
    if (message !== this.lastError_) this.logger[level]({ servers: this.opts.servers, stream: this.opts.stream, err: message }, 'JetStream uplink problem.');
    this.lastError_ = message;
  }

  private async connectLoop(): Promise<void> {
    let attempt = 0;
    const max = durationMs(this.opts.retry_max);
    while (!this.stopped) {
      try {
        const nc = await nats().connect(this.connectionOptions());
        if (this.stopped) {
          await nc.close();
          return;
        }
        const jsm = await nc.jetstreamManager({ timeout: durationMs(this.opts.ack_timeout) }).catch(async (err: unknown) => {
          await nc.close().catch(() => undefined);
          throw err;
        });
        this.nc = nc;
        this.jsm = jsm;
        this.js = nc.jetstream({ timeout: durationMs(this.opts.ack_timeout) });
        this.streamChecked = undefined;
        this.markConnected(nc);
        attempt = 0;
        void this.watchStatus(nc);
        const err = await nc.closed();
        if (this.nc === nc) this.nc = this.js = this.jsm = undefined;
        if (this.stopped) return;
        this.state_ = 'connecting';
        this.setError(err ? describeNatsError(err, this.opts) : 'connection to NATS closed');
      } catch (err) {
        if (this.stopped) return;
        this.setError(describeNatsError(err, this.opts));
        this.state_ = 'connecting';
        await this.sleep(backoffDelay(attempt++, RETRY_MIN_MS, max));
      }
    }
  }

  private markConnected(nc: NatsConnection): void {
    this.state_ = 'connected';
    this.logger.info({ server: nc.getServer(), stream: this.opts.stream }, 'Connected to NATS JetStream.');
    this.lastError_ = undefined;
    for (const l of this.connectedListeners) l();
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.nc !== nc) return;
      if (s.type === nats().Events.Disconnect) {
        this.state_ = 'reconnecting';
        this.setError(`disconnected from NATS server ${String(s.data)}`);
      } else if (s.type === nats().Events.Reconnect) {
        this.streamChecked = undefined;
        this.markConnected(nc);
      } else if (s.type === nats().Events.Error) {
        this.setError(`NATS server error: ${String(s.data)}`, 'error');
      }
    }
  }

  /** Waits `ms`, or less when `waiting` is aborted. */
  private async sleep(ms: number): Promise<void> {
    this.waiting = new AbortController();
    await sleep(ms, undefined, { signal: this.waiting.signal }).catch(() => undefined);
  }

  /** The client and manager once connected and the stream exists; throws TSS_ERR_UPSTREAM otherwise. */
  async ready(): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> {
    if (this.stopped) throw new TssError('TSS_ERR_SINK_CLOSED');
    const { js, jsm } = this;
    if (!js || !jsm || this.state_ !== 'connected') {
      throw new TssError('TSS_ERR_UPSTREAM', `JetStream uplink not connected (${this.state_}${this.lastError_ ? `: ${this.lastError_}` : ''})`);
    }
    this.streamChecked ??= this.checkStream(jsm).catch((err: unknown) => {
      this.streamChecked = undefined;
      throw err;
    });
    await this.streamChecked;
    return { js, jsm };
  }

  private async checkStream(jsm: JetStreamManager): Promise<void> {
    const o = this.opts;
    try {
      await jsm.streams.info(o.stream);
      return;
    } catch (err) {
      if ((err as NatsLikeError).api_error?.err_code !== JS_ERR.STREAM_NOT_FOUND) throw this.upstream(err);
    }
    if (!o.create_stream) {
      const msg = `JetStream stream '${o.stream}' does not exist (create it, or set create_stream: true)`;
      this.setError(msg, 'error');
      throw new TssError('TSS_ERR_UPSTREAM', msg);
    }
    try {
      await jsm.streams.add({
        name: o.stream,
        subjects: [o.subject.replace('<store>', '>')],
        num_replicas: o.replicas,
        max_bytes: o.max_bytes,
        max_age: durationNs(o.max_age),
        duplicate_window: durationNs(o.duplicate_window),
        allow_direct: true,
      });
      this.logger.info({ stream: o.stream }, 'Created the JetStream stream.');
    } catch (err) {
      if ((err as NatsLikeError).api_error?.err_code !== JS_ERR.STREAM_NAME_IN_USE) throw this.upstream(err);
    }
  }

  upstream(err: unknown): TssError {
    if (isTssError(err)) return toTssError(err);
    const msg = describeNatsError(err, this.opts);
    const code = (err as NatsLikeError).code;
    if (code === '503' || (err as NatsLikeError).api_error?.err_code === JS_ERR.STREAM_NOT_FOUND) this.streamChecked = undefined;
    return new TssError('TSS_ERR_UPSTREAM', msg, { cause: err });
  }

  private async acquire(): Promise<void> {
    while (this.inFlight >= this.opts.max_in_flight) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      if (this.stopped) throw new TssError('TSS_ERR_SINK_CLOSED');
    }
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.waiters.shift()?.();
  }

  /**
   * Publishes one record and resolves with its PubAck (at most `max_in_flight` await theirs at
   * once). Throws TSS_ERR_UPSTREAM with a clear message on any failure.
   */
  async publish(js: JetStreamClient, m: RecordMessage): Promise<PubAck> {
    await this.acquire();
    try {
      const h: MsgHdrs = nats().headers();
      h.set(HDR_STORE, m.store);
      h.set(HDR_TIMESTAMP, m.timestamp.toString());
      if (m.bytesSum !== undefined) h.set(HDR_BYTES_SUM, String(m.bytesSum));
      const ack = await js.publish(this.subjectOf(m.store), m.data, { headers: h, msgID: m.dedup === false ? undefined : messageId(m.store, m.timestamp) });
      this.published++;
      if (ack.duplicate) this.duplicates++;
      return ack;
    } catch (err) {
      this.failures++;
      const e = this.upstream(err);
      this.setError(e.message);
      throw e;
    } finally {
      this.release();
    }
  }

  /** The newest record message of a store, or null when its subject is empty. */
  async lastRecord(store: string): Promise<StreamRecord | null> {
    const { jsm } = await this.ready();
    return this.getRecord(jsm, { last_by_subj: this.subjectOf(store) });
  }

  /** The oldest record message of a store, or null when its subject is empty. */
  async firstRecord(store: string): Promise<StreamRecord | null> {
    const { jsm } = await this.ready();
    return this.getRecord(jsm, { seq: 0, next_by_subj: this.subjectOf(store) });
  }

  async recordAt(seq: number): Promise<StreamRecord | null> {
    const { jsm } = await this.ready();
    return this.getRecord(jsm, { seq });
  }

  private async getRecord(
    jsm: JetStreamManager,
    query: { seq: number } | { last_by_subj: string } | { seq: number; next_by_subj: string },
  ): Promise<StreamRecord | null> {
    let m: StoredMsg;
    try {
      m = await jsm.streams.getMessage(this.opts.stream, query as { seq: number });
    } catch (err) {
      if ((err as NatsLikeError).api_error?.err_code === JS_ERR.NO_MESSAGE) return null;
      throw this.upstream(err);
    }
    const ts = m.header?.get(HDR_TIMESTAMP);
    if (!ts || !/^\d+$/.test(ts))
      throw new TssError('TSS_ERR_UPSTREAM', `message ${m.seq} on ${m.subject} has no ${HDR_TIMESTAMP} header: the subject is not written by tsstore alone`);
    return { seq: m.seq, timestamp: BigInt(ts), size: m.data.length, bytesSum: Number(m.header.get(HDR_BYTES_SUM) || m.data.length) };
  }

  /**
   * Timestamps of the store's messages after stream sequence `afterSeq` (at most `max`), read
   * headers-only through an ordered consumer: one stream of messages, not a round trip each.
   */
  async timestampsAfter(store: string, afterSeq: number, max: number): Promise<Set<bigint>> {
    const { js } = await this.ready();
    const out = new Set<bigint>();
    try {
      const consumer = await js.consumers.get(this.opts.stream, {
        filterSubjects: this.subjectOf(store),
        deliver_policy: nats().DeliverPolicy.StartSequence,
        opt_start_seq: afterSeq + 1,
        headers_only: true,
      });
      const msgs = await consumer.fetch({ max_messages: max, expires: Math.max(1000, durationMs(this.opts.ack_timeout)) });
      for await (const m of msgs) {
        const ts = m.headers?.get(HDR_TIMESTAMP);
        if (ts && /^\d+$/.test(ts)) out.add(BigInt(ts));
        if (m.info.pending === 0) break;
      }
    } catch (err) {
      throw this.upstream(err);
    }
    return out;
  }

  /** Messages on a store's subject. */
  async count(store: string): Promise<number> {
    const { jsm } = await this.ready();
    const subject = this.subjectOf(store);
    try {
      const info = await jsm.streams.info(this.opts.stream, { subjects_filter: subject });
      return info.state.subjects?.[subject] ?? 0;
    } catch (err) {
      throw this.upstream(err);
    }
  }

  /** Deletes every message of a store. */
  async purge(store: string): Promise<void> {
    const { jsm } = await this.ready();
    try {
      await jsm.streams.purge(this.opts.stream, { filter: this.subjectOf(store) });
    } catch (err) {
      throw this.upstream(err);
    }
  }
}

/** A sentence naming what went wrong, for logs, stats and client errors. */
export function describeNatsError(err: unknown, o: Pick<JetStreamOptions, 'servers' | 'stream' | 'ack_timeout'>): string {
  if (isTssError(err)) return err.message;
  const e = (err ?? {}) as NatsLikeError;
  const api = e.api_error;
  if (api?.err_code === JS_ERR.STREAM_NOT_FOUND) return `JetStream stream '${o.stream}' does not exist`;
  if (api?.description && /maximum (messages|bytes)|resource limits|insufficient resources/i.test(api.description)) {
    return `JetStream stream '${o.stream}' is full: ${api.description}`;
  }
  if (api?.description) return `JetStream error ${api.err_code ?? api.description}: ${api.description}`;
  switch (e.code) {
    case 'TIMEOUT':
      return `JetStream did not acknowledge within ack_timeout ${o.ack_timeout}`;
    case '503':
      return `no JetStream stream answers on this subject (is stream '${o.stream}' there and does it capture the subject?)`;
    case 'CONNECTION_REFUSED':
      return `cannot connect to NATS at ${o.servers.join(', ')}: connection refused`;
    case 'AUTHORIZATION_VIOLATION':
    case 'BAD_AUTHENTICATION':
    case 'AUTHENTICATION_EXPIRED':
    case 'BAD_CREDS':
      return `NATS authentication failed (${e.message ?? e.code}): check token, user/pass or creds_file`;
    case 'PERMISSIONS_VIOLATION':
      return `NATS permissions violation: ${e.message ?? ''}`;
    case 'CONNECTION_CLOSED':
    case 'CONNECTION_DRAINING':
    case 'DISCONNECT':
      return `NATS connection lost (${e.code})`;
    case 'JETSTREAM_NOT_ENABLED':
      return `JetStream is not enabled on the NATS server at ${o.servers.join(', ')}`;
    default: {
      const msg = e.message ?? String(err);
      if (/certificate|tls|ssl|self.signed/i.test(msg)) return `NATS TLS handshake failed: ${msg} (check tls: ca_file, cert_file, key_file)`;
      if (/jetstream not enabled/i.test(msg)) return `JetStream is not enabled on the NATS server at ${o.servers.join(', ')}`;
      return `NATS error: ${msg}${e.chainedError ? ` (${e.chainedError.message})` : ''}`;
    }
  }
}
