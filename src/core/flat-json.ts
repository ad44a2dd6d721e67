/**
 * A strict JSON grammar check for the one shape schema stores take: an object whose member values
 * are all scalars (strings, numbers, true, false, null). It is a fraction of the cost of
 * JSON.parse and builds nothing; the validate stage uses it for schema-store records nobody has
 * parsed yet (Unix-socket lines). `false` means "not provably valid here" — nested values, other
 * top-level values or a grammar error — and the caller falls back to JSON.parse, which gives the
 * exact answer and the usual error message. It must never accept what JSON.parse rejects.
 */
import { skipWs } from './envelope.js';

const QUOTE = 0x22, BACKSLASH = 0x5c, LBRACE = 0x7b, RBRACE = 0x7d, COMMA = 0x2c, COLON = 0x3a;
const MINUS = 0x2d, PLUS = 0x2b, DOT = 0x2e, ZERO = 0x30, NINE = 0x39, E_LOWER = 0x65, E_UPPER = 0x45;

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** Index just past a valid string starting at `i` (b[i] is '"'), or -1. */
function string(b: Buffer, i: number): number {
  const n = b.length;
  i++;
  while (i < n) {
    const c = b[i];
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      const d = b[i + 1];
      if (d === 0x75) { // \uXXXX
        if (!(isHex(b[i + 2]) && isHex(b[i + 3]) && isHex(b[i + 4]) && isHex(b[i + 5]))) return -1;
        i += 6;
      } else if (d === QUOTE || d === BACKSLASH || d === 0x2f || d === 0x62 || d === 0x66 || d === 0x6e || d === 0x72 || d === 0x74) {
        i += 2;
      } else return -1;
    } else i++;
  }
  return -1;
}

function digits(b: Buffer, i: number): number {
  while (b[i] >= ZERO && b[i] <= NINE) i++;
  return i;
}

/** Index just past a valid number starting at `i`, or -1. */
function number(b: Buffer, i: number): number {
  if (b[i] === MINUS) i++;
  if (b[i] === ZERO) i++;
  else if (b[i] >= 0x31 && b[i] <= NINE) i = digits(b, i + 1);
  else return -1;
  if (b[i] === DOT) {
    const j = digits(b, i + 1);
    if (j === i + 1) return -1;
    i = j;
  }
  if (b[i] === E_LOWER || b[i] === E_UPPER) {
    i++;
    if (b[i] === PLUS || b[i] === MINUS) i++;
    const j = digits(b, i);
    if (j === i) return -1;
    i = j;
  }
  return i;
}

function literal(b: Buffer, i: number, word: string): number {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

function scalar(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) return string(b, i);
  if (c === 0x74) return literal(b, i, 'true');
  if (c === 0x66) return literal(b, i, 'false');
  if (c === 0x6e) return literal(b, i, 'null');
  return number(b, i);
}

/** True when `b` is exactly one valid JSON object whose member values are all scalars. */
export function isFlatScalarObject(b: Buffer): boolean {
  let i = skipWs(b, 0);
  if (b[i] !== LBRACE) return false;
  i = skipWs(b, i + 1);
  if (b[i] === RBRACE) return skipWs(b, i + 1) === b.length;
  for (;;) {
    if (b[i] !== QUOTE) return false;
    i = string(b, i);
    if (i < 0) return false;
    i = skipWs(b, i);
    if (b[i] !== COLON) return false;
    i = scalar(b, skipWs(b, i + 1));
    if (i < 0) return false;
    i = skipWs(b, i);
    if (b[i] === COMMA) { i = skipWs(b, i + 1); continue; }
    if (b[i] !== RBRACE) return false;
    return skipWs(b, i + 1) === b.length;
  }
}
