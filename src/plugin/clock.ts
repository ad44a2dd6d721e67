/**
 * Nanosecond wall clock and the server-timestamp rule every sink applies.
 * `process.hrtime.bigint()` is monotonic; anchoring it once to `Date.now()` gives a wall clock with
 * sub-millisecond resolution that never steps backwards while the process runs.
 */
const anchorWall = BigInt(Date.now()) * 1_000_000n;
const anchorMono = process.hrtime.bigint();

/** Current time in nanoseconds since the Unix epoch. */
export function nowNs(): bigint {
  return anchorWall + (process.hrtime.bigint() - anchorMono);
}

/** The timestamp to assign to a record without one: max(now, newest + 1). */
export function nextTimestamp(newest: bigint | undefined): bigint {
  const now = nowNs();
  return newest === undefined || now > newest ? now : newest + 1n;
}
