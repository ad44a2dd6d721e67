/**
 * Batch bodies: many envelopes in one body, decoded in one pass without letting one bad record
 * spoil the rest.
 *
 * NDJSON: one envelope per line (blank lines skipped, a trailing CR ignored). JSON array: each
 * element is decoded where it stands; only when an element is malformed are strings and nesting
 * tracked to find where it ends, so that element is the only error. Only a body that is not an
 * array at all fails as a whole (thrown).
 */
import { TssError, reject, type Rejection } from '../../plugin/errors.js';
import { decodeEnvelopeAt, type Envelope } from './envelope.js';
import { COMMA, LBRACKET, RBRACKET, endOfElement, isWs, scanValue, skipWs } from './scan.js';

const NL = 0x0a;

/** End of b[start..end) without trailing whitespace. */
function trimEnd(b: Buffer, start: number, end: number): number {
  while (end > start && isWs(b[end - 1])) end--;
  return end;
}

/** One entry per non-blank line, in order. */
export function decodeNdjson(body: Buffer): (Envelope | Rejection)[] {
  const out: (Envelope | Rejection)[] = [];
  const n = body.length;
  let start = 0;
  while (start < n) {
    let nl = body.indexOf(NL, start);
    if (nl < 0) nl = n;
    const s = skipWs(body, start, nl);
    if (s < nl) out.push(decodeEnvelopeAt(body, s, trimEnd(body, s, nl)));
    start = nl + 1;
  }
  return out;
}

const EMPTY_ELEMENT = reject('TSS_ERR_INVALID_JSON', 'invalid JSON: empty array element');

/** One entry per element of the JSON array `body`, in order; throws when `body` is no array. */
export function decodeJsonArray(body: Buffer): (Envelope | Rejection)[] {
  const n = body.length;
  let i = skipWs(body, 0, n);
  if (body[i] !== LBRACKET)
    throw new TssError('TSS_ERR_INVALID_JSON', 'invalid JSON: a batch body must be a JSON array of envelopes or NDJSON (Content-Type: application/x-ndjson)');
  const out: (Envelope | Rejection)[] = [];
  i = skipWs(body, i + 1, n);
  if (i < n && body[i] === RBRACKET) return closed(body, i, out);
  for (;;) {
    const s = i;
    // Where a valid value stands, it ends the element exactly where the lenient walk would.
    let e = scanValue(body, s, n);
    if (e >= 0) e = skipWs(body, e, n);
    if (e < 0 || e >= n || (body[e] !== COMMA && body[e] !== RBRACKET)) e = endOfElement(body, s, n);
    if (e >= n) throw new TssError('TSS_ERR_INVALID_JSON', 'invalid JSON: the batch array is not closed (missing ])');
    const last = body[e] === RBRACKET;
    const te = trimEnd(body, s, e);
    // `[1,]` and `[,]` end with an empty element (`[]` has none: handled above).
    out.push(te > s ? decodeEnvelopeAt(body, s, te) : EMPTY_ELEMENT);
    if (last) return closed(body, e, out);
    i = skipWs(body, e + 1, n);
  }
}

function closed(body: Buffer, at: number, out: (Envelope | Rejection)[]): (Envelope | Rejection)[] {
  if (skipWs(body, at + 1, body.length) !== body.length)
    throw new TssError('TSS_ERR_INVALID_JSON', 'invalid JSON: unexpected content after the closing ] of the batch array');
  return out;
}
