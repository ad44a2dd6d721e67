/**
 * Exact decoding of `{"timestamp"?, "data"}` envelopes.
 *
 * JSON.parse checks validity and gives the shape, but rounds integers above 2^53 and loses the
 * client's bytes. A top-level byte scanner then finds the raw spans of `timestamp` and `data`, so
 * the timestamp keeps every digit and json data is stored byte for byte (a zero-copy subarray of
 * the received buffer). Structural JSON characters are ASCII and never occur inside a UTF-8
 * multi-byte sequence, so scanning bytes is safe.
 */
import { reject, type Rejection } from '../plugin/errors.js';

export const INT64_MAX = 9223372036854775807n;

export interface Envelope {
  readonly ok: true;
  /** Undefined when absent, null or 0: the sink assigns "now". */
  readonly timestamp?: bigint;
  /** Raw bytes of the `data` value (whitespace around it excluded). */
  readonly payload: Buffer;
  /** JSON.parse result of `data` (numbers may be rounded: shape checks only). */
  readonly parsed: unknown;
}

const QUOTE = 0x22, BACKSLASH = 0x5c, LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d, COMMA = 0x2c;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export function skipWs(b: Buffer, i: number): number {
  while (i < b.length && isWs(b[i])) i++;
  return i;
}

/** Index just past the string starting at `i` (b[i] is the opening quote). */
function endOfString(b: Buffer, i: number): number {
  i++;
  while (i < b.length) {
    const c = b[i];
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return i;
}

/** Index just past the JSON value starting at `i` (input already known to be valid JSON). */
export function endOfValue(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) return endOfString(b, i);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    while (i < b.length) {
      const d = b[i];
      if (d === QUOTE) { i = endOfString(b, i); continue; }
      if (d === LBRACE || d === LBRACKET) depth++;
      else if (d === RBRACE || d === RBRACKET) { depth--; if (depth === 0) return i + 1; }
      i++;
    }
    return i;
  }
  while (i < b.length) {
    const d = b[i];
    if (d === COMMA || d === RBRACE || d === RBRACKET || isWs(d)) return i;
    i++;
  }
  return i;
}

/** Raw spans of one object member: the key's text between its quotes (still escaped), the value. */
export interface MemberSpan {
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
}

/**
 * Cursor over the top-level members of the JSON object in `b` (already known to be valid JSON):
 * start at `objectStart(b)`; each call fills `m` with the next member and returns where to
 * continue, or -1 after the last one. Members come in source order, duplicates included. Spans, not strings:
 * hot paths (schema_format) compare keys and check values without allocating.
 */
export function objectStart(b: Buffer): number {
  return skipWs(b, 0) + 1;
}

export function nextMember(b: Buffer, i: number, m: MemberSpan): number {
  i = skipWs(b, i);
  if (i >= b.length || b[i] === RBRACE) return -1;
  const keyEnd = endOfString(b, i);
  m.keyStart = i + 1;
  m.keyEnd = keyEnd - 1;
  i = skipWs(b, skipWs(b, keyEnd) + 1); // past ':'
  m.valueStart = i;
  m.valueEnd = endOfValue(b, i);
  i = skipWs(b, m.valueEnd);
  return b[i] === COMMA ? i + 1 : i;
}

/** Calls `visit` with the spans of each top-level member of the JSON object in `b`. */
export function scanMembers(b: Buffer, visit: (keyStart: number, keyEnd: number, valueStart: number, valueEnd: number) => void): void {
  const m: MemberSpan = { keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0 };
  for (let i = nextMember(b, objectStart(b), m); i !== -1; i = nextMember(b, i, m)) visit(m.keyStart, m.keyEnd, m.valueStart, m.valueEnd);
}

/** The decoded text of a key span from `scanMembers`. */
export function memberKey(b: Buffer, keyStart: number, keyEnd: number): string {
  for (let i = keyStart; i < keyEnd; i++) {
    const c = b[i];
    if (c === BACKSLASH || c > 0x7e) return JSON.parse(b.toString('utf8', keyStart - 1, keyEnd + 1)) as string;
  }
  return b.toString('latin1', keyStart, keyEnd);
}

