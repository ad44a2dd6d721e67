/**
 * Exact decoding of `{"timestamp"?, "data"}` envelopes (REST bodies, WebSocket messages, pulled
 * messages, batch elements, import lines) in one strict pass over the bytes: the pass validates
 * the whole envelope (UTF-8 included) and finds the spans of `timestamp` and `data` on the way.
 * The timestamp keeps every digit (BigInt, never a rounded number); `data` is a zero-copy
 * subarray of the received bytes, stored byte for byte.
 */
import { MAX_TIMESTAMP } from '../../plugin/clock.js';
import { reject, type Rejection } from '../../plugin/errors.js';
import {
  BACKSLASH,
  COLON,
  COMMA,
  LBRACE,
  LBRACKET,
  QUOTE,
  RBRACE,
  hasByte,
  invalidJsonMessage,
  isJson,
  memberKey,
  scanString,
  scanValue,
  skipWs,
} from './scan.js';

/** The one timestamp maximum (2^63-1 ns) every sink applies too. */
export const INT64_MAX = MAX_TIMESTAMP;

export interface Envelope {
  readonly ok: true;
  /** Undefined when absent, null or 0: the sink assigns "now". */
  readonly timestamp?: bigint;
  /** Raw bytes of the `data` value (whitespace around it excluded); valid JSON, valid UTF-8. */
  readonly payload: Buffer;
  /**
   * JSON.parse of `data`, computed when first read (numbers may be rounded: shape checks only).
   * Inputs need not pass it on: a record whose payload came from `decodeEnvelope` is marked
   * `wellFormed` instead, and the validate stage trusts that.
   */
  readonly parsed: unknown;
}

class DecodedEnvelope implements Envelope {
  readonly ok = true as const;
  private value: unknown;
  private hasValue = false;
  constructor(
    readonly timestamp: bigint | undefined,
    readonly payload: Buffer,
  ) {}

  get parsed(): unknown {
    if (!this.hasValue) {
      this.value = JSON.parse(this.payload.toString('utf8'));
      this.hasValue = true;
    }
    return this.value;
  }
}

const INTEGER = /^-?(0|[1-9][0-9]*)$/;

function outOfRange(): Rejection {
  return reject('TSS_ERR_TIMESTAMP_INVALID', 'invalid timestamp: exceeds the signed 64-bit range');
}

/**
 * Parse an exact timestamp from a JSON number token. Accepts 0..INT64_MAX integers; 0 means "now".
 * Returns undefined for "now", a bigint, or a Rejection.
 */
export function parseTimestampToken(token: string): bigint | undefined | Rejection {
  if (!INTEGER.test(token)) return reject('TSS_ERR_TIMESTAMP_INVALID', 'invalid timestamp: must be a non-negative integer of nanoseconds');
  if (token.startsWith('-')) return token === '-0' ? undefined : reject('TSS_ERR_TIMESTAMP_INVALID', 'invalid timestamp: must not be negative');
  if (token.length > 19 || BigInt(token) > INT64_MAX) return outOfRange();
  const ts = BigInt(token);
  return ts === 0n ? undefined : ts;
}

/** The timestamp of a `timestamp` member whose (valid) value spans b[s..e). */
function timestampAt(b: Buffer, s: number, e: number): bigint | undefined | Rejection {
  const c = b[s];
  if (c === 0x6e) return undefined; // null
  if (c === QUOTE) return notAnInteger('string');
  if (c === LBRACE) return notAnInteger('JSON object');
  if (c === LBRACKET) return notAnInteger('JSON array');
  if (c === 0x74 || c === 0x66) return notAnInteger('boolean');
  // A valid number token. Plain digits (no sign, fraction or exponent; no leading zero, the
  // grammar saw to that) of up to 19 digits are read without a string or a regex: the digits
  // before the last nine and the last nine are each exact in a double.
  const n = e - s;
  if (n <= 19) {
    const split = n > 9 ? e - 9 : s;
    let hi = 0,
      lo = 0,
      i = s;
    for (; i < split; i++) {
      const d = b[i] - 0x30;
      if (d < 0 || d > 9) break;
      hi = hi * 10 + d;
    }
    if (i === split)
      for (; i < e; i++) {
        const d = b[i] - 0x30;
        if (d < 0 || d > 9) break;
        lo = lo * 10 + d;
      }
    if (i === e) {
      if (n <= 15) {
        const v = hi * 1e9 + lo;
        return v === 0 ? undefined : BigInt(v);
      }
      const ts = BigInt(hi) * 1_000_000_000n + BigInt(lo);
      return ts <= INT64_MAX ? ts : outOfRange();
    }
  }
  return parseTimestampToken(b.toString('latin1', s, e));
}

