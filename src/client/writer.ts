/**
 * The streaming writers of `tsstore/client`: WebSocket and Unix socket. Both pipeline with a
 * bounded window, answer each record with the server's timestamp, reconnect with backoff, and
 * re-send what the server had not acknowledged when the connection dropped.
 *
 * No duplicates on re-send: every record carries a timestamp chosen by the writer (the caller's,
 * else `max(now, previous + 1)` from the writer's clock), and a store refuses a timestamp not newer
 * than its newest record (TSS_ERR_TIMESTAMP_ORDER). So a re-sent record that had in fact been
 * stored before the drop is refused instead of stored twice; the writer then asks the REST API
 * whether a record is stored at exactly that timestamp and, if so, resolves it as acknowledged.
 */
import net from 'node:net';
import WebSocket from 'ws';
import { parseJsonExact } from '../core/json/index.js';
import { nowNs } from '../plugin/clock.js';
import { backoffDelay } from '../plugin/kit/backoff.js';
import { TsstoreError, encodeData, type WriteRecord } from './common.js';
import type { TsstoreClient } from './rest.js';

export interface WriterOptions {
  /** Records sent and not yet answered, at most; `write()` waits while the window is full. Default 256. */
  readonly window?: number;
  /** Redial delays: `minMs` doubling up to `maxMs` with jitter (default 100 ms → 10 s); `attempts` in a row before giving up (default unlimited). */
  readonly reconnect?: { readonly minMs?: number; readonly maxMs?: number; readonly attempts?: number };
  /**
   * `client` (default): a record without timestamp gets one from the writer's clock, so it can be
   * re-sent after a drop without duplicates — for one writer per store. `server`: the server
   * assigns it (several writers into one store at once); records unanswered at a drop are then
   * rejected with TSS_CLIENT_CONNECTION_LOST instead of re-sent.
   */
  readonly timestamps?: 'client' | 'server';
  /** Called before each redial. */
  readonly onReconnect?: (info: { readonly attempt: number; readonly delayMs: number; readonly error?: Error }) => void;
}

/** What `write()` gives back once the record has a place in the window. */
export interface Pending {
  /** The timestamp the record was sent with (undefined: the server assigns it). */
  readonly timestamp: bigint | undefined;
  /** Resolves with the server's timestamp once the record is durable; rejects when it was refused. */
  readonly acked: Promise<bigint>;
}

/** A server answer to one record. */
type Reply = { readonly ok: true; readonly timestamp: bigint } | { readonly ok: false; readonly message: string; readonly code?: string };

/** One open connection. */
interface Link {
  send(frames: Buffer[]): void;
  /** Graceful: say goodbye and close; else drop at once. */
  close(graceful: boolean): void;
}

/** A handshake refusal that a redial cannot cure (bad key, no such store). */
class Fatal extends TsstoreError {}

interface Entry {
  readonly timestamp: bigint | undefined;
  readonly frame: Buffer;
  readonly resolve: (ts: bigint) => void;
  readonly reject: (err: Error) => void;
  /** Sent again after a reconnect. */
  resent: boolean;
}

const ORDER = 'timestamp must be greater than newest entry';

abstract class StreamWriter {
  private readonly window: number;
  private readonly pending: Entry[] = [];
  private head = 0;
  private link: Link | undefined;
  private outbox: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private idle: (() => void)[] = [];
  private confirming = 0;
  private lastTs = 0n;
  private closing = false;
  private failure: Error | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** How often the connection was re-established. */
  reconnects = 0;
  /** Records sent again after a reconnect. */
  resent = 0;

  protected constructor(
    private readonly opts: WriterOptions,
    private readonly confirm: TsstoreClient | undefined,
  ) {
    this.window = Math.max(1, opts.window ?? 256);
  }

  /** Opens one connection; rejects with `Fatal` when redialling cannot help. */
  protected abstract dial(onReply: (r: Reply) => void, onClose: (err?: Error) => void): Promise<Link>;

  /** The bytes sent for one record. */
  protected abstract frame(data: Buffer, timestamp: bigint | undefined): Buffer;

  /** Whether records get a writer-chosen timestamp (needed to re-send without duplicates). */
  protected abstract readonly clientTimestamps: boolean;

  /** The first connection. */
  protected async connect(): Promise<void> {
    this.link = await this.dial(
      (r) => this.onReply(r),
      (err) => this.onClose(err),
    );
  }

  /** Records in the window (sent or waiting to be re-sent). */
  get inFlight(): number {
    return this.pending.length - this.head;
  }