/** Spans of the wanted top-level members of a JSON object (last occurrence wins, like JSON.parse). */
export function topLevelSpans(b: Buffer, wanted: readonly string[]): Map<string, [number, number]> {
  const spans = new Map<string, [number, number]>();
  scanMembers(b, (ks, ke, s, e) => {
    const key = memberKey(b, ks, ke);
    if (wanted.includes(key)) spans.set(key, [s, e]);
  });
  return spans;
}

const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/**
 * Parse an exact timestamp from a JSON number token. Accepts 0..INT64_MAX integers; 0 means "now".
 * Returns undefined for "now", a bigint, or a Rejection.
 */
export function parseTimestampToken(token: string): bigint | undefined | Rejection {
  if (!INTEGER.test(token)) return reject('TSS_ERR_TIMESTAMP_INVALID', 'invalid timestamp: must be a non-negative integer of nanoseconds');
  if (token.startsWith('-')) return token === '-0' ? undefined : reject('TSS_ERR_TIMESTAMP_INVALID', 'invalid timestamp: must not be negative');
  if (token.length > 19 || BigInt(token) > INT64_MAX) return reject('TSS_ERR_TIMESTAMP_INVALID', 'invalid timestamp: exceeds the signed 64-bit range');
  const ts = BigInt(token);
  return ts === 0n ? undefined : ts;
}

const DATA_KEY = Buffer.from('data');
const TIMESTAMP_KEY = Buffer.from('timestamp');

/** Whether the key span equals `key` (escaped spellings such as "d\u0061ta" included). */
function keyEquals(b: Buffer, ks: number, ke: number, key: Buffer): boolean {
  if (ke - ks === key.length && b.compare(key, 0, key.length, ks, ke) === 0) return true;
  return b.indexOf(BACKSLASH, ks) !== -1 && b.indexOf(BACKSLASH, ks) < ke && memberKey(b, ks, ke) === key.toString('latin1');
}

/** A timestamp from its number token; plain digit strings of up to 15 digits skip the regex. */
function timestampAt(b: Buffer, s: number, e: number, value: number): bigint | undefined | Rejection {
  if (e - s <= 15 && value >= 0) {
    let digits = true;
    for (let i = s; i < e; i++) { const c = b[i]; if (c < 0x30 || c > 0x39) { digits = false; break; } }
    if (digits) return value === 0 ? undefined : BigInt(value);
  }
  return parseTimestampToken(b.toString('latin1', s, e));
}

/** Decode an envelope received as bytes (REST body, WebSocket message, pulled message). */
export function decodeEnvelope(buf: Buffer): Envelope | Rejection {
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    return reject('TSS_ERR_INVALID_JSON', `invalid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return reject('TSS_ERR_INVALID_JSON', 'invalid JSON: expected an object {"timestamp"?, "data"}');
  }
  const obj = value as Record<string, unknown>;
  if (obj.data === undefined) return reject('TSS_ERR_DATA_REQUIRED');
  const t = obj.timestamp;
  if (t !== undefined && t !== null && typeof t !== 'number') {
    return reject('TSS_ERR_TIMESTAMP_INVALID', 'invalid timestamp: must be an integer, not a ' + (typeof t === 'object' ? 'JSON ' + (Array.isArray(t) ? 'array' : 'object') : typeof t));
  }
  // Last occurrence wins, as in JSON.parse.
  let dataStart = 0, dataEnd = 0, tsStart = -1, tsEnd = -1;
  const m: MemberSpan = { keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0 };
  for (let i = nextMember(buf, objectStart(buf), m); i !== -1; i = nextMember(buf, i, m)) {
    if (keyEquals(buf, m.keyStart, m.keyEnd, DATA_KEY)) { dataStart = m.valueStart; dataEnd = m.valueEnd; }
    else if (keyEquals(buf, m.keyStart, m.keyEnd, TIMESTAMP_KEY)) { tsStart = m.valueStart; tsEnd = m.valueEnd; }
  }
  let timestamp: bigint | undefined;
  if (typeof t === 'number') {
    const parsed = timestampAt(buf, tsStart, tsEnd, t);
    if (typeof parsed === 'object') return parsed;
    timestamp = parsed;
  }
  return { ok: true, timestamp, payload: buf.subarray(dataStart, dataEnd), parsed: obj.data };
}
