/**
 * The JSON byte scanner: every JSON path of tsstore reads bytes through this file.
 *
 * Two ways to walk a JSON text held in a Buffer:
 * - strict (`scanValue`, `scanString`, `scanNumber`): the full grammar of RFC 8259, UTF-8
 *   included. It accepts exactly what `JSON.parse(buf.toString('utf8'))` accepts, except that it
 *   also refuses invalid UTF-8 (which JSON.parse would silently turn into U+FFFD while the bytes
 *   stored stayed invalid). It builds nothing unless handed a `JsonBuilder`, and it is iterative,
 *   so nesting depth never threatens the stack.
 * - trusting (`endOfValue`, the member cursor, `topLevelSpans`): finds where values end in bytes
 *   already known to be valid JSON (or, for resynchronising after a bad batch element, bytes that
 *   only need strings and nesting tracked).
 *
 * Structural characters are ASCII and never occur inside a UTF-8 multi-byte sequence, so
 * scanning bytes is safe. Spans, not strings: callers compare keys and copy values without
 * allocating. A string is always told from a number by its opening quote, never by its content.
 */

export const QUOTE = 0x22,
  BACKSLASH = 0x5c,
  COMMA = 0x2c,
  COLON = 0x3a;
export const LBRACE = 0x7b,
  RBRACE = 0x7d,
  LBRACKET = 0x5b,
  RBRACKET = 0x5d;
const MINUS = 0x2d,
  PLUS = 0x2b,
  DOT = 0x2e,
  ZERO = 0x30,
  NINE = 0x39;

export function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** First index at or after `i` (and before `end`) that is not JSON whitespace. */
export function skipWs(b: Uint8Array, i: number, end = b.length): number {
  while (i < end) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
  return i;
}

// ---- strict scanning ----

/** Where and why the last strict scan failed (valid until the next scan). */
export interface ScanError {
  at: number;
  what: string;
}

export const scanError: ScanError = { at: 0, what: '' };

function fail(at: number, what: string): number {
  scanError.at = at;
  scanError.what = what;
  return -1;
}

/**
 * Byte classes inside a string: 0 ordinary ASCII, 1 closing quote, 2 backslash, 3 control
 * character (refused), 4 the lead byte of a UTF-8 sequence (checked), 5 never valid in UTF-8.
 */
const STR = new Uint8Array(256);
STR[QUOTE] = 1;
STR[BACKSLASH] = 2;
for (let c = 0; c < 0x20; c++) STR[c] = 3;
for (let c = 0x80; c < 0x100; c++) STR[c] = c >= 0xc2 && c <= 0xf4 ? 4 : 5;

/** Escapes allowed after a backslash (besides `u`): " \ / b f n r t. */
const ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') ESCAPE[c.charCodeAt(0)] = 1;

const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

function isCont(c: number): boolean {
  return (c & 0xc0) === 0x80;
}

/** Index past the UTF-8 sequence whose lead byte (0xc2..0xf4) is at `i`, or -1 (shortest form, no surrogates, <= U+10FFFF). */
function utf8Sequence(b: Uint8Array, i: number, end: number): number {
  const c = b[i];
  if (c < 0xe0) return i + 1 < end && isCont(b[i + 1]) ? i + 2 : fail(i, 'invalid UTF-8');
  if (c < 0xf0) {
    if (i + 2 >= end) return fail(i, 'invalid UTF-8');
    const d = b[i + 1];
    const ok = c === 0xe0 ? d >= 0xa0 && d <= 0xbf : c === 0xed ? d >= 0x80 && d <= 0x9f : isCont(d);
    return ok && isCont(b[i + 2]) ? i + 3 : fail(i, 'invalid UTF-8');
  }
  if (i + 3 >= end) return fail(i, 'invalid UTF-8');
  const d = b[i + 1];
  const ok = c === 0xf0 ? d >= 0x90 && d <= 0xbf : c === 0xf4 ? d >= 0x80 && d <= 0x8f : isCont(d);
  return ok && isCont(b[i + 2]) && isCont(b[i + 3]) ? i + 4 : fail(i, 'invalid UTF-8');
}

/** Index just past the valid string starting at `i` (b[i] is the opening quote), or -1. */
export function scanString(b: Uint8Array, i: number, end: number): number {
  i++;
  while (i < end) {
    const k = STR[b[i]];
    if (k === 0) {
      i++;
      continue;
    }
    if (k === 1) return i + 1;
    if (k === 2) {
      if (i + 1 >= end) break;
      const d = b[i + 1];
      if (ESCAPE[d] === 1) {
        i += 2;
        continue;
      }
      if (d === 0x75 && i + 5 < end && HEX[b[i + 2]] === 1 && HEX[b[i + 3]] === 1 && HEX[b[i + 4]] === 1 && HEX[b[i + 5]] === 1) {
        i += 6;
        continue;
      }
      return fail(i, 'bad escape in a string');
    }
    if (k === 3) return fail(i, 'control character in a string');
    if (k === 5) return fail(i, 'invalid UTF-8');
    i = utf8Sequence(b, i, end);
    if (i < 0) return -1;
  }
  return fail(end, 'unterminated string');
}

