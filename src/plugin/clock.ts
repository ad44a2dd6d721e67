/**
 * Nanosecond wall clock and the timestamp rule every sink applies.
 * `process.hrtime.bigint()` is monotonic; anchoring it once to `Date.now()` gives a wall clock with
 * sub-millisecond resolution that never steps backwards while the process runs.
 */
import { reject, type Rejection } from './errors.js';

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

/** The largest timestamp a record may carry: the signed 64-bit maximum of nanoseconds (year 2262). */
export const MAX_TIMESTAMP = (1n << 63n) - 1n;

/**
 * The timestamp rule every sink applies to one record, given the store's newest timestamp:
 * none given → max(now, newest + 1), or TSS_ERR_TIMESTAMP_ORDER when the newest is already
 * MAX_TIMESTAMP (no timestamp left to assign); a given one must be within 0..MAX_TIMESTAMP
 * (TSS_ERR_TIMESTAMP_INVALID) and greater than the newest (TSS_ERR_TIMESTAMP_ORDER).
 */
export function assignTimestamp(given: bigint | undefined, newest: bigint | undefined): bigint | Rejection {
  if (given === undefined) {
    const next = nextTimestamp(newest);
    if (next > MAX_TIMESTAMP)
      return reject('TSS_ERR_TIMESTAMP_ORDER', `timestamp must be greater than newest entry: the newest is ${MAX_TIMESTAMP}, no timestamp left to assign`);
    return next;
  }
  if (given < 0n || given > MAX_TIMESTAMP) return reject('TSS_ERR_TIMESTAMP_INVALID', `invalid timestamp: ${given} is outside 0..${MAX_TIMESTAMP} nanoseconds`);
  if (newest !== undefined && given <= newest) return reject('TSS_ERR_TIMESTAMP_ORDER');
  return given;
}