function notAnInteger(what: string): Rejection {
  return reject('TSS_ERR_TIMESTAMP_INVALID', `invalid timestamp: must be an integer, not a ${what}`);
}

const DATA = 1,
  TIMESTAMP = 2;
const TIMESTAMP_BYTES = Buffer.from('timestamp');

function bytesAre(b: Buffer, at: number, word: Buffer): boolean {
  for (let k = 0; k < word.length; k++) if (b[at + k] !== word[k]) return false;
  return true;
}

/** Which envelope member the key b[ks..ke) (between its quotes) names: DATA, TIMESTAMP or 0. */
function memberOf(b: Buffer, ks: number, ke: number): number {
  const n = ke - ks;
  if (n === 4 && b[ks] === 0x64 && b[ks + 1] === 0x61 && b[ks + 2] === 0x74 && b[ks + 3] === 0x61) return DATA;
  if (n === 9 && bytesAre(b, ks, TIMESTAMP_BYTES)) return TIMESTAMP;
  if (n < 4 || !hasByte(b, BACKSLASH, ks, ke)) return 0;
  // An escaped spelling such as "d\u0061ta".
  const key = memberKey(b, ks, ke);
  return key === 'data' ? DATA : key === 'timestamp' ? TIMESTAMP : 0;
}

function invalid(b: Buffer, start: number, end: number): Rejection {
  return reject('TSS_ERR_INVALID_JSON', invalidJsonMessage(b, start, end));
}

/** Decode the envelope in b[start..end) (whitespace around it allowed). */
export function decodeEnvelopeAt(b: Buffer, start: number, end: number): Envelope | Rejection {
  let i = skipWs(b, start, end);
  if (i >= end || b[i] !== LBRACE) {
    return isJson(b, start, end) ? reject('TSS_ERR_INVALID_JSON', 'invalid JSON: expected an object {"timestamp"?, "data"}') : invalid(b, start, end);
  }
  // Last occurrence wins, as in JSON.parse.
  let dataStart = -1,
    dataEnd = -1,
    tsStart = -1,
    tsEnd = -1;
  i = skipWs(b, i + 1, end);
  if (i < end && b[i] === RBRACE) i++;
  else {
    for (;;) {
      if (i >= end || b[i] !== QUOTE) return invalid(b, start, end);
      const ks = i + 1;
      i = scanString(b, i, end);
      if (i < 0) return invalid(b, start, end);
      const ke = i - 1;
      i = skipWs(b, i, end);
      if (i >= end || b[i] !== COLON) return invalid(b, start, end);
      const vs = skipWs(b, i + 1, end);
      i = scanValue(b, vs, end);
      if (i < 0) return invalid(b, start, end);
      const which = memberOf(b, ks, ke);
      if (which === DATA) {
        dataStart = vs;
        dataEnd = i;
      } else if (which === TIMESTAMP) {
        tsStart = vs;
        tsEnd = i;
      }
      i = skipWs(b, i, end);
      if (i < end && b[i] === COMMA) {
        i = skipWs(b, i + 1, end);
        continue;
      }
      if (i < end && b[i] === RBRACE) {
        i++;
        break;
      }
      return invalid(b, start, end);
    }
  }
  if (skipWs(b, i, end) !== end) return invalid(b, start, end);
  if (dataStart < 0) return reject('TSS_ERR_DATA_REQUIRED');
  let timestamp: bigint | undefined;
  if (tsStart >= 0) {
    const t = timestampAt(b, tsStart, tsEnd);
    if (typeof t === 'object') return t;
    timestamp = t;
  }
  return new DecodedEnvelope(timestamp, b.subarray(dataStart, dataEnd));
}

/** Decode an envelope received as bytes (REST body, WebSocket message, pulled message). */
export function decodeEnvelope(buf: Buffer): Envelope | Rejection {
  return decodeEnvelopeAt(buf, 0, buf.length);
}
