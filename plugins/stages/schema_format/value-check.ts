/**
 * Does one JSON value token fit a field type? Works on the token's bytes as the client sent them
 * (the payload is known-valid JSON): integers are compared exactly, never through a rounded JS
 * number, and the common cases allocate nothing (BigInt only for 19- and 20-digit integers,
 * Number parsing only for floats written with an exponent).
 * Returns undefined when it fits, else the problem in words (without the field label).
 */
import type { FieldType } from 'tsstore/plugin';

const FLOAT32_MAX = 3.4028234663852886e38;
const FLOAT64_MAX = Number.MAX_VALUE;

interface IntRange {
  readonly min: bigint;
  readonly max: bigint;
  readonly minN: number;
  readonly maxN: number;
  /** Integers of at most this many digits always fit (no exact comparison needed). */
  readonly safeDigits: number;
}

function range(min: bigint, max: bigint): IntRange {
  return { min, max, minN: Number(min), maxN: Number(max), safeDigits: String(max).length - 1 };
}

const INT_RANGES: Partial<Record<FieldType, IntRange>> = {
  int8: range(-128n, 127n),
  int16: range(-32768n, 32767n),
  int32: range(-2147483648n, 2147483647n),
  int64: range(-9223372036854775808n, 9223372036854775807n),
  uint8: range(0n, 255n),
  uint16: range(0n, 65535n),
  uint32: range(0n, 4294967295n),
  uint64: range(0n, 18446744073709551615n),
};

const QUOTE = 0x22,
  LBRACE = 0x7b,
  LBRACKET = 0x5b,
  T = 0x74,
  F = 0x66,
  N = 0x6e,
  MINUS = 0x2d;
const DOT = 0x2e,
  E_LOWER = 0x65,
  E_UPPER = 0x45,
  ZERO = 0x30,
  NINE = 0x39;

/** A token as an error message shows it: cut short so a huge value cannot flood the reply. */
export function shown(token: string): string {
  return token.length > 48 ? `${token.slice(0, 45)}...` : token;
}

function describe(b: Buffer, s: number, e: number): string {
  const c = b[s];
  if (c === QUOTE) return `the string ${shown(b.toString('utf8', s, e))}`;
  if (c === T || c === F) return `the boolean ${b.toString('latin1', s, e)}`;
  return `the number ${shown(b.toString('latin1', s, e))}`;
}

function checkInt(r: IntRange, b: Buffer, s: number, e: number): string | undefined {
  const neg = b[s] === MINUS;
  let value = 0;
  for (let i = neg ? s + 1 : s; i < e; i++) {
    const c = b[i];
    if (c < ZERO || c > NINE) {
      return `${shown(b.toString('latin1', s, e))} is not an integer (write integers in plain digits, without a fraction or exponent)`;
    }
    value = value * 10 + (c - ZERO);
  }
  const digits = e - s - (neg ? 1 : 0);
  let fits: boolean;
  if (digits <= 15) {
    const v = neg ? -value : value;
    fits = v >= r.minN && v <= r.maxN;
  } else if (digits <= r.safeDigits) {
    fits = !neg || r.min < 0n;
  } else {
    const v = BigInt(b.toString('latin1', s, e));
    fits = v >= r.min && v <= r.max;
  }
  return fits ? undefined : `${shown(b.toString('latin1', s, e))} is out of range ${r.min}..${r.max}`;
}

function checkFloat(type: 'float32' | 'float64', b: Buffer, s: number, e: number): string | undefined {
  // Without an exponent, the integer part's length bounds the magnitude.
  let intDigits = 0;
  let inInteger = true;
  let exponent = false;
  for (let i = b[s] === MINUS ? s + 1 : s; i < e; i++) {
    const c = b[i];
    if (c === E_LOWER || c === E_UPPER) {
      exponent = true;
      break;
    }
    if (c === DOT) inInteger = false;
    else if (inInteger) intDigits++;
  }
  const max = type === 'float32' ? FLOAT32_MAX : FLOAT64_MAX;
  if (!exponent && intDigits <= (type === 'float32' ? 38 : 308)) return undefined;
  const token = b.toString('latin1', s, e);
  return Math.abs(Number(token)) > max ? `${shown(token)} is out of range for ${type} (largest magnitude ${max})` : undefined;
}

/** A field type resolved once per schema, so the per-value check does no lookups by name. */
export interface FieldCheck {
  readonly type: FieldType;
  /** 0 integer, 1 float32, 2 float64, 3 bool, 4 string. */
  readonly kind: number;
  readonly range?: IntRange;
}

export function fieldCheck(type: FieldType): FieldCheck {
  const range = INT_RANGES[type];
  if (range) return { type, kind: 0, range };
  return { type, kind: type === 'float32' ? 1 : type === 'float64' ? 2 : type === 'bool' ? 3 : 4 };
}

export function checkValue(check: FieldCheck, b: Buffer, s: number, e: number): string | undefined {
  const c = b[s];
  if (c === LBRACE || c === LBRACKET) return `nested ${c === LBRACE ? 'objects' : 'arrays'} are not allowed (data is a flat object of scalar values)`;
  if (c === N) return 'null is not allowed (leave the field out instead)';
  const isNumber = c !== QUOTE && c !== T && c !== F;
  switch (check.kind) {
    case 0:
      return isNumber ? checkInt(check.range!, b, s, e) : `expected an integer, got ${describe(b, s, e)}`;
    case 1:
    case 2:
      return isNumber ? checkFloat(check.kind === 1 ? 'float32' : 'float64', b, s, e) : `expected a number, got ${describe(b, s, e)}`;
    case 3:
      return c === T || c === F ? undefined : `expected true or false, got ${describe(b, s, e)}`;
    default:
      return c === QUOTE ? undefined : `expected a string, got ${describe(b, s, e)}`;
  }
}
