/** Durations like `30s 15m 2h 7d 1w` (the `since` parameter of docs/protocol.md), as nanoseconds. */
const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};

/** Parses a duration; returns undefined when the text is not one. */
export function parseDurationNs(text: string): bigint | undefined {
  const m = /^(\d{1,12})(ns|us|ms|s|m|h|d|w)$/.exec(text.trim());
  if (!m) return undefined;
  return BigInt(m[1]) * UNIT_NS[m[2]];
}
