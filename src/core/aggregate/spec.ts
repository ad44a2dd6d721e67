/**
 * What to aggregate: `agg_window`, `agg_fields` and `agg_default` (docs/protocol.md,
 * "Aggregation") parsed and checked once, each failure a TSS_ERR_QUERY_INVALID naming the
 * parameter. The same names serve query strings and connection bodies.
 */
import { parseDurationNs } from '../../plugin/kit/duration.js';
import { TssError } from '../../plugin/errors.js';
import type { FieldType, StoreView } from '../../plugin/stage.js';

export const AGG_FUNCTIONS = ['avg', 'sum', 'min', 'max', 'count', 'first', 'last'] as const;
export type AggFunction = (typeof AGG_FUNCTIONS)[number];

/** Functions over numbers only; the others take any value. */
export const NUMERIC_FUNCTIONS: ReadonlySet<AggFunction> = new Set(['avg', 'sum', 'min', 'max']);

/** The most windows one request's span may divide into (and the most `agg_fields` entries). */
export const MAX_AGG_WINDOWS = 100_000;
export const MAX_AGG_FIELD_ENTRIES = 1000;

export interface AggregationSpec {
  /** Window length in nanoseconds (> 0); windows start at multiples of it since the epoch. */
  readonly windowNs: bigint;
  /** The original `agg_window` text, for messages. */
  readonly windowText: string;
  /** Fields named in `agg_fields`, each with its functions in the order given. */
  readonly fields: ReadonlyMap<string, readonly AggFunction[]>;
  /** `agg_default`: the functions of every field not listed; `['last']` when not given. */
  readonly defaults: readonly AggFunction[];
}

export interface AggregationParams {
  readonly agg_window?: string;
  readonly agg_fields?: string;
  readonly agg_default?: string;
}

function bad(name: string, why: string): TssError {
  return new TssError('TSS_ERR_QUERY_INVALID', `invalid ${name}: ${why}`);
}

function fn(name: string, text: string): AggFunction {
  if ((AGG_FUNCTIONS as readonly string[]).includes(text)) return text as AggFunction;
  throw bad(name, `unknown function "${text}": expected one of ${AGG_FUNCTIONS.join(', ')}`);
}

/**
 * Parses the aggregation parameters; undefined when none is given. `agg_fields`/`agg_default`
 * without `agg_window` is an error naming `agg_window`.
 */
export function parseAggregation(p: AggregationParams): AggregationSpec | undefined {
  const windowText = p.agg_window?.trim() ?? '';
  const fieldsText = p.agg_fields?.trim() ?? '';
  const defaultText = p.agg_default?.trim() ?? '';
  if (windowText === '') {
    if (fieldsText !== '' || defaultText !== '') throw bad('agg_window', 'required with agg_fields and agg_default (a duration such as 30s, 1m or 1h)');
    return undefined;
  }
  const windowNs = /^-/.test(windowText) ? undefined : parseDurationNs(windowText);
  if (windowNs === undefined) throw bad('agg_window', `expected a positive duration such as 30s, 1m or 1h (units ns us ms s m h d w), got "${windowText}"`);
  if (windowNs <= 0n) throw bad('agg_window', `must be longer than zero, got "${windowText}"`);

  const fields = new Map<string, AggFunction[]>();
  if (fieldsText !== '') {
    const entries = fieldsText.split(',');
    if (entries.length > MAX_AGG_FIELD_ENTRIES) throw bad('agg_fields', `more than ${MAX_AGG_FIELD_ENTRIES} entries`);
    for (const raw of entries) {
      const entry = raw.trim();
      const colon = entry.lastIndexOf(':');
      if (colon <= 0 || colon === entry.length - 1)
        throw bad('agg_fields', `expected field:function (e.g. temperature:avg or temperature:avg+max), got "${entry}"`);
      const field = entry.slice(0, colon).trim();
      if (field === '') throw bad('agg_fields', `empty field name in "${entry}"`);
      const list = fields.get(field) ?? [];
      // `+` joins functions; in a query string an unescaped `+` arrives as a space, which joins them too.
      for (const f of entry
        .slice(colon + 1)
        .trim()
        .split(/[+\s]+/)) {
        const g = fn('agg_fields', f.trim());
        if (!list.includes(g)) list.push(g);
      }
      fields.set(field, list);
    }
  }
  let defaults: AggFunction[] = ['last'];
  if (defaultText !== '') {
    defaults = [];
    for (const f of defaultText.split(',')) {
      const g = fn('agg_default', f.trim());
      if (!defaults.includes(g)) defaults.push(g);
    }
  }
  return { windowNs, windowText, fields, defaults };
}

const NUMERIC_TYPES: ReadonlySet<FieldType> = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'float32', 'float64']);

export function isNumericFieldType(t: FieldType): boolean {
  return NUMERIC_TYPES.has(t);
}

/**
 * Checks a spec against the store it reads: json and schema stores only; on a schema store every
 * listed field must exist, and numeric functions need a numeric field.
 */
export function checkAggregationFor(spec: AggregationSpec, view: StoreView): void {
  if (view.dataType !== 'json' && view.dataType !== 'schema')
    throw bad('agg_window', `aggregation needs a json or schema store; "${view.name}" is a ${view.dataType} store`);
  if (view.dataType !== 'schema' || !view.schema) return;
  const types = new Map(view.schema.fields.map((f) => [f.name, f.type]));
  for (const [field, fns] of spec.fields) {
    const type = types.get(field);
    if (type === undefined) throw bad('agg_fields', `the schema of "${view.name}" has no field "${field}"`);
    const numeric = fns.find((f) => NUMERIC_FUNCTIONS.has(f));
    if (numeric && !isNumericFieldType(type))
      throw bad('agg_fields', `${numeric} needs a numeric field; "${field}" is ${type} (first, last and count take any field)`);
  }
}

/** Number of epoch-aligned windows that the inclusive span [lo, hi] touches. */
export function windowsInSpan(windowNs: bigint, lo: bigint, hi: bigint): bigint {
  if (hi < lo) return 0n;
  return hi / windowNs - lo / windowNs + 1n;
}

/** 400 naming `agg_window` when [lo, hi] divides into more than MAX_AGG_WINDOWS windows. */
export function checkWindowCount(spec: AggregationSpec, lo: bigint, hi: bigint): void {
  const n = windowsInSpan(spec.windowNs, lo, hi);
  if (n > BigInt(MAX_AGG_WINDOWS)) {
    throw bad(
      'agg_window',
      `${spec.windowText} windows over the span read (${lo} to ${hi}) would be ${n} windows, more than the maximum of ${MAX_AGG_WINDOWS}; use a longer window or a narrower range (since, start_time, end_time)`,
    );
  }
}
