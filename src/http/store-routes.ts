/** Store management routes: create/list (admin), delete/reset/stats (store key), keys (admin). */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { stringifyExact } from '../core/json/index.js';
import type { Sink } from '../plugin/sink.js';
import type { StoreView } from '../plugin/stage.js';
import type { StoreCatalog } from '../stores/store-catalog.js';
import { storeStats } from '../stores/store-stats.js';
import { renderDeliveryStatus, type LabelledStatus } from '../stores/delivery-host.js';
import { requireAdmin, storeAuth } from './auth.js';
import { readJsonObject } from '../plugin/kit/http-body.js';

export interface RouteDeps {
  readonly catalog: StoreCatalog;
  readonly sinkOf: (store: string) => Sink;
  readonly adminKey: string;
  /** `server.public_store_list`: serve GET /api/stores without the admin key, as the reference did. */
  readonly publicStoreList?: boolean;
  /** Figures of the store's outputs (deliveries with a persisted cursor), for its stats. */
  readonly outputsOf?: (store: string) => Promise<readonly LabelledStatus[]>;
}

export function sendJson(ctx: Context, status: number, body: string | object): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = typeof body === 'string' ? body : stringifyExact(body);
}

export function registerStoreRoutes(router: Router, deps: RouteDeps): void {
  const admin = requireAdmin(deps.adminKey);
  const auth = storeAuth(deps.catalog, deps.adminKey);
  const { catalog } = deps;
  const store = (ctx: Context): string => (ctx.state.store as StoreView).name;

  router.post('/api/stores', admin, async (ctx) => {
    const body = await readJsonObject(ctx, 64 * 1024);
    const created = await catalog.create(body.name, body);
    sendJson(ctx, 201, created);
  });

  /**
   * `unavailable` lists stores that cannot serve (damaged files), with the reason: only behind the
   * admin key (a public list, `server.public_store_list`, names the stores only).
   */
  const listStores = (ctx: Context): void => {
    sendJson(ctx, 200, { stores: catalog.list() });
  };
  const listWithProblems = (ctx: Context): void => {
    const unavailable = catalog.unavailable();
    sendJson(ctx, 200, unavailable.length ? { stores: catalog.list(), unavailable } : { stores: catalog.list() });
  };
  if (deps.publicStoreList) router.get('/api/stores', listStores);
  else router.get('/api/stores', admin, listWithProblems);

  router.delete('/api/stores/:store', auth, async (ctx) => {
    await catalog.drop(store(ctx));
    sendJson(ctx, 200, { deleted: store(ctx) });
  });

  router.post('/api/stores/:store/reset', auth, async (ctx) => {
    await catalog.reset(store(ctx));
    sendJson(ctx, 200, { reset: store(ctx) });
  });

  router.get('/api/stores/:store/stats', auth, async (ctx) => {
    const stats = await storeStats(catalog, deps.sinkOf(store(ctx)), store(ctx));
    const outputs = deps.outputsOf ? await deps.outputsOf(store(ctx)) : [];
    sendJson(ctx, 200, outputs.length ? { ...stats, outputs: outputs.map(renderDeliveryStatus) } : stats);
  });

  const named = (ctx: Context): string => {
    const name = (ctx as Context & { params: Record<string, string> }).params.store;
    catalog.meta(name); // 404 for unknown stores
    return name;
  };

  router.get('/api/stores/:store/keys', admin, (ctx) => {
    sendJson(ctx, 200, { keys: catalog.listKeys(named(ctx)) });
  });

  router.post('/api/stores/:store/keys/regenerate', admin, async (ctx) => {
    const name = named(ctx);
    sendJson(ctx, 201, { name, ...(await catalog.regenerateKey(name)) });
  });

  router.delete('/api/stores/:store/keys/:keyId', admin, async (ctx) => {
    const name = named(ctx);
    await catalog.revokeKey(name, (ctx as Context & { params: Record<string, string> }).params.keyId);
    sendJson(ctx, 200, { revoked: (ctx as Context & { params: Record<string, string> }).params.keyId });
  });
}
