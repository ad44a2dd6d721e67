/**
 * The `ws_pull` input: owns every pull connection of every store, their HTTP management routes
 * and their persistence. `start` registers the routes, then loads each store's connections.json
 * and dials them (this runs before the server listens); `stop` closes every connection, stores
 * what was received and saves the cursors.
 *
 * Changes to one store's connections (create, delete, store deletion) run one at a time, so a
 * connection created while its store is being deleted either dies with the store or is refused.
 */
import { randomUUID } from 'node:crypto';
import {
  type Emit,
  type InputContext,
  type InputPlugin,
  OutboundPolicy,
  type PluginCounter,
  type PluginGauge,
  type Resource,
  SerialQueue,
  TssError,
  loadStoreStateFiles,
} from 'tsstore/plugin';
import {
  CONNECTIONS_FILE,
  ConnectionFileWriter,
  connectionsFile,
  readConnections,
  type ConnectionConfig,
  type PersistedConnection,
} from './connection-file.js';
import { parseConnectionRequest } from './connection-request.js';
import type { WsPullOptions } from './options.js';
import { loggableUrl, PullConnection } from './pull-connection.js';

interface StoreConnections {
  readonly conns: Map<string, PullConnection>;
  readonly writer: ConnectionFileWriter;
  readonly queue: SerialQueue;
  dropped: boolean;
}

export class WsPullInput implements InputPlugin {
  private emit?: Emit;
  private readonly stores = new Map<string, StoreConnections>();
  private stopping?: Promise<void>;
  private unsubscribe?: () => void;
  private unregister?: () => void;

  private readonly outbound: OutboundPolicy;
  private readonly connectionsGauge: PluginGauge | undefined;
  private readonly reconnects: PluginCounter | undefined;

  constructor(
    private readonly options: WsPullOptions,
    private readonly ctx: InputContext,
  ) {
    this.outbound = ctx.outbound ?? OutboundPolicy.from();
    this.connectionsGauge = ctx.metrics?.gauge('connections', 'Pull connections by state.', ['store', 'state']);
    this.reconnects = ctx.metrics?.counter('reconnects_total', 'Successful redials after a pull connection was lost.', ['store']);
  }

  resources(): Resource[] {
    return [{ kind: 'connection-mode', id: 'pull' }];
  }

  async start(emit: Emit): Promise<void> {
    this.emit = emit;
    this.registerMode();
    this.unsubscribe = this.ctx.stores.onStoreDropped((store) => this.storeDropped(store));
    await this.loadAll();
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.unsubscribe?.();
    this.unregister?.();
    await Promise.all(
      [...this.stores.values()].map((sc) =>
        sc.queue.run(async () => {
          await Promise.all([...sc.conns.values()].map((c) => c.stop('shutdown')));
          if (!sc.dropped) await sc.writer.flush().catch(() => undefined);
          sc.writer.close();
        }),
      ),
    );
  }

  private async loadAll(): Promise<void> {
    const { dataDir, logger } = this.ctx;
    const loaded = await loadStoreStateFiles({
      dataDir,
      fileName: CONNECTIONS_FILE,
      what: 'pull connections',
      logger,
      isStore: (store) => Boolean(this.ctx.stores.view(store)),
      read: readConnections,
    });
    let started = 0;
    for (const { store, value: saved } of loaded) {
      const sc = this.storeConnections(store);
      for (const p of saved) {
        const conn = this.newConnection(store, p, p);
        sc.conns.set(conn.id, conn);
        conn.start();
        started++;
      }
    }
    logger.info({ connections: started }, 'Pull connections started.');
  }

  private storeConnections(store: string): StoreConnections {
    let sc = this.stores.get(store);
    if (!sc) {
      const conns = new Map<string, PullConnection>();
      const writer = new ConnectionFileWriter(
        connectionsFile(this.ctx.dataDir, store),
        () => [...conns.values()].map((c) => c.persisted()),
        this.options.persist_interval_ms,
        this.ctx.logger.child({ store }),
      );
      sc = { conns, writer, queue: new SerialQueue(), dropped: false };
      this.stores.set(store, sc);
    }
    return sc;
  }

