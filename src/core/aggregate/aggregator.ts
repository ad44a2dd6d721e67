/**
 * Time-windowed aggregation over stored record bytes, one record at a time (docs/protocol.md,
 * "Aggregation"). Feed records in timestamp order (ascending, or descending for newest-first
 * reads); each record that starts a new window hands back the window it closed. Memory is one
 * window's state: at most MAX_AGG_FIELDS fields, each a few numbers and spans into the record
 * buffers that hold its first, last, min and max values. No record is kept.
 *
 * Values are read from the stored bytes with the byte scanner, never through JSON.parse: first,
 * last, min and max are the stored value text verbatim, integer sums keep every digit.
 */
import { endOfValue, memberKey, skipWs, COMMA, LBRACE, QUOTE, RBRACE } from '../json/index.js';
import { layoutOf } from '../schema-layout.js';
import type { StoreView } from '../../plugin/stage.js';
import { compareNumbers, doubleJson, FloatSum, IntegerSum, isNumberStart, parseNumberToken, type NumberValue } from './numbers.js';
import { isNumericFieldType, NUMERIC_FUNCTIONS, type AggFunction, type AggregationSpec } from './spec.js';

/** Distinct field paths one aggregation tracks; values of further fields are counted as omitted. */
export const MAX_AGG_FIELDS = 1000;
/** Nested objects deeper than this are one value (first/last/count), not walked. */
export const MAX_AGG_DEPTH = 32;

/** One closed window. */
export interface AggWindow {
  /** Window start (a multiple of the window length), nanoseconds. */
  readonly start: bigint;
  /** Records in the window. */
  readonly records: number;
  /** `{"temperature_avg":…,…}`, or undefined when the aggregator reads no data. */
  readonly dataJson?: string;
  /** Values of fields beyond MAX_AGG_FIELDS that were left out of this window. */
  readonly omittedValues: number;
}

/** `{"timestamp":start,"records":n,"data":{…}}` (plus `"omitted_values"` when fields were left out). */
export function aggWindowJson(w: AggWindow): string {
  let s = `{"timestamp":${w.start},"records":${w.records}`;
  if (w.omittedValues > 0) s += `,"omitted_values":${w.omittedValues}`;
  return w.dataJson === undefined ? s + '}' : `${s},"data":${w.dataJson}}`;
}

export interface AggregatorOptions {
  /** Order records are fed in: `asc` oldest first, `desc` newest first. */
  readonly order: 'asc' | 'desc';
  /** False: count records per window only, never look at data. Default true. */
  readonly withData?: boolean;
}

interface Span {
  buf: Buffer;
  s: number;
  e: number;
}

/** One output field (a dotted path) and its state in the current window. */
class FieldState {
  /** Window generation the state belongs to (older: empty). */
  gen = -1;
  /** Record generation of the pending value (a record's last occurrence of the field wins). */
  pendGen = -1;
  pend: Span = { buf: Buffer.alloc(0), s: 0, e: 0 };
  count = 0;
  numCount = 0;
  hasFloat = false;
  readonly intSum = new IntegerSum();
  readonly floatSum = new FloatSum();
  first: Span | undefined;
  last: Span | undefined;
  min: Span | undefined;
  max: Span | undefined;
  readonly minV: NumberValue = { num: 0, big: undefined, isInt: true };
  readonly maxV: NumberValue = { num: 0, big: undefined, isInt: true };

  constructor(
    readonly path: string,
    /** Functions from agg_fields, or undefined for the defaults. */
    readonly listed: readonly AggFunction[] | undefined,
    /** Schema stores: whether the schema type is numeric; json stores: undefined (decided per window by the values). */
    readonly schemaNumeric: boolean | undefined,
  ) {}

  reset(gen: number): void {
    this.gen = gen;
    this.count = 0;
    this.numCount = 0;
    this.hasFloat = false;
    this.intSum.reset();
    this.floatSum.reset();
    this.first = this.last = this.min = this.max = undefined;
  }
}

/** A key of the nested-object trie: its child keys and the field of its dotted path. */
interface Node {
  readonly path: string;
  field: FieldState | undefined;
  children: Map<string, Node> | undefined;
}

const scratch: NumberValue = { num: 0, big: undefined, isInt: true };
const spanText = (p: Span) => (): string => p.buf.toString('latin1', p.s, p.e);

export class WindowAggregator {
  private readonly desc: boolean;
  private readonly withData: boolean;
  private readonly windowNs: bigint;
  private readonly byPath = new Map<string, FieldState>();
  private readonly root: Node = { path: '', field: undefined, children: undefined };
  /** Schema stores: field state by compact key (`"3"`). */
  private readonly byIndexKey = new Map<string, FieldState>();
  private readonly schemaTypes: ReadonlyMap<string, boolean> | undefined;
  private readonly nameByIndexKey: ReadonlyMap<string, string> | undefined;
  private start: bigint | undefined;
  private gen = 0;
  private recGen = 0;
  private records = 0;
  private omitted = 0;
  private touched: FieldState[] = [];
  private recTouched: FieldState[] = [];

