/**
 * One WebSocket writer: each message is a `{"timestamp"?, "data"}` envelope answered, in order, by
 * an ack or an error frame. Errors never close the connection. Messages that arrive together are
 * emitted together; acks are pipelined; reading pauses while too much is unanswered or while the
 * client is not taking its acks: neither ws nor koa-easy-ws pushes back on sends, so a client that
 * floods and never reads would grow the server's memory; sends whose callback has not fired are
 * counted instead.
 */
import type net from 'node:net';
import type WebSocket from 'ws';
import {
  decodeEnvelope,
  type EmitBatcher,
  type ErrorCode,
  ERRORS,
  type IngestRecord,
  type Logger,
  OrderedReplies,
  type RecordOrigin,
  type RecordResult,
  type SchemaFormat,
  toTssError,
} from 'tsstore/plugin';

export interface WsSettings {
  readonly maxMessage: number;
  readonly highWater: number;
  readonly lowWater: number;
  /** Called each time reading is paused (metrics). */
  readonly onPause?: () => void;
}

export function errorFrame(code: ErrorCode, message: string): string {
  return `{"type":"error","message":${JSON.stringify(message)},"code":"${code}"}`;
}

function renderResult(r: RecordResult): string {
  return r.ok ? `{"type":"ack","timestamp":${r.timestamp},"block_num":${r.blockNum},"size":${r.size}}` : errorFrame(r.code, r.message);
}

/** A close reason fits in 123 bytes of UTF-8. */
function closeReason(message: string): string {
  return Buffer.byteLength(message) <= 123
    ? message
    : Buffer.from(message)
        .subarray(0, 120)
        .toString('utf8')
        .replace(/\uFFFD$/, '') + '...';
}

export class WsWriteConnection {
  /** Cleared by each ping round, set by a pong or any message. */
  alive = true;
  private readonly replies: OrderedReplies;
  private readonly origin: RecordOrigin;
  private batch: IngestRecord[] = [];
  private unconfirmed = 0;
  private sendBlocked = false;
  private readPaused = false;
  private stopping = false;
  private closed = false;
  readonly done: Promise<void>;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: net.Socket,
    private readonly store: string,
    session: AbortSignal,
    private readonly schemaFormat: SchemaFormat,
    batcher: EmitBatcher,
    private readonly settings: WsSettings,
    inputId: string,
    remote: string,
    private readonly logger: Logger,
  ) {
    this.origin = { input: inputId, remote };
    this.replies = new OrderedReplies(
      batcher,
      {
        write: (frames) => this.send(frames),
        pause: () => {
          this.readPaused = true;
          this.ws.pause();
          settings.onPause?.();
        },
        resume: () => {
          this.readPaused = false;
          if (!this.stopping) this.ws.resume();
        },
      },
      renderResult,
      settings.highWater,
      settings.lowWater,
    );
    this.done = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('error', (err: Error) => this.logger.debug({ store, err: err.message }, 'WebSocket client error.'));
    ws.on('close', () => {
      this.closed = true;
      this.replies.close();
      session.removeEventListener('abort', onEnded);
    });
    const onEnded = (): void => this.endSession(session.reason);
    if (session.aborted) onEnded();
    else session.addEventListener('abort', onEnded, { once: true });
  }

  /**
   * The session's key was revoked or its store deleted or reset: read nothing more, refuse what
   * was received but not handed to the pipeline, answer what was, then close with 1008.
   */
  private endSession(reason: unknown): void {
    if (this.stopping || this.closed) return;
    this.stopping = true;
    this.ws.pause();
    const err = toTssError(reason);
    const refused = this.batch.length;
    this.batch = [];
    for (let i = 0; i < refused; i++) this.replies.reply(errorFrame(err.code, err.message));
    this.replies.reply(errorFrame(err.code, err.message));
    this.logger.info({ store: this.store, remote: this.origin.remote, reason: err.message }, 'WebSocket session ended.');
    void this.replies.whenAnswered().then(() => {
      if (this.closed) return;
      this.ws.resume(); // to read the client's close frame; messages are ignored
      this.ws.close(1008, closeReason(err.message));
    });
  }

  /** Liveness round: a peer that answered nothing since the last round is gone. */
  ping(): void {
    if (this.closed) return;
    if (this.readPaused) return; // its pong may be unread behind the paused socket: not a sign of death
    if (!this.alive) {
      this.logger.info({ store: this.store, remote: this.origin.remote }, 'WebSocket peer missed its pong; closing it.');
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  /** Shutdown: take nothing more, answer what was received, then close with 1001. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.ws.pause();
    this.flushBatch();
    await this.replies.whenAnswered();
    if (this.closed) return;
    this.ws.resume(); // to read the client's close frame; messages after this point are ignored
    this.ws.close(1001, 'server shutting down');
    return this.done;
  }

  terminate(): void {
    this.ws.terminate();
  }

  private onMessage(data: Buffer, _isBinary: boolean): void {
    this.alive = true;
    if (this.stopping) return;
    if (data.length > this.settings.maxMessage) {
      this.fail('TSS_ERR_MESSAGE_TOO_LARGE', `${ERRORS.TSS_ERR_MESSAGE_TOO_LARGE.message}: ${data.length} bytes, the limit is ${this.settings.maxMessage}`);
      return;
    }
    const env = decodeEnvelope(data);
    if (!env.ok) {
      this.fail(env.code, env.message);
      return;
    }
    if (this.batch.length === 0) queueMicrotask(this.flushBatch);
    this.batch.push({
      store: this.store,
      timestamp: env.timestamp,
      payload: env.payload,
      format: 'json',
      wellFormed: true,
      schemaFormat: this.schemaFormat,
      origin: this.origin,
    });
  }

  private fail(code: ErrorCode, message: string): void {
    this.flushBatch();
    this.replies.reply(errorFrame(code, message));
  }

  private readonly flushBatch = (): void => {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.replies.submit(batch);
  };

  private send(frames: string[]): void {
    if (this.closed || this.ws.readyState !== 1) return;
    const n = frames.length;
    this.unconfirmed += n;
    const onSent = (): void => {
      this.unconfirmed -= n;
      if (this.sendBlocked && this.unconfirmed <= this.settings.lowWater) {
        this.sendBlocked = false;
        this.replies.setWriteBlocked(false);
      }
    };
    this.socket.cork();
    for (let i = 0; i < n - 1; i++) this.ws.send(frames[i]);
    this.ws.send(frames[n - 1], onSent);
    this.socket.uncork();
    if (!this.sendBlocked && this.unconfirmed > this.settings.highWater) {
      this.sendBlocked = true;
      this.replies.setWriteBlocked(true);
    }
  }
}
