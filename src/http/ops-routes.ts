/**
 * Operator routes, unauthenticated and cheap: `GET /health` (liveness: the process answers),
 * `GET /ready` (200 when the sink is open and every input started; 503 with the reasons
 * otherwise) and `GET /metrics` (Prometheus text format).
 *
 * A damaged store never makes the server unready (the others serve): `/ready` then answers 200
 * `{"status":"degraded","reasons":[...]}` naming each unavailable store and why.
 */
import type Router from '@koa/router';
import type { ServerMetrics } from '../metrics/server-metrics.js';

export interface OpsDeps {
  readonly metrics: ServerMetrics;
  /** Why the server is not ready; empty when it is. */
  readonly notReady: () => string[];
  /** Problems that leave the server serving (e.g. damaged stores); empty when none. */
  readonly degraded?: () => string[];
}

export function registerOpsRoutes(router: Router, deps: OpsDeps): void {
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
    const all = [...reasons, ...degraded];
    ctx.body = JSON.stringify(all.length === 0 ? { status } : { status, reasons: all });
  });

  router.get('/metrics', async (ctx) => {
    const text = await deps.metrics.render();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = deps.metrics.contentType;
    ctx.body = text;
  });
}
