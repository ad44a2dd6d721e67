/**
 * The `ws_push` output: owns every push connection of every store (the `push` mode of the host's
 * `/api/stores/:store/ws/connections` endpoints) and their persistence. `start` registers the
 * mode, then loads each store's push-connections.json and starts them (before any input starts);
 * `stop` closes every connection, keeping their cursors.
 *
 * Changes to one store's push connections (create, delete, store deletion) run one at a time, so
 * a connection created while its store is being deleted either dies with the store or is refused.
 */
import { randomUUID } from 'node:crypto';
import { OutboundPolicy, type OutputContext, type OutputPlugin, type Resource, SerialQueue, TssError, loadStoreStateFiles } from 'tsstore/plugin';
import type { WsPushOptions } from './options.js';
import { PushConnection, type PushRecordHook, loggableUrl } from './push-connection.js';
import { PUSH_FILE, type PushConfig, pushFile, readPushConnections, writePushConnections } from './push-file.js';
import { parsePushRequest } from './push-request.js';

interface StorePushes {
  readonly conns: Map<string, PushConnection>;
  readonly queue: SerialQueue;
  dropped: boolean;
}

export class WsPushOutput implements OutputPlugin {
  private readonly stores = new Map<string, StorePushes>();
  private stopping?: Promise<void>;
  private unsubscribe?: () => void;
  private unregister?: () => void;
  /** Per-record hooks every push connection runs (see PushRecordHook). */
  readonly hooks: PushRecordHook[] = [];

  private readonly outbound: OutboundPolicy;

  constructor(
    private readonly options: WsPushOptions,
    private readonly ctx: OutputContext,
  ) {
    this.outbound = ctx.outbound ?? OutboundPolicy.from();
  }

  resources(): Resource[] {
    return [{ kind: 'connection-mode', id: 'push' }];
  }

  async start(): Promise<void> {
    this.unregister = this.ctx.http.connections.register('push', {
      create: async (store, body) => {
        const req = parsePushRequest(body);
        // A target the allow-list refuses is a 403 at once, not a connection that never dials.
        await this.outbound.check(req.url);
        return (await this.create(store, req)).status();
      },
      list: (store) => Promise.all([...(this.stores.get(store)?.conns.values() ?? [])].map((c) => c.status())),
      get: (store, id) => this.stores.get(store)?.conns.get(id)?.status(),
      remove: async (store, id) => {
        if (!this.stores.get(store)?.conns.has(id)) return false;
        await this.remove(store, id);
        return true;
      },
    });
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
    await Promise.all([...this.stores.values()].map((sp) => sp.queue.run(() => Promise.all([...sp.conns.values()].map((c) => c.stop())))));
  }

  private async loadAll(): Promise<void> {
    const { dataDir, logger } = this.ctx;
    const loaded = await loadStoreStateFiles({
      dataDir,
      fileName: PUSH_FILE,
      what: 'push connections',
      logger,
      isStore: (store) => Boolean(this.ctx.stores.view(store)),
      read: readPushConnections,
    });
    let started = 0;
    for (const { store, value: saved } of loaded) {
      const sp = this.storePushes(store);
      for (const config of saved) {
        const conn = this.newConnection(store, config);
        sp.conns.set(conn.id, conn);
        await conn.start();
        started++;
      }
    }
    if (started > 0) logger.info({ connections: started }, 'Push connections started.');
  }

  private storePushes(store: string): StorePushes {
    let sp = this.stores.get(store);
    if (!sp) {
      sp = { conns: new Map(), queue: new SerialQueue(), dropped: false };
      this.stores.set(store, sp);
    }
    return sp;
  }

  private newConnection(store: string, config: PushConfig): PushConnection {
    return new PushConnection(store, config, {
      options: this.options,
      deliveries: this.ctx.deliveries,
      logger: this.ctx.logger,
      outbound: this.outbound,
      view: () => this.ctx.stores.view(store),
      hooks: this.hooks,
    });
  }

  private save(store: string, sp: StorePushes): Promise<void> {
    return writePushConnections(
      pushFile(this.ctx.dataDir, store),
      [...sp.conns.values()].map((c) => c.config),
    );
  }

  private async storeDropped(store: string): Promise<void> {
    const sp = this.stores.get(store);
    if (!sp) return;
    await sp.queue.run(async () => {
      sp.dropped = true;
      await Promise.all([...sp.conns.values()].map((c) => c.stop()));
      sp.conns.clear();
      if (this.stores.get(store) === sp) this.stores.delete(store);
      this.ctx.logger.info({ store }, 'Store deleted: its push connections are stopped and removed.');
    });
  }

  private async create(store: string, req: ReturnType<typeof parsePushRequest>): Promise<PushConnection> {
    if (this.stopping) throw new TssError('TSS_ERR_SHUTTING_DOWN');
    const sp = this.storePushes(store);
    return sp.queue.run(async () => {
      if (sp.dropped || !this.ctx.stores.view(store)) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${store}`);
      if (this.stopping) throw new TssError('TSS_ERR_SHUTTING_DOWN');
      const max = this.options.max_connections_per_store;
      if (sp.conns.size >= max)
        throw new TssError(
          'TSS_ERR_CONNECTION_LIMIT',
          `too many push connections for this store: the limit is ${max} (max_connections_per_store); delete one first`,
        );
      const config: PushConfig = { id: randomUUID(), mode: 'push', ...req, created_at: new Date().toISOString() };
      const conn = this.newConnection(store, config);
      sp.conns.set(conn.id, conn);
      try {
        await this.save(store, sp);
        await conn.start();
      } catch (err) {
        sp.conns.delete(conn.id);
        await conn.remove().catch(() => undefined);
        await this.save(store, sp).catch(() => undefined);
        throw err;
      }
      this.ctx.logger.info({ store, connection: conn.id, url: loggableUrl(req.url) }, 'Push connection created.');
      return conn;
    });
  }

  private async remove(store: string, id: string): Promise<void> {
    const sp = this.stores.get(store);
    if (!sp) return;
    await sp.queue.run(async () => {
      const conn = sp.conns.get(id);
      if (!conn) throw new TssError('TSS_ERR_CONNECTION_NOT_FOUND', `connection not found: store ${store} has no connection ${id}`);
      await conn.remove();
      sp.conns.delete(id);
      await this.save(store, sp);
      this.ctx.logger.info({ store, connection: id }, 'Push connection deleted.');
    });
  }
}
