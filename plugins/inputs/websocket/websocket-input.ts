/**
 * The WebSocket write input: `GET /api/stores/:store/ws/write` on the shared HTTP port (docs/protocol.md, "WebSocket write").
 * The key comes from `X-API-Key`, `Authorization: Bearer` or `?api_key=` (storeAuth); a bad key
 * fails the handshake with 401. Idle connections stay open: the server pings every
 * `ping_interval_ms` and terminates only peers that answered nothing in a whole interval.
 */
import type { Context } from 'koa';
import type WebSocket from 'ws';
import {
  type Emit,
  EmitBatcher,
  formatParam,
  type InputContext,
  type InputPlugin,
  type PluginCounter,
  type PluginGauge,
  type Resource,
  type StoreSession,
  TssError,
  upgradeOrClose,
} from 'tsstore/plugin';
import { WsWriteConnection, type WsSettings } from './ws-connection.js';

export interface WebSocketInputOptions {
  /** Largest message accepted; bigger ones get an error frame (the connection stays). */
  readonly max_message: number;
  /** Server ping period; a peer silent for a whole period is terminated. 0 disables pings. */
  readonly ping_interval_ms: number;
  /** Unanswered messages per connection above which reading pauses (resumes at half). */
  readonly max_in_flight: number;
  /** How long shutdown waits for clients to take their last acks before cutting them. */
  readonly shutdown_grace_ms: number;
}

export const WS_WRITE_ROUTE = '/api/stores/:store/ws/write';

export class WebSocketInput implements InputPlugin {
  private batcher?: EmitBatcher;
  private readonly connections = new Set<WsWriteConnection>();
  private pinger?: NodeJS.Timeout;
  private stopping?: Promise<void>;
  private readonly settings: WsSettings;
  private openConnections?: PluginGauge;
  private pauses?: PluginCounter;

  constructor(
    private readonly options: WebSocketInputOptions,
    private readonly ctx: InputContext,
  ) {
    this.settings = { maxMessage: options.max_message, highWater: options.max_in_flight, lowWater: Math.floor(options.max_in_flight / 2) };
  }

  resources(): Resource[] {
    return [{ kind: 'http-route', id: `GET ${WS_WRITE_ROUTE}` }];
  }

  async start(emit: Emit): Promise<void> {
    this.batcher = new EmitBatcher(emit);
    this.openConnections = this.ctx.metrics?.gauge('open_connections', 'Open connections.', ['store']);
    this.pauses = this.ctx.metrics?.counter('reads_paused_total', 'Times reading from a connection was paused for back-pressure.', ['store']);
    const { router, storeAuth } = this.ctx.http;
    router.get(WS_WRITE_ROUTE, storeAuth, (ctx) => this.accept(ctx));
    if (this.options.ping_interval_ms > 0) {
      this.pinger = setInterval(() => {
        for (const c of this.connections) c.ping();
      }, this.options.ping_interval_ms);
      this.pinger.unref();
    }
  }

  private async accept(ctx: Context): Promise<void> {
    if (this.stopping || !this.batcher) throw new TssError('TSS_ERR_SHUTTING_DOWN');
    const upgrade = (ctx as Context & { ws?: () => Promise<WebSocket> }).ws;
    if (!upgrade) throw new TssError('TSS_ERR_UPGRADE_REQUIRED', 'upgrade required: this endpoint is a WebSocket; connect with a WebSocket client');
    const format = formatParam(ctx.query);
    const session = ctx.state.session as StoreSession;
    const store = session.store;
    const socket = ctx.req.socket;
    const ws = await upgradeOrClose(socket, upgrade);
    if (!ws) return;
    if (this.stopping) {
      ws.on('error', () => undefined);
      ws.close(1001, 'server shutting down');
      return;
    }
    const labels = { store: store.name };
    const pauses = this.pauses?.labels(labels);
    const conn = new WsWriteConnection(
      ws,
      socket,
      store.name,
      session.signal,
      format,
      this.batcher,
      { ...this.settings, onPause: pauses && (() => pauses.inc()) },
      this.ctx.id,
      `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`,
      this.ctx.logger,
    );
    this.connections.add(conn);
    this.openConnections?.inc(labels);
    void conn.done.then(() => {
      this.connections.delete(conn);
      this.openConnections?.dec(labels);
    });
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.pinger) clearInterval(this.pinger);
    const all = Promise.all([...this.connections].map((c) => c.shutdown()));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.shutdown_grace_ms);
    });
    await Promise.race([all, grace]);
    clearTimeout(timer);
    for (const c of this.connections) c.terminate();
    await this.batcher?.settle();
  }
}