  private newConnection(store: string, config: ConnectionConfig, saved: Pick<PersistedConnection, 'cursor' | 'last_timestamp'>): PullConnection {
    const sc = this.storeConnections(store);
    return new PullConnection(store, config, saved, {
      options: this.options,
      outbound: this.outbound,
      emit: this.emit!,
      logger: this.ctx.logger,
      inputId: this.ctx.id,
      onCursor: () => sc.writer.schedule(),
      onState: (from, to) => {
        if (from) this.connectionsGauge?.dec({ store, state: from });
        if (to) this.connectionsGauge?.inc({ store, state: to });
      },
      onConnected: (first) => {
        if (!first) this.reconnects?.inc({ store });
      },
    });
  }

  private async storeDropped(store: string): Promise<void> {
    const sc = this.stores.get(store);
    if (!sc) return;
    await sc.queue.run(async () => {
      sc.dropped = true;
      sc.writer.close();
      await Promise.all([...sc.conns.values()].map((c) => c.stop('discard')));
      sc.conns.clear();
      if (this.stores.get(store) === sc) this.stores.delete(store);
      this.ctx.logger.info({ store }, 'Store deleted: its pull connections are stopped and removed.');
    });
  }

  /** The `pull` mode of the host's connection endpoints (`/api/stores/:store/ws/connections`). */
  private registerMode(): void {
    this.unregister = this.ctx.http.connections.register('pull', {
      create: async (store, body) => {
        const req = parseConnectionRequest(body);
        await this.outbound.check(req.url);
        return (await this.create(store, req)).status();
      },
      list: (store) => [...(this.stores.get(store)?.conns.values() ?? [])].map((c) => c.status()),
      get: (store, id) => this.stores.get(store)?.conns.get(id)?.status(),
      remove: async (store, id) => {
        if (!this.stores.get(store)?.conns.has(id)) return false;
        await this.remove(store, id);
        return true;
      },
    });
  }

  private async create(store: string, req: ReturnType<typeof parseConnectionRequest>): Promise<PullConnection> {
    if (this.stopping) throw new TssError('TSS_ERR_SHUTTING_DOWN');
    const sc = this.storeConnections(store);
    return sc.queue.run(async () => {
      if (sc.dropped || !this.ctx.stores.view(store)) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${store}`);
      if (this.stopping) throw new TssError('TSS_ERR_SHUTTING_DOWN');
      const max = this.options.max_connections_per_store;
      if (sc.conns.size >= max)
        throw new TssError(
          'TSS_ERR_CONNECTION_LIMIT',
          `too many connections for this store: the limit is ${max} (max_connections_per_store); delete one first`,
        );
      const config: ConnectionConfig = {
        id: randomUUID(),
        mode: 'pull',
        url: req.url,
        format: req.format,
        headers: req.headers,
        created_at: new Date().toISOString(),
      };
      const conn = this.newConnection(store, config, {});
      sc.conns.set(conn.id, conn);
      try {
        await sc.writer.flush();
      } catch (err) {
        sc.conns.delete(conn.id);
        throw err;
      }
      conn.start();
      this.ctx.logger.info({ store, connection: conn.id, url: loggableUrl(req.url) }, 'Pull connection created.');
      return conn;
    });
  }

  private find(store: string, id: string): PullConnection {
    const conn = this.stores.get(store)?.conns.get(id);
    if (!conn) throw new TssError('TSS_ERR_CONNECTION_NOT_FOUND', `connection not found: store ${store} has no connection ${id}`);
    return conn;
  }

  private async remove(store: string, id: string): Promise<string> {
    const sc = this.stores.get(store);
    if (!sc) throw new TssError('TSS_ERR_CONNECTION_NOT_FOUND', `connection not found: store ${store} has no connection ${id}`);
    return sc.queue.run(async () => {
      const conn = this.find(store, id);
      await conn.stop('discard');
      sc.conns.delete(id);
      await sc.writer.flush();
      this.ctx.logger.info({ store, connection: id }, 'Pull connection deleted.');
      return id;
    });
  }
}
