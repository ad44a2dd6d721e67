/**
 * The record timestamp carried in a JSON payload field (`timestamp_field`), converted to
 * nanoseconds exactly: integers are read as bigint (no rounding above 2^53), decimals (e.g.
 * seconds with a fraction) are converted digit by digit.
 */
import { MAX_TIMESTAMP, parseJsonExact } from 'tsstore/plugin';

export type TimestampUnit = 'ns' | 'us' | 'ms' | 's';

const DIGITS: Record<TimestampUnit, number> = { ns: 0, us: 3, ms: 6, s: 9 };

export type TimestampResult = { ok: true; timestamp: bigint | undefined } | { ok: false; message: string };

function decimalToNs(text: string, unit: TimestampUnit): bigint | undefined {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const digits = DIGITS[unit];
  const frac = (m[2] ?? '').padEnd(digits, '0');
  // Digits below a nanosecond are dropped (truncation), never rounded up past the next record.
  return BigInt(m[1] + frac.slice(0, digits));
}

/** Reads `field` from a JSON object payload. A missing field or 0 means "now" (undefined). */
export function timestampFromPayload(payload: Buffer, field: string, unit: TimestampUnit): TimestampResult {
  let value: unknown;
  try {
    value = parseJsonExact(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, message: `invalid JSON: ${(err as Error).message}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, message: `invalid timestamp: the payload must be a JSON object to carry "${field}"` };
  }
  const raw = (value as Record<string, unknown>)[field];
  if (raw === undefined || raw === null) return { ok: true, timestamp: undefined };
  let ns: bigint | undefined;
  if (typeof raw === 'bigint') ns = raw < 0n ? undefined : raw * 10n ** BigInt(DIGITS[unit]);
  else if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) ns = decimalToNs(Number.isInteger(raw) ? BigInt(raw).toString() : String(raw), unit);
  if (ns === undefined) return { ok: false, message: `invalid timestamp: "${field}" must be a non-negative number of ${unit}` };
  if (ns > MAX_TIMESTAMP) return { ok: false, message: `invalid timestamp: "${field}" exceeds the signed 64-bit range of nanoseconds` };
  return { ok: true, timestamp: ns === 0n ? undefined : ns };
}