  /**
   * Queues a record. Resolves as soon as it has a place in the window (at once unless `window`
   * records are unanswered): that wait is the back-pressure. `acked` then settles with the answer.
   */
  async write(record: WriteRecord): Promise<Pending> {
    while (this.inFlight >= this.window && !this.failure && !this.closing) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
    if (this.closing) throw new TsstoreError('the writer is closed');
    let ts = record.timestamp;
    if (ts === undefined && this.clientTimestamps) {
      ts = nowNs();
      if (ts <= this.lastTs) ts = this.lastTs + 1n;
    }
    const frame = this.frame(encodeData(record), ts);
    if (ts !== undefined && ts > this.lastTs) this.lastTs = ts;
    let resolve!: (ts: bigint) => void;
    let reject!: (err: Error) => void;
    const acked = new Promise<bigint>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    acked.catch(() => undefined); // a caller that ignores `acked` must not crash the process
    this.pending.push({ timestamp: ts, frame, resolve, reject, resent: false });
    if (this.link) this.queue(frame);
    return { timestamp: ts, acked };
  }

  /** `write()` and wait for the answer: the server's timestamp. */
  async writeAndWait(record: WriteRecord): Promise<bigint> {
    return (await this.write(record)).acked;
  }

  /** Resolves when every record written so far has been answered (acknowledged or refused). */
  flush(): Promise<void> {
    if (this.settled()) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  /** Flushes, then closes the connection. Writes after this throw. */
  async close(): Promise<void> {
    await this.flush();
    this.closing = true;
    clearTimeout(this.timer);
    this.link?.close(true);
    this.link = undefined;
    this.wake();
  }

  /** Drops the connection now; records not yet answered are rejected. */
  destroy(): void {
    this.fail(new TsstoreError('the writer was destroyed'));
  }

  private settled(): boolean {
    return this.inFlight === 0 && this.confirming === 0;
  }

  private queue(frame: Buffer): void {
    if (this.outbox.length === 0) queueMicrotask(this.sendOutbox);
    this.outbox.push(frame);
  }

  private readonly sendOutbox = (): void => {
    const frames = this.outbox;
    this.outbox = [];
    if (frames.length > 0) this.link?.send(frames);
  };

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
    if (this.settled() || this.failure) {
      const idle = this.idle;
      this.idle = [];
      for (const f of idle) f();
    }
  }

  private take(): Entry | undefined {
    if (this.head >= this.pending.length) return undefined;
    const e = this.pending[this.head++];
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    return e;
  }

  private onReply(r: Reply): void {
    const e = this.take();
    if (!e) return; // e.g. the Unix socket's "OK bye"
    if (r.ok) e.resolve(r.timestamp);
    else if (e.resent && e.timestamp !== undefined && r.message.startsWith(ORDER) && this.confirm) void this.confirmStored(e, r);
    else e.reject(new TsstoreError(r.message, { code: r.code }));
    this.wake();
  }

  /** A re-sent record was refused as not newer: stored before the drop if the store has it at that timestamp. */
  private async confirmStored(e: Entry, r: Reply & { ok: false }): Promise<void> {
    this.confirming++;
    try {
      const found = await this.confirm!.get(this.storeName, e.timestamp!);
      if (found) e.resolve(e.timestamp!);
      else e.reject(new TsstoreError(r.message, { code: r.code ?? 'TSS_ERR_TIMESTAMP_ORDER' }));
    } catch (err) {
      e.reject(new TsstoreError(`${r.message} (and checking whether it was stored before the reconnect failed: ${(err as Error).message})`, { code: r.code }));
    } finally {
      this.confirming--;
      this.wake();
    }
  }

  protected abstract readonly storeName: string;

  private onClose(err?: Error): void {
    this.link = undefined;
    this.outbox = [];
    if (this.closing || this.failure) return;
    // Everything unanswered goes again on the next connection, in order.
    const lost: Entry[] = [];
    const keep: Entry[] = [];
    for (let i = this.head; i < this.pending.length; i++) {
      const e = this.pending[i];
      if (e.timestamp === undefined) lost.push(e);
      else {
        e.resent = true;
        keep.push(e);
      }
    }
    this.pending.length = 0;
    this.head = 0;
    this.pending.push(...keep);
    for (const e of lost)
      e.reject(
        new TsstoreError(
          'the connection dropped before the answer: the record may or may not be stored (records without a timestamp cannot be re-sent safely)',
          { code: 'TSS_CLIENT_CONNECTION_LOST' },
        ),
      );
    this.wake();
    this.redial(err);
  }

