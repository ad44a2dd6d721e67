/** Parsing of read-query parameters (docs/protocol.md, "Reading"), each failure a 400 naming the parameter. */
import { parseDurationNs } from '../plugin/kit/duration.js';
import { substringFilter } from '../core/render-data.js';
import { parseTimestampToken } from '../core/json/index.js';
import { nowNs } from '../plugin/clock.js';
import { TssError } from '../plugin/errors.js';

/** The reference's cap. Answers above PAGE_LIMIT records are streamed page by page. */
export const MAX_LIMIT = 100_000;
/** Records read and rendered at once; larger answers stream in pages of this size. */
export const PAGE_LIMIT = 10_000;
type Query = Record<string, string | string[] | undefined>;

export function one(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

function bad(name: string, why: string): TssError {
  return new TssError('TSS_ERR_QUERY_INVALID', `invalid ${name}: ${why}`);
}

export function limitParam(q: Query, dflt: number): number {
  const v = one(q, 'limit');
  if (v === undefined || v === '') return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_LIMIT) throw bad('limit', `must be an integer from 1 to ${MAX_LIMIT}, got "${v}"`);
  return Number(v);
}

export function boolParam(q: Query, name: string, dflt: boolean): boolean {
  const v = one(q, name);
  if (v === undefined || v === '') return dflt;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw bad(name, `must be true or false, got "${v}"`);
}

/** A timestamp in nanoseconds, or an RFC 3339 date. */
export function timeValue(name: string, v: string): bigint {
  if (/^-?\d+$/.test(v)) {
    const t = parseTimestampToken(v);
    if (typeof t === 'object') throw bad(name, `${t.message.replace(/^invalid timestamp: /, '')}, got "${v}"`);
    return t ?? 0n;
  }
  const ms = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw bad(name, `expected nanoseconds since the epoch or an RFC 3339 time, got "${v}"`);
  return BigInt(ms) * 1_000_000n;
}

export function timeParam(q: Query, name: string): bigint | undefined {
  const v = one(q, name);
  return v === undefined || v === '' ? undefined : timeValue(name, v);
}

/** `since=2h` → the timestamp 2 hours ago. */
export function sinceParam(q: Query): bigint | undefined {
  const v = one(q, 'since');
  if (v === undefined || v === '') return undefined;
  const ns = parseDurationNs(v);
  if (ns === undefined) throw bad('since', `expected a duration such as 30s, 15m, 2h, 7d or 1w, got "${v}"`);
  return nowNs() - ns;
}

/** Case-sensitive or -insensitive substring predicate over rendered data, when `filter` is set. */
export function filterParam(q: Query): ((text: string) => boolean) | undefined {
  const f = one(q, 'filter');
  return substringFilter(f, f !== undefined && f !== '' && boolParam(q, 'filter_ignore_case', false));
}