  constructor(
    private readonly spec: AggregationSpec,
    private readonly view: StoreView,
    options: AggregatorOptions,
  ) {
    this.desc = options.order === 'desc';
    this.withData = options.withData ?? true;
    this.windowNs = spec.windowNs;
    if (view.dataType === 'schema' && view.schema) {
      const layout = layoutOf(view.schema);
      this.schemaTypes = new Map(view.schema.fields.map((f) => [f.name, isNumericFieldType(f.type)]));
      this.nameByIndexKey = new Map(layout.byIndexOrder.map((f) => [String(f.index), f.name]));
    }
  }

  /** Start of the window holding `timestamp` (timestamps are >= 0). */
  windowStart(timestamp: bigint): bigint {
    return timestamp - (timestamp % this.windowNs);
  }

  /**
   * Adds one record (`data` undefined when read without data). Returns the window this record
   * closed (the previous one), if any.
   */
  add(timestamp: bigint, data: Buffer | undefined): AggWindow | undefined {
    const start = timestamp - (timestamp % this.windowNs);
    let closed: AggWindow | undefined;
    if (this.start !== start) {
      if (this.start !== undefined) closed = this.close();
      this.start = start;
      this.gen++;
    }
    this.records++;
    if (this.withData && data !== undefined) this.addData(data);
    return closed;
  }

  /** The open window, closed (at the end of the records); undefined when there is none. */
  flush(): AggWindow | undefined {
    return this.start === undefined ? undefined : this.close();
  }

  /** Start of the open window, if any. */
  get openWindow(): bigint | undefined {
    return this.start;
  }

  private close(): AggWindow {
    const w: AggWindow = {
      start: this.start as bigint,
      records: this.records,
      dataJson: this.withData ? this.render() : undefined,
      omittedValues: this.omitted,
    };
    this.start = undefined;
    this.records = 0;
    this.omitted = 0;
    this.touched = [];
    return w;
  }

  // ---- reading one record ----

  private addData(b: Buffer): void {
    const i = skipWs(b, 0);
    if (b[i] !== LBRACE) return; // not an object: counted in `records`, no fields
    this.recGen++;
    this.recTouched.length = 0;
    if (this.view.dataType === 'schema') this.walkCompact(b, i);
    else this.walk(b, i, b.length, this.root, 0);
    for (const f of this.recTouched) this.offer(f);
  }

  /** Members of the object starting at b[i] (valid JSON, as stored). */
  private walk(b: Buffer, i: number, end: number, parent: Node, depth: number): void {
    i = skipWs(b, i + 1, end);
    while (i < end && b[i] === QUOTE) {
      const ke = endOfValue(b, i, end);
      const ks = i + 1;
      i = skipWs(b, skipWs(b, ke, end) + 1, end); // past ':'
      const vs = i;
      const ve = endOfValue(b, vs, end);
      const key = memberKey(b, ks, ke - 1);
      const node = this.child(parent, key);
      if (node !== undefined) {
        if (b[vs] === LBRACE && depth + 1 < MAX_AGG_DEPTH && skipWs(b, vs + 1, ve) < ve - 1) {
          this.walk(b, vs, ve, node, depth + 1);
        } else {
          const f = node.field ?? (node.field = this.fieldFor(node.path));
          if (f) this.pending(f, b, vs, ve);
          else this.omitted++;
        }
      } else this.omitted++;
      i = skipWs(b, ve, end);
      if (b[i] === COMMA) i = skipWs(b, i + 1, end);
      else if (b[i] === RBRACE) break;
    }
  }

  private walkCompact(b: Buffer, i: number): void {
    const end = b.length;
    i = skipWs(b, i + 1, end);
    while (i < end && b[i] === QUOTE) {
      const ke = endOfValue(b, i, end);
      const key = memberKey(b, i + 1, ke - 1);
      i = skipWs(b, skipWs(b, ke, end) + 1, end);
      const vs = i;
      const ve = endOfValue(b, vs, end);
      let f = this.byIndexKey.get(key);
      if (f === undefined && this.byIndexKey.size < MAX_AGG_FIELDS) {
        f = this.fieldFor(this.nameByIndexKey?.get(key) ?? key);
        if (f) this.byIndexKey.set(key, f);
      }
      if (f) this.pending(f, b, vs, ve);
      else this.omitted++;
      i = skipWs(b, ve, end);
      if (b[i] === COMMA) i = skipWs(b, i + 1, end);
      else break;
    }
  }

