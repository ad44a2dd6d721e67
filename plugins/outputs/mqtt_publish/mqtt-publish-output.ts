/**
 * The `mqtt_publish` output: owns every MQTT publish connection of every store, the management
 * routes (`POST/GET/DELETE /api/stores/:store/mqtt/connections`) and their file
 * (`<store>/mqtt_connections.json`). `start` registers the routes, then starts the saved
 * connections of every store; `stop` stops them (each after its publish in flight settled).
 *
 * Changes to one store's connections (create, delete, store deletion) run one at a time.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import {
  OutboundPolicy,
  type OutputContext,
  type OutputPlugin,
  parseJsonExact,
  readBody,
  type Resource,
  SerialQueue,
  type StoreView,
  stringifyExact,
  TssError,
  loadStoreStateFiles,
} from 'tsstore/plugin';
import { MQTT_CONNECTIONS_FILE, type MqttConnectionConfig, mqttConnectionsFile, readMqttConnections, writeMqttConnections } from './connection-file.js';
import { parseMqttConnectionRequest } from './connection-request.js';
import { maskedUrl, MqttConnection } from './mqtt-connection.js';
import type { MqttPublishOptions } from './options.js';

export const MQTT_ROUTE = '/api/stores/:store/mqtt/connections';
const BODY_LIMIT = 64 * 1024;

interface StoreConnections {
  readonly conns: Map<string, MqttConnection>;
  readonly queue: SerialQueue;
  dropped: boolean;
}

export class MqttPublishOutput implements OutputPlugin {
  private readonly stores = new Map<string, StoreConnections>();
  private stopping?: Promise<void>;
  private unsubscribe?: () => void;

  constructor(
    private readonly options: MqttPublishOptions,
    private readonly ctx: OutputContext,
  ) {}

  resources(): Resource[] {
    return [{ kind: 'http-route', id: `POST ${MQTT_ROUTE}` }];
  }

  async start(): Promise<void> {
    this.registerRoutes();
    this.unsubscribe = this.ctx.stores.onStoreDropped((store) => this.storeDropped(store));
    await this.loadAll();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.unsubscribe?.();
      await Promise.all(
        [...this.stores.values()].map((sc) =>
          sc.queue.run(async () => {
            await Promise.all([...sc.conns.values()].map((c) => c.stop()));
          }),
        ),
      );
    })();
    return this.stopping;
  }

  private storeConnections(store: string): StoreConnections {
    let sc = this.stores.get(store);
    if (!sc) {
      sc = { conns: new Map(), queue: new SerialQueue(), dropped: false };
      this.stores.set(store, sc);
    }
    return sc;
  }

  private async loadAll(): Promise<void> {
    const { dataDir, logger } = this.ctx;
    const loaded = await loadStoreStateFiles({
      dataDir,
      fileName: MQTT_CONNECTIONS_FILE,
      what: 'MQTT connections',
      logger,
      isStore: (store) => Boolean(this.ctx.stores.view(store)),
      read: readMqttConnections,
    });
    let started = 0;
    for (const { store, value: saved } of loaded) {
      const sc = this.storeConnections(store);
      for (const config of saved) {
        const conn = this.newConnection(store, config);
        sc.conns.set(conn.id, conn);
        await conn.start();
        started++;
      }
    }
    logger.info({ connections: started }, 'MQTT publish connections started.');
  }

  private newConnection(store: string, config: MqttConnectionConfig): MqttConnection {
    return new MqttConnection(store, config, this.options, this.ctx, (conn) => {
      const sc = this.stores.get(store);
      if (sc?.conns.get(conn.id) === conn) sc.conns.delete(conn.id);
    });
  }

  private async save(store: string, sc: StoreConnections): Promise<void> {
    await writeMqttConnections(
      mqttConnectionsFile(this.ctx.dataDir, store),
      [...sc.conns.values()].map((c) => c.config),
    );
  }

  private async storeDropped(store: string): Promise<void> {
    const sc = this.stores.get(store);
    if (!sc) return;
    await sc.queue.run(async () => {
      sc.dropped = true;
      await Promise.all([...sc.conns.values()].map((c) => c.stop()));
      sc.conns.clear();
      if (this.stores.get(store) === sc) this.stores.delete(store);
    });
  }

  private registerRoutes(): void {
    const { router, storeAuth } = this.ctx.http;
    const storeOf = (ctx: Context): string => (ctx.state.store as StoreView).name;
    const idOf = (ctx: Context): string => (ctx as Context & { params: Record<string, string> }).params.id;

    router.post(MQTT_ROUTE, storeAuth, async (ctx) => {
      const raw = await readBody(ctx, BODY_LIMIT);
      let body: unknown;
      try {
        body = raw.length ? parseJsonExact(raw) : {};
      } catch (err) {
        throw new TssError('TSS_ERR_INVALID_JSON', `invalid JSON: ${(err as Error).message}`);
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new TssError('TSS_ERR_INVALID_JSON', 'invalid JSON: expected an object {"broker_url","topic",...}');
      const req = parseMqttConnectionRequest(body as Record<string, unknown>);
      await (this.ctx.outbound ?? OutboundPolicy.from()).check(req.broker_url);
      const conn = await this.create(storeOf(ctx), req);
      send(ctx, 201, await conn.status());
    });

    router.get(MQTT_ROUTE, storeAuth, async (ctx) => {
      const sc = this.stores.get(storeOf(ctx));
      const list = sc ? await Promise.all([...sc.conns.values()].map((c) => c.status())) : [];
      send(ctx, 200, { connections: list, count: list.length });
    });

    router.get(`${MQTT_ROUTE}/:id`, storeAuth, async (ctx) => {
      send(ctx, 200, await this.find(storeOf(ctx), idOf(ctx)).status());
    });

    router.delete(`${MQTT_ROUTE}/:id`, storeAuth, async (ctx) => {
      const id = await this.remove(storeOf(ctx), idOf(ctx));
      send(ctx, 200, { deleted: true, id });
    });
  }

  private async create(store: string, req: ReturnType<typeof parseMqttConnectionRequest>): Promise<MqttConnection> {
    if (this.stopping) throw new TssError('TSS_ERR_SHUTTING_DOWN');
    const sc = this.storeConnections(store);
    return sc.queue.run(async () => {
      if (sc.dropped || !this.ctx.stores.view(store)) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${store}`);
      if (this.stopping) throw new TssError('TSS_ERR_SHUTTING_DOWN');
      const max = this.options.max_connections_per_store;
      if (sc.conns.size >= max)
        throw new TssError(
          'TSS_ERR_CONNECTION_LIMIT',
          `too many MQTT connections for this store: the limit is ${max} (max_connections_per_store); delete one first`,
        );
      const config: MqttConnectionConfig = { id: randomUUID(), ...req, created_at: new Date().toISOString() };
      const conn = this.newConnection(store, config);
      sc.conns.set(conn.id, conn);
      try {
        await this.save(store, sc);
      } catch (err) {
        sc.conns.delete(conn.id);
        throw err;
      }
      await conn.start();
      this.ctx.logger.info({ store, connection: conn.id, broker: maskedUrl(req.broker_url), topic: req.topic }, 'MQTT publish connection created.');
      return conn;
    });
  }

  private find(store: string, id: string): MqttConnection {
    const conn = this.stores.get(store)?.conns.get(id);
    if (!conn) throw new TssError('TSS_ERR_CONNECTION_NOT_FOUND', `connection not found: store ${store} has no MQTT connection ${id}`);
    return conn;
  }

  private async remove(store: string, id: string): Promise<string> {
    const sc = this.stores.get(store);
    if (!sc) throw new TssError('TSS_ERR_CONNECTION_NOT_FOUND', `connection not found: store ${store} has no MQTT connection ${id}`);
    return sc.queue.run(async () => {
      const conn = this.find(store, id);
      await conn.remove();
      sc.conns.delete(id);
      await this.save(store, sc);
      this.ctx.logger.info({ store, connection: id }, 'MQTT publish connection deleted.');
      return id;
    });
  }
}

function send(ctx: Context, status: number, body: object): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = stringifyExact(body);
}
