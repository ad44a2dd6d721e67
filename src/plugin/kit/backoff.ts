/**
 * Reconnect delay for the n-th failed attempt in a row (0-based): `min * 2^n` capped at `max`,
 * with ±20 % jitter so many connections to one remote do not redial in lockstep, kept within
 * [min, max].
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 32));
  return Math.round(Math.min(maxMs, Math.max(minMs, base * (0.8 + 0.4 * random()))));
}