/** Index just past the valid number starting at `i`, or -1. */
export function scanNumber(b: Uint8Array, i: number, end: number): number {
  if (b[i] === MINUS) i++;
  if (i >= end) return fail(i, 'bad number');
  let c = b[i];
  if (c === ZERO) i++;
  else if (c > ZERO && c <= NINE) {
    i++;
    while (i < end && (c = b[i]) >= ZERO && c <= NINE) i++;
  } else return fail(i, 'bad number');
  if (i < end && b[i] === DOT) {
    const s = ++i;
    while (i < end && (c = b[i]) >= ZERO && c <= NINE) i++;
    if (i === s) return fail(i, 'bad number');
  }
  if (i < end && (b[i] | 0x20) === 0x65) {
    // e or E
    i++;
    if (i < end && (b[i] === PLUS || b[i] === MINUS)) i++;
    const s = i;
    while (i < end && (c = b[i]) >= ZERO && c <= NINE) i++;
    if (i === s) return fail(i, 'bad number');
  }
  return i;
}

function literal(b: Uint8Array, i: number, end: number, word: readonly number[]): number {
  if (i + word.length > end) return fail(i, 'unexpected token');
  for (let k = 1; k < word.length; k++) if (b[i + k] !== word[k]) return fail(i, 'unexpected token');
  return i + word.length;
}

const TRUE = [...'true'].map((c) => c.charCodeAt(0));
const FALSE = [...'false'].map((c) => c.charCodeAt(0));
const NULL = [...'null'].map((c) => c.charCodeAt(0));

/** Kinds of the scalar values a builder is told about. */
export const Scalar = { String: 0, Number: 1, True: 2, False: 3, Null: 4 } as const;
export type Scalar = (typeof Scalar)[keyof typeof Scalar];

/**
 * Receives the values of a strict scan, in document order (parseJsonExact builds with it). Spans
 * are byte ranges of `b`: a string's span includes its quotes, a key's too.
 */
export interface JsonBuilder {
  scalar(kind: Scalar, start: number, end: number): void;
  /** `array`: true for `[`, false for `{`. */
  open(array: boolean): void;
  key(start: number, end: number): void;
  close(): void;
}

/** Open containers of the running scan: 1 = object, 2 = array (reused, grows for deep input). */
let stack = new Uint8Array(64);

/**
 * Index just past the one valid JSON value that starts at the first non-whitespace byte at or
 * after `i` (trailing whitespace is not consumed), or -1 with `scanError` set. Never reads at or
 * beyond `end`. With `build`, reports every value to it.
 */
export function scanValue(b: Uint8Array, i: number, end: number, build?: JsonBuilder): number {
  let depth = 0;
  for (;;) {
    // A value is expected at i.
    i = skipWs(b, i, end);
    if (i >= end) return fail(i, 'unexpected end of JSON');
    const c = b[i];
    let s = i;
    if (c === QUOTE) {
      i = scanString(b, i, end);
      if (i < 0) return -1;
      build?.scalar(Scalar.String, s, i);
    } else if (c === LBRACE || c === LBRACKET) {
      build?.open(c === LBRACKET);
      i = skipWs(b, i + 1, end);
      if (i < end && b[i] === (c === LBRACE ? RBRACE : RBRACKET)) {
        i++;
        build?.close();
      } else {
        if (depth === stack.length) {
          const bigger = new Uint8Array(depth * 2);
          bigger.set(stack);
          stack = bigger;
        }
        stack[depth++] = c === LBRACE ? 1 : 2;
        if (c === LBRACE) {
          if (i >= end || b[i] !== QUOTE) return fail(i, 'expected a string key');
          s = i;
          i = scanString(b, i, end);
          if (i < 0) return -1;
          build?.key(s, i);
          i = skipWs(b, i, end);
          if (i >= end || b[i] !== COLON) return fail(i, "expected ':' after a key");
          i++;
        }
        continue;
      }
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      i = scanNumber(b, i, end);
      if (i < 0) return -1;
      build?.scalar(Scalar.Number, s, i);
    } else if (c === 0x74) {
      i = literal(b, i, end, TRUE);
      if (i < 0) return -1;
      build?.scalar(Scalar.True, s, i);
    } else if (c === 0x66) {
      i = literal(b, i, end, FALSE);
      if (i < 0) return -1;
      build?.scalar(Scalar.False, s, i);
    } else if (c === 0x6e) {
      i = literal(b, i, end, NULL);
      if (i < 0) return -1;
      build?.scalar(Scalar.Null, s, i);
    } else return fail(i, 'unexpected token');
    // A value ended at i: close containers, or move to the next member or element.
    for (;;) {
      if (depth === 0) return i;
      i = skipWs(b, i, end);
      if (i >= end) return fail(i, 'unexpected end of JSON');
      const d = b[i];
      const inObject = stack[depth - 1] === 1;
      if (d === COMMA) {
        i++;
        if (inObject) {
          i = skipWs(b, i, end);
          if (i >= end || b[i] !== QUOTE) return fail(i, 'expected a string key');
          s = i;
          i = scanString(b, i, end);
          if (i < 0) return -1;
          build?.key(s, i);
          i = skipWs(b, i, end);
          if (i >= end || b[i] !== COLON) return fail(i, "expected ':' after a key");
          i++;
        }
        break;
      }
      if (d !== (inObject ? RBRACE : RBRACKET)) return fail(i, inObject ? "expected ',' or '}'" : "expected ',' or ']'");
      i++;
      depth--;
      build?.close();
    }
  }
}

