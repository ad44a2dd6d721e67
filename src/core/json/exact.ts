/**
 * JSON with exact integers for management paths (the CLI, stats and status bodies, the pull
 * input's connection file, tests): integers beyond 2^53 become `bigint` on the way in and are
 * written with every digit on the way out. The hot ingest paths never build values: they use the
 * spans of envelope.ts.
 *
 * No sentinels: parsing builds the values from the byte scanner, which tells a string from a
 * number by its quote, and writing renders each value itself, so no user string can ever be taken
 * for a number (or the other way round).
 */
import { BACKSLASH, Scalar, hasByte, isJson, scanError, scanValue, skipWs, type JsonBuilder } from './scan.js';

type Container = unknown[] | Record<string, unknown>;

/** A plain data property, even for the key "__proto__" (as JSON.parse creates it). */
function setMember(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

class ValueBuilder implements JsonBuilder {
  private readonly containers: Container[] = [];
  private readonly keys: (string | undefined)[] = [];
  private pendingKey: string | undefined;
  result: unknown;

  constructor(private readonly b: Buffer) {}

  private string(s: number, e: number): string {
    return hasByte(this.b, BACKSLASH, s, e) ? (JSON.parse(this.b.toString('utf8', s, e)) as string) : this.b.toString('utf8', s + 1, e - 1);
  }

  private add(value: unknown): void {
    const n = this.containers.length;
    if (n === 0) {
      this.result = value;
      return;
    }
    const parent = this.containers[n - 1];
    if (Array.isArray(parent)) parent.push(value);
    else setMember(parent, this.pendingKey as string, value);
  }

  scalar(kind: Scalar, s: number, e: number): void {
    switch (kind) {
      case Scalar.String:
        this.add(this.string(s, e));
        break;
      case Scalar.Number:
        this.add(exactNumber(this.b.toString('latin1', s, e)));
        break;
      case Scalar.True:
        this.add(true);
        break;
      case Scalar.False:
        this.add(false);
        break;
      case Scalar.Null:
        this.add(null);
        break;
    }
  }

  open(array: boolean): void {
    this.containers.push(array ? [] : {});
    this.keys.push(this.pendingKey);
  }

  key(s: number, e: number): void {
    this.pendingKey = this.string(s, e);
  }

  close(): void {
    const done = this.containers.pop();
    this.pendingKey = this.keys.pop();
    this.add(done);
  }
}

/** A number token as a number, or as a bigint when it is an integer a double cannot hold exactly. */
function exactNumber(token: string): number | bigint {
  const n = Number(token);
  if (Number.isSafeInteger(n) || !/^-?[0-9]+$/.test(token)) return n;
  return BigInt(token);
}

/**
 * JSON.parse that keeps integers beyond 2^53 exact: they come back as `bigint` (safe integers,
 * fractions and exponents stay numbers). Throws a SyntaxError (JSON.parse's own, where it refuses
 * the text too) on invalid JSON, invalid UTF-8 in bytes included.
 */
export function parseJsonExact(text: string | Uint8Array): unknown {
  const b = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  const builder = new ValueBuilder(b);
  const end = scanValue(b, 0, b.length, builder);
  if (end >= 0 && skipWs(b, end) === b.length) return builder.result;
  JSON.parse(typeof text === 'string' ? text : b.toString('utf8')); // throws with the usual message
  isJson(b);
  throw new SyntaxError(`${scanError.what} in JSON at position ${scanError.at}`);
}

/**
 * JSON.stringify that writes bigints as full-digit integers, for small management bodies (stats,
 * status, connection files); hot paths build their strings directly. Same output as
 * JSON.stringify otherwise (toJSON, skipped undefined members, `space` indentation); throws a
 * TypeError for a circular structure or a top-level value JSON cannot represent.
 */
export function stringifyExact(value: unknown, space?: number): string {
  const indent = ' '.repeat(Math.max(0, Math.min(10, Math.floor(space ?? 0))));
  const out = render(value, '', indent, '', []);
  if (out === undefined) throw new TypeError('stringifyExact: the value has no JSON form');
  return out;
}

/** The JSON of `value` (undefined where JSON.stringify would skip it). */
function render(value: unknown, key: string, indent: string, at: string, ancestors: object[]): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: (key: string) => unknown }).toJSON(key);
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean || value instanceof BigInt) value = value.valueOf();
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (ancestors.includes(obj)) throw new TypeError('Converting circular structure to JSON');
  ancestors.push(obj);
  const inner = at + indent;
  const open = indent ? `\n${inner}` : '';
  const sep = indent ? `,\n${inner}` : ',';
  const close = indent ? `\n${at}` : '';
  let text: string;
  if (Array.isArray(obj)) {
    const parts = new Array<string>(obj.length);
    for (let i = 0; i < obj.length; i++) parts[i] = render(obj[i], String(i), indent, inner, ancestors) ?? 'null';
    text = parts.length === 0 ? '[]' : `[${open}${parts.join(sep)}${close}]`;
  } else {
    const parts: string[] = [];
    for (const k of Object.keys(obj)) {
      const v = render((obj as Record<string, unknown>)[k], k, indent, inner, ancestors);
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${indent ? ' ' : ''}${v}`);
    }
    text = parts.length === 0 ? '{}' : `{${open}${parts.join(sep)}${close}}`;
  }
  ancestors.pop();
  return text;
}
