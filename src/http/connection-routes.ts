/**
 * `/api/stores/:store/ws/connections[/:id]`: the outbound connection endpoints, shared by every
 * connection mode a plugin registers (`pull` from the ws_pull input, `push` from the ws_push
 * output). The host reads and checks the body once (exact integers), dispatches a create by
 * `mode`, a get or delete by id, and lists every mode's connections.
 */
import type { Context } from 'koa';
import type { ConnectionMode, ConnectionModes } from '../plugin/descriptor.js';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { TssError } from '../plugin/errors.js';
import { readBody } from '../plugin/kit/http-body.js';
import { parseJsonExact, stringifyExact } from '../core/json/index.js';

export const CONNECTIONS_ROUTE = '/api/stores/:store/ws/connections';
const BODY_LIMIT = 64 * 1024;

function send(ctx: Context, status: number, body: object): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = stringifyExact(body);
}

export class ConnectionRoutes implements ConnectionModes {
  private readonly modes = new Map<string, ConnectionMode>();
  private routed = false;

  constructor(
    private readonly router: Router,
    private readonly storeAuth: Middleware,
  ) {}

  register(mode: string, handler: ConnectionMode): () => void {
    if (this.modes.has(mode)) throw new Error(`connection mode "${mode}" is already registered`);
    this.modes.set(mode, handler);
    this.route();
    return () => {
      if (this.modes.get(mode) === handler) this.modes.delete(mode);
    };
  }

  private supported(): string {
    return [...this.modes.keys()].map((m) => `"${m}"`).join(', ');
  }

  private route(): void {
    if (this.routed) return;
    this.routed = true;
    const { router, storeAuth } = this;
    const storeOf = (ctx: Context): string => (ctx.state.store as { name: string }).name;
    const idOf = (ctx: Context): string => (ctx as Context & { params: Record<string, string> }).params.id;
    const notFound = (store: string, id: string): TssError =>
      new TssError('TSS_ERR_CONNECTION_NOT_FOUND', `connection not found: store ${store} has no connection ${id}`);

    router.post(CONNECTIONS_ROUTE, storeAuth, async (ctx) => {
      const raw = await readBody(ctx, BODY_LIMIT);
      let body: unknown = {};
      if (raw.length > 0) {
        try {
          body = parseJsonExact(raw);
        } catch (err) {
          throw new TssError('TSS_ERR_INVALID_JSON', `invalid JSON: ${(err as Error).message}`);
        }
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new TssError('TSS_ERR_INVALID_JSON', 'invalid JSON: expected an object {"mode","url",...}');
      const mode = (body as Record<string, unknown>).mode;
      if (mode === undefined) throw new TssError('TSS_ERR_BAD_REQUEST', `mode is required: one of ${this.supported()}`);
      const handler = typeof mode === 'string' ? this.modes.get(mode) : undefined;
      if (!handler) throw new TssError('TSS_ERR_BAD_REQUEST', `unsupported mode ${JSON.stringify(mode)}: supported modes are ${this.supported()}`);
      send(ctx, 201, await handler.create(storeOf(ctx), body as Record<string, unknown>));
    });

    router.get(CONNECTIONS_ROUTE, storeAuth, async (ctx) => {
      const store = storeOf(ctx);
      const list = (await Promise.all([...this.modes.values()].map((m) => m.list(store)))).flat();
      send(ctx, 200, { connections: list, count: list.length });
    });

    router.get(`${CONNECTIONS_ROUTE}/:id`, storeAuth, async (ctx) => {
      const store = storeOf(ctx);
      const id = idOf(ctx);
      for (const m of this.modes.values()) {
        const s = await m.get(store, id);
        if (s) {
          send(ctx, 200, s);
          return;
        }
      }
      throw notFound(store, id);
    });

    router.delete(`${CONNECTIONS_ROUTE}/:id`, storeAuth, async (ctx) => {
      const store = storeOf(ctx);
      const id = idOf(ctx);
      for (const m of this.modes.values()) {
        if (await m.remove(store, id)) {
          send(ctx, 200, { deleted: id });
          return;
        }
      }
      throw notFound(store, id);
    });
  }
}