  private redial(err?: Error): void {
    const r = this.opts.reconnect ?? {};
    if (this.attempt >= (r.attempts ?? Infinity)) {
      this.fail(new TsstoreError(`gave up reconnecting after ${this.attempt} attempts${err ? `: ${err.message}` : ''}`, { cause: err }));
      return;
    }
    const delayMs = backoffDelay(this.attempt, r.minMs ?? 100, r.maxMs ?? 10_000);
    this.attempt++;
    this.opts.onReconnect?.({ attempt: this.attempt, delayMs, error: err });
    this.timer = setTimeout(() => {
      this.dial(
        (r) => this.onReply(r),
        (e) => this.onClose(e),
      ).then(
        (link) => {
          if (this.closing || this.failure) {
            link.close(false);
            return;
          }
          // Set the link only now: a write() from here on sends its own frame; everything before is in `pending`.
          this.link = link;
          this.attempt = 0;
          this.reconnects++;
          const frames: Buffer[] = [];
          for (let i = this.head; i < this.pending.length; i++) frames.push(this.pending[i].frame);
          this.resent += frames.length;
          if (frames.length > 0) this.link!.send(frames);
        },
        (e: Error) => {
          if (e instanceof Fatal) this.fail(e);
          else this.redial(e);
        },
      );
    }, delayMs);
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    clearTimeout(this.timer);
    const link = this.link;
    this.link = undefined;
    link?.close(false);
    for (let i = this.head; i < this.pending.length; i++) this.pending[i].reject(err);
    this.pending.length = 0;
    this.head = 0;
    this.wake();
  }
}

// ── WebSocket ────────────────────────────────────────────────────────────────────────────────

export interface WebSocketWriterOptions extends WriterOptions {
  /** Server base URL (`http(s)://` or `ws(s)://`). */
  readonly url: string;
  readonly store: string;
  /** The store key (or the admin key as `adminKey`). */
  readonly apiKey?: string;
  readonly adminKey?: string;
  /** Schema stores: send field indices (`compact`) instead of names. */
  readonly format?: 'full' | 'compact';
  readonly rejectUnauthorized?: boolean;
  readonly ca?: string | Buffer;
  /** Confirms re-sent records over REST; default: a client for the same server and key. */
  readonly confirm?: TsstoreClient;
}

function ackTimestamp(text: string): bigint | undefined {
  if (!text.startsWith('{"type":"ack","timestamp":')) return undefined;
  let end = 26;
  while (end < text.length && text.charCodeAt(end) >= 0x30 && text.charCodeAt(end) <= 0x39) end++;
  return BigInt(text.slice(26, end));
}

export class WebSocketWriter extends StreamWriter {
  protected readonly clientTimestamps: boolean;
  protected readonly storeName: string;
  private readonly wsUrl: string;

  private constructor(
    private readonly o: WebSocketWriterOptions,
    confirm: TsstoreClient | undefined,
  ) {
    super(o, confirm);
    this.clientTimestamps = (o.timestamps ?? 'client') === 'client';
    this.storeName = o.store;
    const base = o.url.replace(/\/+$/, '').replace(/^http/, 'ws');
    this.wsUrl = `${base}/api/stores/${encodeURIComponent(o.store)}/ws/write${o.format ? `?format=${o.format}` : ''}`;
  }

  /** Connects (the first connection must succeed) and returns the writer. */
  static async open(o: WebSocketWriterOptions, confirm?: TsstoreClient): Promise<WebSocketWriter> {
    const w = new WebSocketWriter(o, o.confirm ?? confirm);
    await w.connect();
    return w;
  }

  protected frame(data: Buffer, timestamp: bigint | undefined): Buffer {
    return Buffer.concat([Buffer.from(timestamp === undefined ? '{"data":' : `{"timestamp":${timestamp},"data":`), data, Buffer.from('}')]);
  }

  protected dial(onReply: (r: Reply) => void, onClose: (err?: Error) => void): Promise<Link> {
    const headers: Record<string, string> = this.o.apiKey ? { 'X-API-Key': this.o.apiKey } : this.o.adminKey ? { 'X-Admin-Key': this.o.adminKey } : {};
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.wsUrl, { perMessageDeflate: false, headers, rejectUnauthorized: this.o.rejectUnauthorized ?? true, ca: this.o.ca });
      let open = false;
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let message = `HTTP ${res.statusCode}`;
          let code: string | undefined;
          try {
            const j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: string; code?: string };
            message = j.error ?? message;
            code = j.code;
          } catch {
            /* not JSON */
          }
          const status = res.statusCode ?? 500;
          const Err = status >= 400 && status < 500 ? Fatal : TsstoreError;
          reject(new Err(`WebSocket handshake refused: ${message} (HTTP ${status})`, { status, code }));
          ws.terminate();
        });
      });
      ws.on('open', () => {
        open = true;
        const socket = (ws as unknown as { _socket?: net.Socket })._socket;
        resolve({
          send: (frames) => {
            socket?.cork();
            for (const f of frames) ws.send(f);
            socket?.uncork();
          },
          close: (graceful) => {
            if (graceful) ws.close(1000);
            else ws.terminate();
          },
        });
      });
      ws.on('message', (m: Buffer) => {
        const text = m.toString('latin1');
        const ts = ackTimestamp(text);
        if (ts !== undefined) {
          onReply({ ok: true, timestamp: ts });
          return;
        }
        const j = parseJsonExact(m) as { type?: string; timestamp?: bigint | number; message?: string; code?: string };
        if (j.type === 'ack') onReply({ ok: true, timestamp: BigInt(j.timestamp!) });
        else onReply({ ok: false, message: String(j.message), code: j.code });
      });
      ws.on('error', (err) => {
        if (!open) reject(new TsstoreError(`cannot connect to ${this.wsUrl}: ${err.message}`, { cause: err }));
      });
      ws.on('close', (code, reason) => {
        if (open) onClose(new TsstoreError(`connection closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`));
      });
    });
  }
}