/** Whether b[start..end) is exactly one valid JSON value (whitespace around it allowed). */
export function isJson(b: Uint8Array, start = 0, end = b.length): boolean {
  const i = scanValue(b, start, end);
  if (i < 0) return false;
  if (skipWs(b, i, end) === end) return true;
  fail(i, 'unexpected content after the value');
  return false;
}

/**
 * The message for invalid JSON in b[start..end): JSON.parse's own wording where it refuses the
 * text too (the message clients have always seen), else the scanner's (invalid UTF-8).
 */
export function invalidJsonMessage(b: Buffer, start = 0, end = b.length): string {
  try {
    JSON.parse(b.toString('utf8', start, end));
  } catch (err) {
    return `invalid JSON: ${(err as Error).message}`;
  }
  if (!isJson(b, start, end)) return `invalid JSON: ${scanError.what} at position ${scanError.at - start}`;
  return 'invalid JSON';
}

// ---- trusting walks (bytes known to be valid JSON) ----

/** Index just past the string starting at `i` (b[i] is the opening quote). */
function endOfString(b: Uint8Array, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = b[i];
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return end;
}

/**
 * Index just past the value starting at `i` in bytes known to be valid JSON: only strings and
 * nesting are tracked.
 */
export function endOfValue(b: Uint8Array, i: number, end = b.length): number {
  const c = b[i];
  if (c === QUOTE) return endOfString(b, i, end);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    while (i < end) {
      const d = b[i];
      if (d === QUOTE) {
        i = endOfString(b, i, end);
        continue;
      }
      if (d === LBRACE || d === LBRACKET) depth++;
      else if (d === RBRACE || d === RBRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  while (i < end) {
    const d = b[i];
    if (d === COMMA || d === RBRACE || d === RBRACKET || isWs(d)) return i;
    i++;
  }
  return i;
}

/**
 * End of the element of a JSON array that starts at `i`, for bytes that may be malformed: the
 * first `,` or `]` outside strings and nested brackets, or `end` when there is none. Lets one bad
 * element of a batch be that element's error only.
 */
export function endOfElement(b: Uint8Array, i: number, end: number): number {
  let depth = 0;
  for (; i < end; i++) {
    const c = b[i];
    if (c === QUOTE) {
      for (i++; i < end && b[i] !== QUOTE; i++) if (b[i] === BACKSLASH) i++;
    } else if (c === LBRACE || c === LBRACKET) depth++;
    else if ((c === RBRACE || c === RBRACKET) && depth > 0) depth--;
    else if (depth === 0 && (c === COMMA || c === RBRACKET)) return i;
  }
  return end;
}

/** Raw spans of one object member: the key's text between its quotes (still escaped), the value. */
export interface MemberSpan {
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
}

/**
 * Cursor over the top-level members of the JSON object in `b` (known to be valid JSON): start at
 * `objectStart(b)`; each `nextMember` fills `m` with the next member and returns where to
 * continue, or -1 after the last one. Members come in source order, duplicates included.
 */
export function objectStart(b: Uint8Array): number {
  return skipWs(b, 0) + 1;
}

export function nextMember(b: Uint8Array, i: number, m: MemberSpan): number {
  const end = b.length;
  i = skipWs(b, i, end);
  if (i >= end || b[i] === RBRACE) return -1;
  const keyEnd = endOfString(b, i, end);
  m.keyStart = i + 1;
  m.keyEnd = keyEnd - 1;
  i = skipWs(b, skipWs(b, keyEnd, end) + 1, end); // past ':'
  m.valueStart = i;
  m.valueEnd = endOfValue(b, i, end);
  i = skipWs(b, m.valueEnd, end);
  return b[i] === COMMA ? i + 1 : i;
}

/** Calls `visit` with the spans of each top-level member of the JSON object in `b`. */
export function scanMembers(b: Uint8Array, visit: (keyStart: number, keyEnd: number, valueStart: number, valueEnd: number) => void): void {
  const m: MemberSpan = { keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0 };
  for (let i = nextMember(b, objectStart(b), m); i !== -1; i = nextMember(b, i, m)) visit(m.keyStart, m.keyEnd, m.valueStart, m.valueEnd);
}

/** The decoded text of a key span (between the quotes, as `MemberSpan` gives it). */
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

/** Whether b[s..e) holds `byte` (a bounded search: Buffer.indexOf would scan to the body's end). */
export function hasByte(b: Buffer, byte: number, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (b[i] === byte) return true;
  return false;
}