  private child(parent: Node, key: string): Node | undefined {
    let c = parent.children?.get(key);
    if (c === undefined) {
      if (this.byPath.size >= MAX_AGG_FIELDS) return undefined;
      c = { path: parent.path === '' ? key : `${parent.path}.${key}`, field: undefined, children: undefined };
      (parent.children ??= new Map()).set(key, c);
    }
    return c;
  }

  private fieldFor(path: string): FieldState | undefined {
    let f = this.byPath.get(path);
    if (f === undefined) {
      if (this.byPath.size >= MAX_AGG_FIELDS) return undefined;
      f = new FieldState(path, this.spec.fields.get(path), this.schemaTypes?.get(path));
      this.byPath.set(path, f);
    }
    return f;
  }

  private pending(f: FieldState, b: Buffer, s: number, e: number): void {
    if (f.pendGen !== this.recGen) {
      f.pendGen = this.recGen;
      this.recTouched.push(f);
    }
    f.pend = { buf: b, s, e };
  }

  // ---- folding one value into its field ----

  private offer(f: FieldState): void {
    if (f.gen !== this.gen) {
      f.reset(this.gen);
      this.touched.push(f);
    }
    const v = f.pend;
    f.count++;
    // In time order: `first` is the earliest record's value, `last` the latest's.
    if (this.desc) {
      if (f.last === undefined) f.last = v;
      f.first = v;
    } else {
      if (f.first === undefined) f.first = v;
      f.last = v;
    }
    if (!isNumberStart(v.buf[v.s])) return;
    parseNumberToken(v.buf, v.s, v.e, scratch);
    f.numCount++;
    if (scratch.isInt) f.intSum.add(scratch);
    else {
      f.hasFloat = true;
      f.floatSum.add(scratch.num);
    }
    // Ties keep the earliest record's text (1 and 1.0 are equal): scanning newest first, an equal value replaces.
    const text = spanText(v);
    if (f.min === undefined) {
      f.min = v;
      copy(scratch, f.minV);
    } else {
      const c = compareNumbers(scratch, text, f.minV, spanText(f.min));
      if (c < 0 || (c === 0 && this.desc)) {
        f.min = v;
        copy(scratch, f.minV);
      }
    }
    if (f.max === undefined) {
      f.max = v;
      copy(scratch, f.maxV);
    } else {
      const c = compareNumbers(scratch, text, f.maxV, spanText(f.max));
      if (c > 0 || (c === 0 && this.desc)) {
        f.max = v;
        copy(scratch, f.maxV);
      }
    }
  }

  // ---- the window's data object ----

  private render(): string {
    const parts: string[] = [];
    for (const f of this.touched) {
      const fns = this.functionsOf(f);
      for (const fn of fns) parts.push(`${JSON.stringify(fns.length === 1 ? f.path : `${f.path}_${fn}`)}:${valueOf(f, fn)}`);
    }
    return `{${parts.join(',')}}`;
  }

  /**
   * Listed fields take their listed functions. Others take agg_default when numeric (a numeric
   * schema type; in json stores, at least one number in the window); a non-numeric field takes
   * the default's first/last/count, or `last` when the default has none of them.
   */
  private functionsOf(f: FieldState): readonly AggFunction[] {
    if (f.listed) return f.listed;
    const numeric = f.schemaNumeric ?? f.numCount > 0;
    if (numeric) return this.spec.defaults;
    const any = this.spec.defaults.filter((fn) => !NUMERIC_FUNCTIONS.has(fn));
    return any.length ? any : LAST;
  }
}

const LAST: readonly AggFunction[] = ['last'];

function copy(from: NumberValue, to: NumberValue): void {
  to.num = from.num;
  to.big = from.big;
  to.isInt = from.isInt;
}

function text(p: Span | undefined): string {
  return p === undefined ? 'null' : p.buf.toString('utf8', p.s, p.e);
}

function total(f: FieldState): number {
  return f.hasFloat ? f.intSum.toNumber() + f.floatSum.value() : f.intSum.toNumber();
}

function valueOf(f: FieldState, fn: AggFunction): string {
  switch (fn) {
    case 'count':
      return String(f.count);
    case 'first':
      return text(f.first);
    case 'last':
      return text(f.last);
    case 'min':
      return text(f.min);
    case 'max':
      return text(f.max);
    case 'sum':
      if (f.numCount === 0) return 'null';
      return f.hasFloat ? doubleJson(total(f)) : f.intSum.text();
    case 'avg':
      return f.numCount === 0 ? 'null' : doubleJson(total(f) / f.numCount);
  }
}
