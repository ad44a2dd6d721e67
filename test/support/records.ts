/** Canonical NDJSON records for import/export tests. */
export const BASE = 1704067200000000000n;
export const COUNT = 100_000;

/** Canonical NDJSON (what export writes): varied data, escapes, non-ASCII, integers above 2^64. */
export function canonicalLines(count: number, base = BASE): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const ts = base + BigInt(i) * 1_000_003n + 1n;
    let data: string;
    switch (i % 5) {
      case 0:
        data = `{"i":${i},"temp":${(i * 0.37).toFixed(2)},"room":"living-${i % 17}"}`;
        break;
      case 1:
        data = `{"i": ${i}, "note": "caf\u00e9 \\"quoted\\" \\u00e9", "big": 18446744073709551615}`;
        break;
      case 2:
        data = `[${i},true,null,-1.5e-7]`;
        break;
      case 3:
        data = `"line ${i}, with a comma"`;
        break;
      default:
        data = String(i);
    }
    lines.push(`{"timestamp":${ts},"data":${data}}\n`);
  }
  return lines;
}
