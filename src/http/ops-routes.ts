/**
 * Operator routes, cheap: `GET /health` (liveness: the process answers) and `GET /ready` (200
 * when the sink is open and every input started; 503 with the reasons otherwise) need no key;
 * `GET /metrics` (Prometheus text format) lists every store, so it needs the admin key or the
 * scrape token (`server.metrics_token`), unless `server.public_metrics` opens it.
 *
 * A damaged store never makes the server unready (the others serve): `/ready` then answers 200
 * `{"status":"degraded","reasons":[...]}`. Store names are not public: the reasons name each
 * unavailable store and why only for a caller that could read /metrics; anyone else is told how
 * many stores are unavailable.
 */
import crypto from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import { TssError } from '../plugin/errors.js';

export interface OpsDeps {
  readonly metrics: ServerMetrics;
  /** The admin key: opens /metrics (X-Admin-Key, ?admin_key=, Authorization: Bearer). */
  readonly adminKey: string;
  /** The scrape token (Authorization: Bearer); undefined: none configured. */
  readonly metricsToken?: string;
  /** /metrics and the names on /ready without a key. */
  readonly publicMetrics?: boolean;
  /** Why the server is not ready; empty when it is. */
  readonly notReady: () => string[];
  /** Problems that leave the server serving (e.g. damaged stores); empty when none. */
  readonly degraded?: () => string[];
}

const digest = (s: string): Buffer => crypto.createHash('sha256').update(s).digest();

/** Constant-time equality of two secrets of any length (their hashes are compared). */
function same(expected: string | undefined, presented: string): boolean {
  // A missing expected secret is compared too (against a value no credential has), so the answer
  // takes the same time whether a token is configured or not.
  return crypto.timingSafeEqual(digest(expected ?? '\0no-secret'), digest(presented)) && expected !== undefined;
}

/** 'ok' for the admin key or the metrics token, 'none' when no credential came, else 'wrong'. */
function metricsCredential(ctx: Context, deps: OpsDeps): 'ok' | 'none' | 'wrong' {
  const auth = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(ctx.get('authorization'));
  const bearer = auth?.[1];
  const header = ctx.get('x-admin-key').trim();
  const q = ctx.query.admin_key;
  const admin = header || (typeof q === 'string' && q !== '' ? q : undefined);
  if (bearer === undefined && admin === undefined) return 'none';
  let ok = false;
  if (bearer !== undefined) ok = same(deps.metricsToken, bearer) || same(deps.adminKey, bearer);
  if (admin !== undefined) ok = same(deps.adminKey, admin) || ok;
  return ok ? 'ok' : 'wrong';
}

export function registerOpsRoutes(router: Router, deps: OpsDeps): void {
  /** May this caller see store names (the /metrics contents, the stores on /ready)? */
  const mayList = (ctx: Context): boolean => deps.publicMetrics === true || metricsCredential(ctx, deps) === 'ok';

  router.get('/health', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'application/json';
    ctx.body = '{"status":"ok"}';
  });

  router.get('/ready', (ctx) => {
    const reasons = deps.notReady();
    const degraded = deps.degraded?.() ?? [];
    ctx.set('Cache-Control', 'no-store');
    ctx.status = reasons.length === 0 ? 200 : 503;
    ctx.type = 'application/json';
    const status = reasons.length > 0 ? 'not ready' : degraded.length > 0 ? 'degraded' : 'ready';
    const shown =
      degraded.length === 0 || mayList(ctx)
        ? degraded
        : [
            `${degraded.length} store${degraded.length === 1 ? ' is' : 's are'} unavailable (damaged or unreadable files): ` +
              'send the admin key or the metrics token to see which; `tsstore status` and the server log name them too',
          ];
    const all = [...reasons, ...shown];
    ctx.body = JSON.stringify(all.length === 0 ? { status } : { status, reasons: all });
  });

  router.get('/metrics', async (ctx) => {
    if (!deps.publicMetrics) {
      const cred = metricsCredential(ctx, deps);
      if (cred !== 'ok') {
        ctx.set('WWW-Authenticate', 'Bearer realm="tsstore metrics"');
        throw new TssError(
          'TSS_ERR_METRICS_UNAUTHORIZED',
          cred === 'none'
            ? 'metrics need the admin key (X-Admin-Key) or the metrics token (Authorization: Bearer <server.metrics_token>); server.public_metrics: true serves them without one'
            : 'invalid admin key or metrics token',
        );
      }
    }
    const text = await deps.metrics.render();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = deps.metrics.contentType;
    ctx.body = text;
  });
}
