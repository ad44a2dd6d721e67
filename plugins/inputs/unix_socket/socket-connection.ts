/**
 * One Unix-socket client: the line protocol of docs/protocol.md ("Unix socket lines").
 *
 *   AUTH <store> <api-key> [envelope]  → OK | ERROR <message> (then close)
 *   <json value>            → OK <timestamp> | ERROR <message>
 *   (after `AUTH … envelope`: each line is an envelope {"timestamp"?,"data"}, as on WebSocket)
 *   (empty line)            → ignored
 *   QUIT                    → OK bye (then close)
 *
 * Lines are split over 'data' by the kit's LineSplitter (not readline, which buffers without a
 * limit). A line may arrive in any number of packets over any time; a line longer than `maxLine`
 * is answered `ERROR line too long` once and skipped up to its newline, and the connection
 * carries on.
 */
import type net from 'node:net';
import {
  decodeEnvelope,
  type EmitBatcher,
  ERRORS,
  type IngestRecord,
  LineSplitter,
  type Logger,
  OrderedReplies,
  type RecordOrigin,
  type RecordResult,
  type StoreAccess,
  type StoreSession,
  toTssError,
} from 'tsstore/plugin';

export interface ConnectionSettings {
  readonly maxLine: number;
  readonly authTimeoutMs: number;
  readonly highWater: number;
  readonly lowWater: number;
  /** Called when the client has authenticated (metrics). */
  readonly onAuthenticated?: (store: string) => void;
  /** Called each time reading is paused (metrics). */
  readonly onPause?: (store: string) => void;
}

const CR = 0x0d;

type State = 'auth' | 'data' | 'closing';

function renderResult(r: RecordResult): string {
  return r.ok ? `OK ${r.timestamp}\n` : `ERROR ${oneLine(r.message)}\n`;
}

function oneLine(message: string): string {
  return message.includes('\n') ? message.replace(/[\r\n]+/g, ' ') : message;
}

function isBlank(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c !== 0x20 && c !== 0x09 && c !== CR) return false;
  }
  return true;
}

export class SocketConnection {
  private state: State = 'auth';
  private store = '';
  /** `AUTH <store> <key> envelope`: lines are envelopes carrying their own timestamps. */
  private envelopes = false;
  private readonly lines: LineSplitter;
  private stopping = false;
  private closed = false;
  private authTimer: NodeJS.Timeout | undefined;
  private readonly replies: OrderedReplies;
  private readonly origin: RecordOrigin;
  private batch: IngestRecord[] = [];
  /** Resolves when the socket has closed. */
  readonly done: Promise<void>;

