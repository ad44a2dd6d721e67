/**
 * Exact handling of JSON number tokens for aggregation: integers keep every digit (a JS number
 * while it is a safe integer, a bigint beyond), other numbers are doubles; two tokens that round
 * to the same double are still ordered exactly by their decimal text.
 */

const MINUS = 0x2d,
  ZERO = 0x30,
  NINE = 0x39,
  DOT = 0x2e;

/** A parsed number token. `big` is set for integers a double cannot hold exactly. */
export interface NumberValue {
  /** The value as a double (rounded for `big` integers and long decimals). */
  num: number;
  big: bigint | undefined;
  /** The token is an integer (`-?[0-9]+`: no fraction, no exponent). */
  isInt: boolean;
}

/** Whether b[s] starts a JSON number. */
export function isNumberStart(c: number): boolean {
  return c === MINUS || (c >= ZERO && c <= NINE);
}

/** Parses the number token b[s..e) (known to be a valid JSON number) into `out`. */
export function parseNumberToken(b: Uint8Array, s: number, e: number, out: NumberValue): void {
  let i = s;
  const neg = b[i] === MINUS;
  if (neg) i++;
  let n = 0;
  for (; i < e; i++) {
    const c = b[i];
    if (c < ZERO || c > NINE) break;
    n = n * 10 + (c - ZERO);
  }
  if (i === e) {
    out.isInt = true;
    const digits = e - s - (neg ? 1 : 0);
    if (digits <= 15) {
      out.num = neg ? -n : n;
      out.big = undefined;
      return;
    }
    const big = BigInt(Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1'));
    if (big >= -9007199254740991n && big <= 9007199254740991n) {
      out.num = Number(big);
      out.big = undefined;
      return;
    }
    out.num = Number(big);
    out.big = big;
    return;
  }
  out.isInt = false;
  out.big = undefined;
  out.num = Number(Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1'));
}

/** Sign, significant digits (no leading or trailing zeros) and the decimal point's place: value = 0.digits × 10^point. */
function decimalParts(t: string): { neg: boolean; digits: string; point: number } {
  let i = 0;
  const neg = t[0] === '-';
  if (neg) i++;
  const eAt = t.search(/[eE]/);
  const mant = t.slice(i, eAt < 0 ? t.length : eAt);
  const exp = eAt < 0 ? 0 : Number(t.slice(eAt + 1));
  const dot = mant.indexOf('.');
  const intPart = dot < 0 ? mant : mant.slice(0, dot);
  const frac = dot < 0 ? '' : mant.slice(dot + 1);
  let digits = intPart + frac;
  let point = intPart.length + exp;
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === ZERO) lead++;
  digits = digits.slice(lead);
  point -= lead;
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === ZERO) end--;
  digits = digits.slice(0, end);
  return { neg, digits, point };
}

/** Exact order of two JSON number texts: negative, 0 or positive like a - b. */
export function compareDecimalText(a: string, b: string): number {
  const x = decimalParts(a),
    y = decimalParts(b);
  const sx = x.digits.length === 0 ? 0 : x.neg ? -1 : 1;
  const sy = y.digits.length === 0 ? 0 : y.neg ? -1 : 1;
  if (sx !== sy) return sx - sy;
  if (sx === 0) return 0;
  let mag: number;
  if (x.point !== y.point) mag = x.point > y.point ? 1 : -1;
  else mag = x.digits === y.digits ? 0 : x.digits > y.digits ? 1 : -1; // no trailing zeros: plain string order is numeric order
  return sx > 0 ? mag : -mag;
}

/**
 * Order of two parsed tokens (negative, 0 or positive like a - b): integers exactly (bigint where
 * needed), other numbers as doubles, and when those are equal, exactly by their text.
 */
export function compareNumbers(a: NumberValue, aText: () => string, b: NumberValue, bText: () => string): number {
  if (a.isInt && b.isInt) {
    if (a.big === undefined && b.big === undefined) return a.num - b.num;
    const x = a.big ?? BigInt(a.num),
      y = b.big ?? BigInt(b.num);
    return x === y ? 0 : x > y ? 1 : -1;
  }
  if (a.num !== b.num) {
    if (Number.isNaN(a.num - b.num)) return 0;
    return a.num > b.num ? 1 : -1;
  }
  return compareDecimalText(aText(), bText());
}

/** Whether the token b[s..e) has a fraction or exponent (for tests and callers without a parsed value). */
export function isIntegerToken(b: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (b[i] === DOT || (b[i] | 0x20) === 0x65) return false;
  return true;
}

/**
 * An exact integer sum: a JS number while every partial sum is a safe integer, a bigint from the
 * first one that is not.
 */
export class IntegerSum {
  private small = 0;
  private big: bigint | undefined;

  add(v: NumberValue): void {
    if (this.big !== undefined) {
      this.big += v.big ?? BigInt(v.num);
      return;
    }
    if (v.big === undefined) {
      const t = this.small + v.num;
      // Both addends are safe integers, so an in-range result is exact; out of range, redo it exactly.
      if (t <= Number.MAX_SAFE_INTEGER && t >= -Number.MAX_SAFE_INTEGER) {
        this.small = t;
        return;
      }
      this.big = BigInt(this.small) + BigInt(v.num);
      return;
    }
    this.big = BigInt(this.small) + v.big;
  }

  reset(): void {
    this.small = 0;
    this.big = undefined;
  }

  /** Every digit. */
  text(): string {
    return this.big === undefined ? String(this.small) : this.big.toString();
  }

  toNumber(): number {
    return this.big === undefined ? this.small : Number(this.big);
  }
}

/** A double sum with Neumaier compensation: the rounding error of each step is carried, not lost. */
export class FloatSum {
  private sum = 0;
  private comp = 0;

  add(x: number): void {
    const t = this.sum + x;
    if (Math.abs(this.sum) >= Math.abs(x)) this.comp += this.sum - t + x;
    else this.comp += x - t + this.sum;
    this.sum = t;
  }

  reset(): void {
    this.sum = 0;
    this.comp = 0;
  }

  value(): number {
    // An infinite term makes comp NaN: the sum itself (±Infinity) is the answer then.
    return Number.isFinite(this.sum) ? this.sum + this.comp : this.sum;
  }
}

/** A double as JSON: `null` when it is not finite. */
export function doubleJson(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}
