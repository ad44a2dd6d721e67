/**
 * Resource claims of inputs (ports, socket paths, HTTP routes) and when two of them collide.
 *
 * HTTP routes are compared as patterns, the way the router matches them: `POST
 * /api/stores/:store/data` and `POST /api/stores/w/data` collide, because a request for store
 * `w` would reach whichever route was registered first and the other would never see it.
 */
import type { Resource } from '../plugin/input.js';

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '*']);

function splitHostPort(id: string): { host: string; port: string } {
  const i = id.lastIndexOf(':');
  return i < 0 ? { host: '', port: id } : { host: id.slice(0, i).replace(/^\[|\]$/g, ''), port: id.slice(i + 1) };
}

type Segment = { readonly kind: 'literal'; readonly text: string } | { readonly kind: 'param'; readonly optional: boolean } | { readonly kind: 'rest' };

/** `/a/:b/c?` → segments. A segment with a parameter or wildcard anywhere in it matches any text. */
function segmentsOf(path: string): Segment[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s): Segment => {
      if (s === '*' || s === '(.*)' || /^:[^/]*[*+]$/.test(s)) return { kind: 'rest' };
      if (/[:*(]/.test(s)) return { kind: 'param', optional: s.endsWith('?') };
      return { kind: 'literal', text: s.toLowerCase() };
    });
}

/** Whether some request path matches both segment lists. */
function pathsOverlap(a: readonly Segment[], b: readonly Segment[], i = 0, j = 0): boolean {
  if (i === a.length && j === b.length) return true;
  if (a[i]?.kind === 'rest' || b[j]?.kind === 'rest') return true;
  const sa = a[i];
  const sb = b[j];
  if (sa?.kind === 'param' && sa.optional && pathsOverlap(a, b, i + 1, j)) return true;
  if (sb?.kind === 'param' && sb.optional && pathsOverlap(a, b, i, j + 1)) return true;
  if (sa === undefined || sb === undefined) return false;
  if (sa.kind === 'literal' && sb.kind === 'literal' && sa.text !== sb.text) return false;
  return pathsOverlap(a, b, i + 1, j + 1);
}

/** `METHOD /path` (the method may be `ALL` or `*`, or be left out: any method). */
function parseRoute(id: string): { method: string; path: string } {
  const m = /^([A-Za-z*]+)\s+(\S+)$/.exec(id.trim());
  return m ? { method: m[1].toUpperCase(), path: m[2] } : { method: '*', path: id.trim() };
}

/** Whether two route claims can match one request: overlapping methods and path patterns. */
export function routesOverlap(a: string, b: string): boolean {
  const x = parseRoute(a);
  const y = parseRoute(b);
  const anyMethod = (m: string): boolean => m === '*' || m === 'ALL';
  if (x.method !== y.method && !anyMethod(x.method) && !anyMethod(y.method)) return false;
  return pathsOverlap(segmentsOf(x.path), segmentsOf(y.path));
}

/**
 * Whether two claims collide: HTTP routes one request could match; the same socket path; the same
 * TCP port on the same or a wildcard host.
 */
export function resourcesCollide(a: Resource, b: Resource): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'http-route') return routesOverlap(a.id, b.id);
  if (a.kind !== 'tcp-port') return a.id === b.id;
  const x = splitHostPort(a.id);
  const y = splitHostPort(b.id);
  if (x.port !== y.port || x.port === '0') return false;
  return x.host === y.host || WILDCARD_HOSTS.has(x.host) || WILDCARD_HOSTS.has(y.host);
}
