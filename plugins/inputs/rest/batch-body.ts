/**
 * Splitting a batch body into envelopes without letting one bad record spoil the rest.
 *
 * NDJSON: one envelope per line (blank lines skipped). JSON array: the top-level elements are cut
 * out by a byte scanner that only tracks strings and nesting, so a malformed element is that
 * element's error; only a body that is not an array at all fails the whole request.
 */
import { decodeEnvelope, type Envelope, reject, type Rejection, TssError } from 'tsstore/plugin';

const NL = 0x0a, CR = 0x0d, QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c;
const LBRACKET = 0x5b, RBRACKET = 0x5d, LBRACE = 0x7b, RBRACE = 0x7d;

function isWs(c: number): boolean {
  return c === 0x20 || c === NL || c === CR || c === 0x09;
}

function trim(b: Buffer, s: number, e: number): Buffer {
  while (s < e && isWs(b[s])) s++;
  while (e > s && isWs(b[e - 1])) e--;
  return b.subarray(s, e);
}

export function splitNdjson(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < body.length) {
    let nl = body.indexOf(NL, start);
    if (nl < 0) nl = body.length;
    const line = trim(body, start, nl);
    if (line.length > 0) out.push(line);
    start = nl + 1;
  }
  return out;
}

export function splitJsonArray(body: Buffer): Buffer[] {
  let i = 0;
  while (i < body.length && isWs(body[i])) i++;
  if (body[i] !== LBRACKET) throw new TssError('TSS_ERR_INVALID_JSON', 'invalid JSON: a batch body must be a JSON array of envelopes or NDJSON (Content-Type: application/x-ndjson)');
  const out: Buffer[] = [];
  let depth = 0;
  let start = i + 1;
  for (i = i + 1; i < body.length; i++) {
    const c = body[i];
    if (c === QUOTE) {
      for (i++; i < body.length && body[i] !== QUOTE; i++) if (body[i] === BACKSLASH) i++;
    } else if (c === LBRACE || c === LBRACKET) depth++;
    else if ((c === RBRACE || c === RBRACKET) && depth > 0) depth--;
    else if (depth === 0 && (c === COMMA || c === RBRACKET)) {
      const el = trim(body, start, i);
      if (c === COMMA || el.length > 0 || out.length > 0) out.push(el);
      start = i + 1;
      if (c === RBRACKET) {
        if (trim(body, start, body.length).length > 0) throw new TssError('TSS_ERR_INVALID_JSON', 'invalid JSON: unexpected content after the closing ] of the batch array');
        return out;
      }
    }
  }
  throw new TssError('TSS_ERR_INVALID_JSON', 'invalid JSON: the batch array is not closed (missing ])');
}

export function decodeElement(el: Buffer): Envelope | Rejection {
  return el.length === 0 ? reject('TSS_ERR_INVALID_JSON', 'invalid JSON: empty array element') : decodeEnvelope(el);
}
