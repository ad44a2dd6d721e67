/**
 * JSON.parse that keeps integers beyond 2^53 exact: they come back as `bigint` (safe integers stay
 * numbers). For clients of our own API (the CLI, tests, the pull input's status files); the hot
 * ingest path uses the span scanner in envelope.ts instead.
 */
const MARK = '\u{e000}bigint:';

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export function parseJsonExact(text: string): unknown {
  let out = '';
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // skip strings
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) { i++; break; } else i++;
      }
      continue;
    }
    if (c === 0x2d || isDigit(c)) {
      const start = i;
      i++;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      const intEnd = i;
      while (i < n && /[0-9.eE+-]/.test(text[i])) i++;
      if (i === intEnd && intEnd - start >= 16 && !Number.isSafeInteger(Number(text.slice(start, intEnd)))) {
        out += text.slice(last, start) + `"${MARK}${text.slice(start, intEnd)}"`;
        last = intEnd;
      }
      continue;
    }
    i++;
  }
  const marked = last === 0 ? text : out + text.slice(last);
  return JSON.parse(marked, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(MARK) ? BigInt(v.slice(MARK.length)) : v));
}
