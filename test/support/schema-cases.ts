/**
 * Schema-store test data shared by the stage's unit tests and the per-input integration tests:
 * one field per type, and a table of value tokens × types (both edges of every range, one past
 * each edge, wrong kinds) with the exact error each must produce through every input.
 */
import type { FieldType } from '../../src/plugin/stage.js';

export const ALL_TYPES: readonly FieldType[] = [
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'float32',
  'float64',
  'bool',
  'string',
];

/** Schema with field `f_<type>` at index position+1 for every type. */
export const TABLE_SCHEMA = { fields: ALL_TYPES.map((type, i) => ({ index: i + 1, name: `f_${type}`, type })) };

export function fieldIndex(type: FieldType): number {
  return ALL_TYPES.indexOf(type) + 1;
}

export interface ValueCase {
  readonly type: FieldType;
  /** The JSON token sent as the field's value, exactly. */
  readonly token: string;
  /** undefined: accepted and read back byte for byte; else the full error message. */
  readonly error?: string;
}

const RANGES: Record<string, [string, string]> = {
  int8: ['-128', '127'],
  int16: ['-32768', '32767'],
  int32: ['-2147483648', '2147483647'],
  int64: ['-9223372036854775808', '9223372036854775807'],
  uint8: ['0', '255'],
  uint16: ['0', '65535'],
  uint32: ['0', '4294967295'],
  uint64: ['0', '18446744073709551615'],
};

const field = (type: FieldType): string => `data does not match schema: field "f_${type}" (${type}): `;
const ok = (type: FieldType, token: string): ValueCase => ({ type, token });
const bad = (type: FieldType, token: string, why: string): ValueCase => ({ type, token, error: field(type) + why });

function intCases(type: FieldType): ValueCase[] {
  const [lo, hi] = RANGES[type];
  const below = (BigInt(lo) - 1n).toString();
  const above = (BigInt(hi) + 1n).toString();
  const outOfRange = (t: string): string => `${t} is out of range ${lo}..${hi}`;
  const notInt = (t: string): string => `${t} is not an integer (write integers in plain digits, without a fraction or exponent)`;
  return [
    ok(type, lo),
    ok(type, hi),
    ok(type, '0'),
    bad(type, below, outOfRange(below)),
    bad(type, above, outOfRange(above)),
    bad(type, '1.5', notInt('1.5')),
    bad(type, '1e3', notInt('1e3')),
    bad(type, '2.0', notInt('2.0')),
    bad(type, '"5"', 'expected an integer, got the string "5"'),
    bad(type, 'true', 'expected an integer, got the boolean true'),
  ];
}

