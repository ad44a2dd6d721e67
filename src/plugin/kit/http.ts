/**
 * Helpers for inputs that serve their own routes on the HTTP host (`ctx.http.router`): the store
 * key in tsstore's order, the `format` parameter, and tsstore's error answer. Body reading with a
 * size limit and the media type are in http-body.ts. tsstore's own routes use these same helpers.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Context } from 'koa';
import { TssError, toTssError } from '../errors.js';
import type { SchemaFormat } from '../record.js';

type Query = Record<string, string | string[] | undefined>;

/** The last value of a query parameter (`?a=1&a=2` → `2`). */
export function queryValue(query: Query, name: string): string | undefined {
  const v = query[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export interface ApiKeyOptions {
  /**
   * `Authorization` schemes accepted, case-insensitive (default `['Bearer']`). Add `'Token'` for
   * clients that send `Authorization: Token <key>` (InfluxDB style).
   */
  readonly schemes?: readonly string[];
  /** Query parameter holding the key (default `api_key`); `null` for none. */
  readonly query?: string | null;
}

/**
 * A store key from, in this order: the `X-API-Key` header, the `Authorization` header with one of
 * `schemes`, then the `?api_key=` query parameter. Undefined when none is present. Pass the result
 * to `ctx.stores.authenticate(store, key)`.
 */
export function apiKeyOf(ctx: Context, options: ApiKeyOptions = {}): string | undefined {
  const header = ctx.get('x-api-key');
  if (header) return header.trim();
  const auth = ctx.get('authorization');
  if (auth) {
    const space = auth.search(/\s/);
    if (space > 0) {
      const scheme = auth.slice(0, space).toLowerCase();
      if ((options.schemes ?? ['Bearer']).some((s) => s.toLowerCase() === scheme)) {
        const key = auth.slice(space).trim();
        if (key) return key;
      }
    }
  }
  const param = options.query === undefined ? 'api_key' : options.query;
  if (param === null) return undefined;
  const q = ctx.query[param];
  return typeof q === 'string' && q !== '' ? q : undefined;
}

/** `?format=full|compact` for schema stores (default `full`); anything else is TSS_ERR_QUERY_INVALID. */
export function formatParam(query: Query): SchemaFormat {
  const v = queryValue(query, 'format');
  if (v === undefined || v === '' || v === 'full') return 'full';
  if (v === 'compact') return 'compact';
  throw new TssError('TSS_ERR_QUERY_INVALID', `invalid format: must be full or compact, got "${v}"`);
}

/** tsstore's error body: `{"error":"<message>","code":"TSS_ERR_…"}`. */
export function errorBody(err: { readonly code: string; readonly message: string }): string {
  return JSON.stringify({ error: err.message, code: err.code });
}

/**
 * Answer with an error the way tsstore's routes do: the catalog status and `errorBody`. Anything
 * that is not a TssError (by code) is answered as TSS_ERR_INTERNAL. Returns the error answered.
 * (Throwing a TssError from a route handler has the same effect: the host answers it.)
 */
export function sendError(ctx: Context, err: unknown): TssError {
  const e = toTssError(err);
  ctx.status = e.status;
  ctx.type = 'application/json';
  ctx.body = errorBody(e);
  return e;
}

/**
 * Completes a WebSocket upgrade (`ctx.ws()` of koa-easy-ws) or resolves `undefined` when the
 * client's socket closes first: koa-easy-ws never settles `ctx.ws()` when ws refuses the handshake
 * (a bad Sec-WebSocket-Key or version, for one), which would leave the route handler pending.
 */
export async function upgradeOrClose<T>(socket: Socket, upgrade: () => Promise<T>): Promise<T | undefined> {
  let onClose: (() => void) | undefined;
  try {
    return await Promise.race([
      upgrade(),
      new Promise<undefined>((resolve) => {
        onClose = () => resolve(undefined);
        socket.once('close', onClose);
      }),
    ]);
  } finally {
    socket.off('close', onClose!);
  }
}

/** Headers the WebSocket handshake sets itself: a connection request may not give them. */
const HANDSHAKE_HEADERS = new Set([
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

/**
 * The `headers` field of an outbound WebSocket connection request (pull or push): absent or null →
 * none; otherwise an object of header names to string values that node accepts, none of them a
 * handshake header. Anything else is a 400 TSS_ERR_BAD_REQUEST naming the header.
 */
export function handshakeHeaders(value: unknown): Record<string, string> {
  const bad = (message: string): TssError => new TssError('TSS_ERR_BAD_REQUEST', message);
  const headers: Record<string, string> = {};
  if (value === undefined || value === null) return headers;
  if (typeof value !== 'object' || Array.isArray(value)) throw bad('headers must be an object of header names to string values');
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') throw bad(`header ${JSON.stringify(name)} must have a string value`);
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, v);
    } catch (err) {
      throw bad(`header ${JSON.stringify(name)} is not valid: ${(err as Error).message}`);
    }
    if (HANDSHAKE_HEADERS.has(name.toLowerCase())) throw bad(`header ${JSON.stringify(name)} is set by the WebSocket handshake itself and cannot be given`);
    headers[name] = v;
  }
  return headers;
}