  constructor(
    private readonly socket: net.Socket,
    private readonly stores: StoreAccess,
    batcher: EmitBatcher,
    private readonly settings: ConnectionSettings,
    inputId: string,
    private readonly logger: Logger,
  ) {
    this.origin = { input: inputId, remote: 'unix' };
    this.replies = new OrderedReplies(
      batcher,
      {
        write: (lines) => this.write(lines),
        pause: () => {
          this.socket.pause();
          settings.onPause?.(this.store);
        },
        resume: () => {
          if (!this.stopping && this.state !== 'closing') this.socket.resume();
        },
      },
      renderResult,
      settings.highWater,
      settings.lowWater,
    );
    this.lines = new LineSplitter(settings.maxLine, { line: (line) => this.onLine(line), tooLong: (max) => this.tooLong(max) });
    this.done = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') this.logger.debug({ err: err.message }, 'Unix socket client error.');
    });
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.replies.setWriteBlocked(false));
    this.authTimer = setTimeout(() => this.authTimeout(), settings.authTimeoutMs);
  }

  /** The authenticated store ('' before AUTH). */
  get storeName(): string {
    return this.store;
  }

  /**
   * Shutdown: read nothing more; answer what was received; then close. Unauthenticated clients
   * are dropped at once. Resolves when the socket is closed (the caller bounds the wait).
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.socket.pause();
    if (this.state !== 'data') {
      this.socket.destroy();
      return this.done;
    }
    this.flushBatch();
    await this.replies.whenAnswered();
    this.endAndDrain();
    return this.done;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closing' || this.stopping) return;
    this.lines.push(chunk);
    this.flushBatch();
  }

  /** A line over the limit was skipped (up to its newline); the connection carries on. */
  private tooLong(max: number): void {
    this.flushBatch();
    this.replies.reply(`ERROR ${ERRORS.TSS_ERR_LINE_TOO_LONG.message}: the limit is ${max} bytes\n`);
  }

  private onLine(line: Buffer): void {
    if (this.state === 'data') {
      if (line.length === 0 || (line[0] <= 0x20 && isBlank(line))) return;
      if (line.length === 4 && line.toString('latin1') === 'QUIT') {
        this.quit();
        return;
      }
      if (this.envelopes) {
        const env = decodeEnvelope(line);
        if (!env.ok) {
          this.flushBatch();
          this.replies.reply(`ERROR ${oneLine(env.message)}\n`);
          return;
        }
        this.batch.push({
          store: this.store,
          timestamp: env.timestamp,
          payload: env.payload,
          format: 'json',
          wellFormed: true,
          schemaFormat: 'full',
          origin: this.origin,
        });
        return;
      }
      this.batch.push({ store: this.store, payload: line, format: 'json', schemaFormat: 'full', origin: this.origin });
      return;
    }
    if (isBlank(line)) return;
    const text = line.toString('utf8').trim();
    if (text === 'QUIT') {
      this.quit();
      return;
    }
    const m = /^AUTH\s+(\S+)\s+(\S+)(?:\s+(envelope))?$/.exec(text);
    if (!m) {
      this.fail(
        /^AUTH\b/.test(text)
          ? 'ERROR authentication failed: expected AUTH <store> <api-key> [envelope]'
          : 'ERROR authentication required: the first line must be AUTH <store> <api-key>',
      );
      return;
    }
    let session: StoreSession;
    try {
      session = this.stores.session(m[1], m[2]);
    } catch (err) {
      this.fail(`ERROR ${oneLine(toTssError(err).message)}`);
      return;
    }
    const onEnded = (): void => this.endSession(session.signal.reason);
    session.signal.addEventListener('abort', onEnded, { once: true });
    this.socket.once('close', () => session.signal.removeEventListener('abort', onEnded));
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    this.store = m[1];
    this.envelopes = m[3] !== undefined;
    this.state = 'data';
    this.settings.onAuthenticated?.(this.store);
    this.replies.reply('OK\n');
  }

  /**
   * The session's key was revoked or its store deleted or reset: read nothing more, answer what was
   * received, then `ERROR session ended: …` and close.
   */
  private endSession(reason: unknown): void {
    if (this.state !== 'data' || this.stopping) return;
    const line = `ERROR ${oneLine(toTssError(reason).message)}`;
    for (let i = 0; i < this.batch.length; i++) this.replies.reply(line + '\n');
    this.batch = [];
    this.logger.info({ store: this.store, reason: line }, 'Unix-socket session ended.');
    this.fail(line);
  }

  private flushBatch(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.replies.submit(batch);
  }

  private quit(): void {
    this.flushBatch();
    this.replies.reply('OK bye\n');
    this.closeAfterReplies();
  }

  private fail(line: string): void {
    this.flushBatch();
    this.replies.reply(line + '\n');
    this.closeAfterReplies();
  }

  private closeAfterReplies(): void {
    this.state = 'closing';
    this.lines.halt();
    clearTimeout(this.authTimer);
    this.socket.pause();
    void this.replies.whenAnswered().then(() => this.endAndDrain());
  }

  /**
   * Send FIN, then read (and ignore) until the client's FIN: a socket left paused would never see
   * the EOF and would never close.
   */
  private endAndDrain(): void {
    if (this.closed) return;
    this.socket.end();
    this.socket.resume();
  }

  private authTimeout(): void {
    this.authTimer = undefined;
    if (this.state !== 'auth') return;
    this.fail(`ERROR authentication timeout: no AUTH line within ${this.settings.authTimeoutMs} ms`);
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** The client closed its sending side: a last unterminated line still counts; answer, then close. */
  private onEnd(): void {
    if (this.state !== 'closing' && !this.stopping) {
      this.lines.end();
      this.flushBatch();
    }
    if (this.state !== 'closing') {
      this.state = 'closing';
      clearTimeout(this.authTimer);
      void this.replies.whenAnswered().then(() => this.endAndDrain());
    }
  }

  private write(lines: string[]): void {
    if (this.closed || this.socket.destroyed) return;
    const ok = this.socket.write(lines.length === 1 ? lines[0] : lines.join(''));
    if (!ok) this.replies.setWriteBlocked(true);
  }

  private onClose(): void {
    this.closed = true;
    clearTimeout(this.authTimer);
    this.replies.close();
  }
}
