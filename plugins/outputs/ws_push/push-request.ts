/**
 * Checks a `POST /api/stores/:store/ws/connections` body with `"mode": "push"` (the reference's
 * fields: url, from, format, headers, filter, filter_ignore_case); every problem is a 400 naming
 * the field.
 */
import { handshakeHeaders, type SchemaFormat, TssError } from 'tsstore/plugin';

export interface PushRequest {
  readonly url: string;
  /** 0: from the oldest record; -1: only records committed from now on; else records after it. */
  readonly from: bigint;
  readonly format: SchemaFormat;
  readonly headers: Record<string, string>;
  readonly filter?: string;
  readonly filter_ignore_case: boolean;
}

const FIELDS = ['mode', 'url', 'from', 'format', 'headers', 'filter', 'filter_ignore_case'];
/** Set by the WebSocket client itself; a caller's value would break the handshake. */
const MAX_TS = (1n << 63n) - 1n;

function bad(message: string): TssError {
  return new TssError('TSS_ERR_BAD_REQUEST', message);
}

/** A ws:// or wss:// URL with a host and no fragment (also used for pull targets' rules). */
export function checkWsUrl(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw bad('url is required: a ws:// or wss:// URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(`url is not a valid URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw bad(`url must use the ws:// or wss:// scheme, got ${url.protocol}//`);
  if (!url.hostname) throw bad('url has no host');
  if (url.hash) throw bad('url must not contain a fragment (#...)');
  return value;
}

function fromOf(v: unknown): bigint {
  if (v === undefined || v === null || v === 'oldest') return 0n;
  if (v === 'now') return -1n;
  let t: bigint | undefined;
  if (typeof v === 'bigint') t = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) t = BigInt(v);
  else if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) t = BigInt(v);
  if (t === undefined || t < -1n || t > MAX_TS)
    throw bad(`from must be 0 (the oldest record), -1 (now) or a timestamp in nanoseconds, got ${JSON.stringify(typeof v === 'bigint' ? v.toString() : v)}`);
  return t;
}

export function parsePushRequest(body: Record<string, unknown>): PushRequest {
  const unknown = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknown.length)
    throw bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; allowed for mode "push": ${FIELDS.join(', ')}`);
  const url = checkWsUrl(body.url);
  const from = fromOf(body.from);
  const format = body.format ?? 'full';
  if (format !== 'full' && format !== 'compact') throw bad(`format must be "full" or "compact", got ${JSON.stringify(format)}`);
  const headers = handshakeHeaders(body.headers);
  if (body.filter !== undefined && body.filter !== null && typeof body.filter !== 'string')
    throw bad("filter must be a string (a substring the record's data must contain)");
  if (body.filter_ignore_case !== undefined && body.filter_ignore_case !== null && typeof body.filter_ignore_case !== 'boolean')
    throw bad('filter_ignore_case must be true or false');
  const filter = typeof body.filter === 'string' && body.filter !== '' ? body.filter : undefined;
  return { url, from, format, headers, filter, filter_ignore_case: body.filter_ignore_case === true };
}
