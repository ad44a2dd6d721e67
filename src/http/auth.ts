/** Key extraction and the admin / store authentication middleware. */
import crypto from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { TssError } from '../plugin/errors.js';
import type { StoreAccess, StoreSession } from '../plugin/descriptor.js';
import { apiKeyOf } from '../plugin/kit/http.js';

function adminKeyOf(ctx: Context): string | undefined {
  const header = ctx.get('x-admin-key');
  if (header) return header.trim();
  const q = ctx.query.admin_key;
  return typeof q === 'string' && q !== '' ? q : undefined;
}

export function adminKeyMatches(expected: string, presented: string): boolean {
  const a = crypto.createHash('sha256').update(expected).digest();
  const b = crypto.createHash('sha256').update(presented).digest();
  return crypto.timingSafeEqual(a, b);
}

export function requireAdmin(adminKey: string): Middleware {
  return async (ctx, next) => {
    const presented = adminKeyOf(ctx);
    if (!presented) throw new TssError('TSS_ERR_ADMIN_KEY_REQUIRED');
    if (!adminKeyMatches(adminKey, presented)) throw new TssError('TSS_ERR_ADMIN_KEY_INVALID');
    await next();
  };
}

/**
 * Authenticates `:store` with a store key and sets `ctx.state.store` and `ctx.state.session` (a
 * StoreSession). A valid admin key is accepted too, so operators (and the CLI) can manage any
 * store; its session ends with the store's deletion or reset.
 */
export function storeAuth(stores: StoreAccess & { missing?(store: string): Error; adminSession?(store: string): StoreSession }, adminKey: string): Middleware {
  return async (ctx, next) => {
    const name = (ctx as Context & { params: Record<string, string> }).params.store;
    const admin = adminKeyOf(ctx);
    if (admin && !apiKeyOf(ctx)) {
      if (!adminKeyMatches(adminKey, admin)) throw new TssError('TSS_ERR_ADMIN_KEY_INVALID');
      const view = stores.view(name);
      if (!view) throw stores.missing?.(name) ?? new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${name}`);
      const session = stores.adminSession?.(name) ?? { store: view, signal: new AbortController().signal };
      ctx.state.store = view;
      ctx.state.session = session;
    } else {
      const session = stores.session(name, apiKeyOf(ctx));
      ctx.state.store = session.store;
      ctx.state.session = session;
    }
    await next();
  };
}