export const VALUE_CASES: readonly ValueCase[] = [
  ...(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64'] as const).flatMap(intCases),
  // The named cases, spelled out.
  ok('int64', '9007199254740993'),
  ok('uint64', '9007199254740993'),
  ok('int64', '-9007199254740993'),
  ok('float32', '3.4028234663852886e38'),
  ok('float32', '-3.4028234663852886e38'),
  ok('float32', '72.5'),
  ok('float32', '1e-50'),
  ok('float32', '-0'),
  ok('float32', '3'),
  bad('float32', '3.4028236e38', '3.4028236e38 is out of range for float32 (largest magnitude 3.4028234663852886e+38)'),
  bad('float32', '-3.4028236e38', '-3.4028236e38 is out of range for float32 (largest magnitude 3.4028234663852886e+38)'),
  bad('float32', '1e39', '1e39 is out of range for float32 (largest magnitude 3.4028234663852886e+38)'),
  bad('float32', '"1.5"', 'expected a number, got the string "1.5"'),
  ok('float64', '1.7976931348623157e308'),
  ok('float64', '-1.7976931348623157e308'),
  ok('float64', '5e-324'),
  ok('float64', '9007199254740993'),
  ok('float64', '0.1000000000000000055511151231257827'),
  bad('float64', '1e309', '1e309 is out of range for float64 (largest magnitude 1.7976931348623157e+308)'),
  bad('float64', '-1e309', '-1e309 is out of range for float64 (largest magnitude 1.7976931348623157e+308)'),
  bad('float64', 'false', 'expected a number, got the boolean false'),
  ok('bool', 'true'),
  ok('bool', 'false'),
  bad('bool', '"true"', 'expected true or false, got the string "true"'),
  bad('bool', '"yes"', 'expected true or false, got the string "yes"'),
  bad('bool', '1', 'expected true or false, got the number 1'),
  bad('bool', '0', 'expected true or false, got the number 0'),
  ok('string', '"room-1"'),
  ok('string', '""'),
  ok('string', '"caf\\u00e9 \\"quoted\\" é ✓"'),
  bad('string', '5', 'expected a string, got the number 5'),
  bad('string', 'true', 'expected a string, got the boolean true'),
  ...ALL_TYPES.flatMap((type) => [
    bad(type, 'null', 'null is not allowed (leave the field out instead)'),
    bad(type, '{"a":1}', 'nested objects are not allowed (data is a flat object of scalar values)'),
    bad(type, '[1]', 'nested arrays are not allowed (data is a flat object of scalar values)'),
  ]),
];

export interface ShapeCase {
  readonly name: string;
  readonly format: 'full' | 'compact';
  /** The `data` JSON text. */
  readonly data: string;
  readonly error: string;
}

const fieldList =
  ALL_TYPES.slice(0, 10)
    .map((t) => `f_${t}`)
    .join(', ') + ', ...';
const indexList = '1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ...';

export const SHAPE_CASES: readonly ShapeCase[] = [
  {
    name: 'unknown field',
    format: 'full',
    data: '{"f_int8":1,"humidity":5}',
    error: `data does not match schema: unknown field "humidity" (the schema's fields are ${fieldList})`,
  },
  {
    name: 'index key in full format',
    format: 'full',
    data: '{"1":1}',
    error: `data does not match schema: unknown field "1" (the schema's fields are ${fieldList})`,
  },
  {
    name: 'unknown index',
    format: 'compact',
    data: '{"1":1,"99":5}',
    error: `data does not match schema: unknown field index "99" (compact data is keyed by the schema's field indices: ${indexList})`,
  },
  {
    name: 'name key in compact format',
    format: 'compact',
    data: '{"f_int8":1}',
    error: `data does not match schema: unknown field index "f_int8" (compact data is keyed by the schema's field indices: ${indexList})`,
  },
  {
    name: 'non-canonical index',
    format: 'compact',
    data: '{"01":1}',
    error: `data does not match schema: unknown field index "01" (compact data is keyed by the schema's field indices: ${indexList})`,
  },
  { name: 'duplicate field', format: 'full', data: '{"f_int8":1,"f_int8":2}', error: 'data does not match schema: field "f_int8" appears more than once' },
  { name: 'duplicate index', format: 'compact', data: '{"2":1,"2":2}', error: 'data does not match schema: field "f_int16" appears more than once' },
  {
    name: 'nested object (compact)',
    format: 'compact',
    data: '{"1":{"x":1}}',
    error: 'data does not match schema: field "f_int8" (int8): nested objects are not allowed (data is a flat object of scalar values)',
  },
  { name: 'array data', format: 'full', data: '[1,2]', error: 'data does not match schema: data must be a flat JSON object of schema fields, got an array' },
  { name: 'number data', format: 'full', data: '5', error: 'data does not match schema: data must be a flat JSON object of schema fields, got a number' },
  { name: 'string data', format: 'compact', data: '"x"', error: 'data does not match schema: data must be a flat JSON object of schema fields, got a string' },
  { name: 'null data', format: 'full', data: 'null', error: 'data does not match schema: data must be a flat JSON object of schema fields, got null' },
  {
    name: 'out of range (compact)',
    format: 'compact',
    data: '{"5":256}',
    error: 'data does not match schema: field "f_uint8" (uint8): 256 is out of range 0..255',
  },
];