// ── Unix socket ──────────────────────────────────────────────────────────────────────────────

export interface UnixWriterOptions extends WriterOptions {
  /** The socket file. */
  readonly path: string;
  readonly store: string;
  readonly apiKey: string;
  /**
   * `true` (default): lines are envelopes with writer-chosen timestamps (`AUTH … envelope`, a
   * tsstore extension), so unanswered records are re-sent after a reconnect. `false`: the
   * reference protocol (a line is the data, the server picks the timestamp); records unanswered at
   * a drop are then rejected with TSS_CLIENT_CONNECTION_LOST instead of re-sent.
   */
  readonly envelopes?: boolean;
  /**
   * A REST client for the same server, used to confirm that a re-sent record refused as not
   * newer had been stored before the drop. Without it such a record is rejected (never stored twice).
   */
  readonly confirm?: TsstoreClient;
}

export class UnixSocketWriter extends StreamWriter {
  protected readonly clientTimestamps: boolean;
  private readonly envelopes: boolean;
  protected readonly storeName: string;

  private constructor(private readonly o: UnixWriterOptions) {
    super(o, o.confirm);
    this.envelopes = o.envelopes ?? true;
    this.clientTimestamps = this.envelopes && (o.timestamps ?? 'client') === 'client';
    this.storeName = o.store;
  }

  /** Connects and authenticates (the first connection must succeed) and returns the writer. */
  static async open(o: UnixWriterOptions): Promise<UnixSocketWriter> {
    const w = new UnixSocketWriter(o);
    await w.connect();
    return w;
  }

  protected frame(data: Buffer, timestamp: bigint | undefined): Buffer {
    if (data.includes(0x0a) || data.includes(0x0d)) throw new TypeError('a record sent over the Unix socket must be one line: its JSON has a line break');
    if (!this.envelopes) {
      if (timestamp !== undefined) throw new TypeError('with envelopes: false the server assigns timestamps: leave timestamp out');
      return Buffer.concat([data, NL]);
    }
    return Buffer.concat([Buffer.from(timestamp === undefined ? '{"data":' : `{"timestamp":${timestamp},"data":`), data, CLOSE_NL]);
  }

  protected dial(onReply: (r: Reply) => void, onClose: (err?: Error) => void): Promise<Link> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.o.path);
      let authed = false;
      let rest = '';
      let lastError: Error | undefined;
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write(`AUTH ${this.o.store} ${this.o.apiKey}${this.envelopes ? ' envelope' : ''}\n`));
      socket.on('data', (chunk: string) => {
        const s = rest + chunk;
        let at = 0;
        for (;;) {
          const nl = s.indexOf('\n', at);
          if (nl < 0) break;
          const line = s.slice(at, nl);
          at = nl + 1;
          if (!authed) {
            if (line === 'OK') {
              authed = true;
              resolve({
                send: (frames) => {
                  socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
                },
                close: (graceful) => {
                  if (graceful) socket.end('QUIT\n');
                  else socket.destroy();
                },
              });
            } else {
              reject(new Fatal(`Unix-socket authentication refused: ${line.replace(/^ERROR /, '')}`));
              socket.destroy();
              return;
            }
          } else if (line.startsWith('OK ')) {
            if (line !== 'OK bye') onReply({ ok: true, timestamp: BigInt(line.slice(3)) });
          } else if (line.startsWith('ERROR ')) {
            onReply({ ok: false, message: line.slice(6) });
          }
        }
        rest = s.slice(at);
      });
      socket.on('error', (err) => {
        lastError = err;
        if (!authed) reject(new TsstoreError(`cannot connect to ${this.o.path}: ${err.message}`, { cause: err }));
      });
      socket.on('close', () => {
        if (authed) onClose(lastError ?? new TsstoreError('connection closed'));
        else reject(lastError ?? new TsstoreError(`the server at ${this.o.path} closed the connection before AUTH was answered`));
      });
    });
  }
}

const NL = Buffer.from('\n');
const CLOSE_NL = Buffer.from('}\n');
