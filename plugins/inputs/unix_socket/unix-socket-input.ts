/**
 * The Unix-socket input: a local, low-overhead line protocol (docs/protocol.md, "Unix socket lines"). Lines from every
 * connection that arrive in one event-loop turn share one emit (group commit); replies are
 * pipelined and in order per connection; reading pauses while a connection has too much
 * unanswered.
 */
import fs from 'node:fs';
import net from 'node:net';
import { type Emit, EmitBatcher, type InputContext, type InputPlugin, type Resource } from 'tsstore/plugin';
import { SocketConnection } from './socket-connection.js';
import { claimSocketPath } from './socket-path.js';

export interface UnixSocketInputOptions {
  /** Socket file; filled in from server.socket_path (TSSTORE_SOCKET_PATH, serve --socket). */
  readonly path: string;
  /** File mode of the socket, octal string or number. */
  readonly mode: string | number;
  /** Longest line in bytes (`ERROR line too long` above). */
  readonly max_line: number;
  /** An unauthenticated client is dropped after this long. */
  readonly auth_timeout_ms: number;
  /** Unanswered lines per connection above which reading pauses (resumes at half). */
  readonly max_in_flight: number;
  /** How long shutdown waits for clients to take their last replies before cutting them. */
  readonly shutdown_grace_ms: number;
}

export function parseMode(mode: string | number): number {
  return typeof mode === 'number' ? mode : parseInt(mode, 8);
}

export class UnixSocketInput implements InputPlugin {
  private server?: net.Server;
  private batcher?: EmitBatcher;
  private readonly connections = new Set<SocketConnection>();
  private stopping?: Promise<void>;
  private ino?: number;

  constructor(
    private readonly options: UnixSocketInputOptions,
    private readonly ctx: InputContext,
  ) {}

  resources(): Resource[] {
    return [{ kind: 'unix-socket', id: this.options.path }];
  }

  async start(emit: Emit): Promise<void> {
    const socketPath = this.options.path;
    await claimSocketPath(socketPath);
    const batcher = new EmitBatcher(emit);
    this.batcher = batcher;
    const openConnections = this.ctx.metrics?.gauge('open_connections', 'Open connections.', ['store']);
    const pauses = this.ctx.metrics?.counter('reads_paused_total', 'Times reading from a connection was paused for back-pressure.', ['store']);
    const settings = {
      maxLine: this.options.max_line,
      authTimeoutMs: this.options.auth_timeout_ms,
      highWater: this.options.max_in_flight,
      lowWater: Math.floor(this.options.max_in_flight / 2),
      onAuthenticated: openConnections && ((store: string) => openConnections.inc({ store })),
      onPause: pauses && ((store: string) => pauses.inc({ store })),
    };
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      if (this.stopping) {
        socket.destroy();
        return;
      }
      const conn = new SocketConnection(socket, this.ctx.stores, batcher, settings, this.ctx.id, this.ctx.logger);
      this.connections.add(conn);
      void conn.done.then(() => {
        this.connections.delete(conn);
        if (conn.storeName) openConnections?.dec({ store: conn.storeName });
      });
    });
    server.on('error', (err) => this.ctx.logger.error({ path: socketPath, err: err.message }, 'Unix socket server error.'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new Error(`cannot listen on the Unix socket ${socketPath}: ${err.code === 'EADDRINUSE' ? 'the path is in use' : err.message}`));
      };
      server.once('error', onError);
      server.listen(socketPath, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    const mode = parseMode(this.options.mode);
    await fs.promises.chmod(socketPath, mode);
    this.ino = (await fs.promises.stat(socketPath)).ino;
    this.ctx.logger.info({ path: socketPath, mode: mode.toString(8) }, 'Unix socket listening.');
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const all = Promise.all([...this.connections].map((c) => c.shutdown()));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.shutdown_grace_ms);
    });
    await Promise.race([all, grace]);
    clearTimeout(timer);
    for (const c of this.connections) c.destroy();
    await closed;
    await this.batcher?.settle();
    await this.removeSocketFile();
  }

  /** Node leaves the socket file behind; remove it unless another server has replaced it. */
  private async removeSocketFile(): Promise<void> {
    try {
      const st = await fs.promises.lstat(this.options.path);
      if (st.ino === this.ino) await fs.promises.unlink(this.options.path);
    } catch {
      // already gone
    }
  }
}
