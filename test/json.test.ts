/**
 * The JSON module (src/core/json): the strict scanner must agree with JSON.parse on every input
 * (and refuse invalid UTF-8, which JSON.parse would rewrite); envelopes and batch bodies decode in
 * one pass with exact timestamps and the client's bytes; the trusting walks find spans; exact
 * parse/stringify keep big integers and never confuse a string with a number.
 */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import {
  decodeEnvelope,
  decodeJsonArray,
  decodeNdjson,
  endOfValue,
  invalidJsonMessage,
  isJson,
  memberKey,
  parseJsonExact,
  parseTimestampToken,
  scanMembers,
  stringifyExact,
  topLevelSpans,
  type Envelope,
} from '../src/core/json/index.js';
import type { Rejection } from '../src/plugin/errors.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = ['"a"', '""', '"room-1"', '"caf\\u00e9"', '"tab\\there"', '"q\\"q"', '"s\\/l"', '"é✓𝄞"', '"\\b\\f\\n\\r\\\\"', '"\\ud800"', '"a,]}"'];
const NUMBERS = ['0', '-0', '1', '-1', '72.5', '1e3', '1E+3', '2.5e-7', '18446744073709551615', '-9223372036854775808', '0.000001'];
const LITERALS = ['true', 'false', 'null'];
const WS = ['', '', '', ' ', '\n', '\t', '\r\n '];
const MUTATION_BYTES = '{}[]":,.-+eE0123456789 \\tnrufalsx\u0001'
  .split('')
  .map((c) => c.charCodeAt(0))
  .concat([0xc3, 0xe2, 0xed, 0xf0, 0xff, 0x80]);

/** Random valid JSON text with nesting and whitespace everywhere it may go. */
function generator(rand: () => number): (depth: number) => string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const value = (depth: number): string => {
    const r = rand();
    if (depth < 3 && r < 0.2) {
      const items = Array.from({ length: Math.floor(rand() * 4) }, () => `${pick(WS)}${value(depth + 1)}${pick(WS)}`);
      return `[${items.join(',') || pick(WS)}]`;
    }
    if (depth < 3 && r < 0.4) {
      const members = Array.from({ length: Math.floor(rand() * 4) }, () => `${pick(WS)}${pick(STRINGS)}${pick(WS)}:${pick(WS)}${value(depth + 1)}${pick(WS)}`);
      return `{${members.join(',') || pick(WS)}}`;
    }
    return pick([STRINGS, NUMBERS, LITERALS][Math.floor(rand() * 3)]);
  };
  return (depth) => `${pick(WS)}${value(depth)}${pick(WS)}`;
}

function mutate(rand: () => number, valid: Buffer): Buffer {
  const bytes = [...valid];
  const at = Math.floor(rand() * (bytes.length + 1));
  const op = rand();
  const byte = MUTATION_BYTES[Math.floor(rand() * MUTATION_BYTES.length)];
  if (op < 0.4 && bytes.length) bytes.splice(Math.min(at, bytes.length - 1), 1);
  else if (op < 0.7) bytes.splice(at, 0, byte);
  else if (bytes.length) bytes[Math.min(at, bytes.length - 1)] = byte;
  return Buffer.from(bytes);
}

/** What the strict scanner must say: JSON.parse accepts the text and the bytes are UTF-8. */
function oracle(b: Buffer): boolean {
  if (!isUtf8(b)) return false;
  try {
    JSON.parse(b.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function rejection(r: Envelope | Rejection): Rejection {
  assert.ok(!r.ok, 'expected a rejection');
  return r;
}

function accepted(r: Envelope | Rejection): Envelope {
  assert.ok(r.ok, `expected an envelope, got ${r.ok ? '' : r.message}`);
  return r;
}

describe('strict scanner', () => {
  it('agrees with JSON.parse (on UTF-8) over generated and mutated documents', () => {
    const rand = rng(20261202);
    const gen = generator(rand);
    let mutatedValid = 0;
    for (let n = 0; n < 3000; n++) {
      const valid = Buffer.from(gen(0));
      assert.equal(isJson(valid), true, valid.toString());
      for (let m = 0; m < 6; m++) {
        const mutated = mutate(rand, valid);
        const expected = oracle(mutated);
        assert.equal(isJson(mutated), expected, `disagree on ${JSON.stringify(mutated.toString('latin1'))}`);
        if (expected) mutatedValid++;
        // A value cut short inside a larger buffer is judged on its own bytes only.
        const cut = Math.floor(rand() * (mutated.length + 1));
        assert.equal(isJson(mutated, 0, cut), isJson(Buffer.from(mutated.subarray(0, cut))), `cut ${cut} of ${mutated.toString('latin1')}`);
      }
    }
    assert.ok(mutatedValid > 500, `coverage: ${mutatedValid} mutated documents still valid`);
  });

  it('checks UTF-8 inside strings: shortest forms, no surrogates, nothing above U+10FFFF', () => {
    const str = (...bytes: number[]): Buffer => Buffer.from([0x22, ...bytes, 0x22]);
    for (const ok of [
      [0xc3, 0xa9],
      [0xe2, 0x9c, 0x93],
      [0xf0, 0x9d, 0x84, 0x9e],
      [0xef, 0xbf, 0xbf],
      [0xf4, 0x8f, 0xbf, 0xbf],
      [0xed, 0x9f, 0xbf],
    ]) {
      assert.equal(isJson(str(...ok)), true, ok.join(','));
    }
    for (const bad of [
      [0xc0, 0x80],
      [0xc1, 0xbf],
      [0xe0, 0x80, 0x80],
      [0xed, 0xa0, 0x80],
      [0xf0, 0x80, 0x80, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
      [0x80],
      [0xbf],
      [0xc3],
      [0xe2, 0x9c],
      [0xf0, 0x9d, 0x84],
      [0xc3, 0x41],
      [0xff],
      [0xfe],
    ]) {
      assert.equal(isJson(str(...bad)), false, bad.join(','));
      assert.equal(isUtf8(Buffer.from(bad)), false, `${bad.join(',')} is not UTF-8 either`);
    }
    assert.equal(isJson(Buffer.from([0xc3, 0xa9])), false, 'non-ASCII outside a string');
    assert.match(invalidJsonMessage(str(0x61, 0xff)), /^invalid JSON: invalid UTF-8 at position 2$/);
  });

  it('takes deep nesting without recursion, and words errors as JSON.parse does', () => {
    const depth = 200_000;
    assert.equal(isJson(Buffer.from('['.repeat(depth) + ']'.repeat(depth))), true);
    assert.equal(isJson(Buffer.from('{"a":'.repeat(depth) + '1' + '}'.repeat(depth))), true);
    assert.equal(isJson(Buffer.from('['.repeat(depth))), false);
    for (const text of ['{"a":1', 'not json', '{"a" 1}', '[1,]', '']) {
      let expected = '';
      try {
        JSON.parse(text);
      } catch (err) {
        expected = `invalid JSON: ${(err as Error).message}`;
      }
      assert.equal(invalidJsonMessage(Buffer.from(text)), expected, text);
    }
  });
});

describe('envelopes', () => {
  it('finds data byte for byte and the timestamp exactly', () => {
    const env = accepted(decodeEnvelope(Buffer.from(' {"timestamp": 1704067200000000001 , "data" :  {"t": 1.50, "s": "a\\u00e9"}  } ')));
    assert.equal(env.timestamp, 1704067200000000001n);
    assert.equal(env.payload.toString(), '{"t": 1.50, "s": "a\\u00e9"}');
    assert.deepEqual(env.parsed, { t: 1.5, s: 'aé' }, 'parsed on demand');
    const cases: [string, bigint | undefined, string][] = [
      ['{"data":1}', undefined, '1'],
      ['{"data":null,"timestamp":null}', undefined, 'null'],
      ['{"timestamp":0,"data":"x"}', undefined, '"x"'],
      ['{"timestamp":-0,"data":[]}', undefined, '[]'],
      ['{"timestamp":5,"data":{}}', 5n, '{}'],
      ['{"timestamp":9223372036854775807,"data":0}', 9223372036854775807n, '0'],
      ['{"timestamp":999999999999999,"data":0}', 999999999999999n, '0'],
      ['{"timestamp":1,"data":1,"timestamp":2,"data":"last"}', 2n, '"last"'],
      ['{"d\\u0061ta":7,"time\\u0073tamp":3,"other":{"data":1}}', 3n, '7'],
      ['{"data":"\uE000bigint:42"}', undefined, '"\uE000bigint:42"'],
    ];
    for (const [text, ts, payload] of cases) {
      const e = accepted(decodeEnvelope(Buffer.from(text)));
      assert.equal(e.timestamp, ts, text);
      assert.equal(e.payload.toString(), payload, text);
    }
  });

  it('reads timestamp digits exactly, as parseTimestampToken does, at every length', () => {
    const rand = rng(3);
    for (let n = 0; n < 3000; n++) {
      const len = 1 + Math.floor(rand() * 21);
      let token = String(1 + Math.floor(rand() * 9));
      while (token.length < len) token += String(Math.floor(rand() * 10));
      if (rand() < 0.1) token = token[0] + '0'.repeat(len - 1);
      const want = parseTimestampToken(token);
      const got = decodeEnvelope(Buffer.from(`{"timestamp":${token},"data":1}`));
      if (typeof want === 'object') assert.equal(rejection(got).message, want.message, token);
      else assert.equal(accepted(got).timestamp, want, token);
    }
  });

  it('refuses what is not an envelope with the usual codes and messages', () => {
    const cases: [string, string, RegExp][] = [
      ['{"data": ', 'TSS_ERR_INVALID_JSON', /^invalid JSON: /],
      ['[1,2]', 'TSS_ERR_INVALID_JSON', /^invalid JSON: expected an object \{"timestamp"\?, "data"\}$/],
      ['"x"', 'TSS_ERR_INVALID_JSON', /^invalid JSON: expected an object/],
      ['{"timestamp": 1}', 'TSS_ERR_DATA_REQUIRED', /^data is required$/],
      ['{}', 'TSS_ERR_DATA_REQUIRED', /^data is required$/],
      ['{"data":1} x', 'TSS_ERR_INVALID_JSON', /^invalid JSON: /],
      ['{"data":1,}', 'TSS_ERR_INVALID_JSON', /^invalid JSON: /],
      ['{"timestamp": -5, "data": 1}', 'TSS_ERR_TIMESTAMP_INVALID', /must not be negative/],
      ['{"timestamp": 1.5, "data": 1}', 'TSS_ERR_TIMESTAMP_INVALID', /non-negative integer/],
      ['{"timestamp": 1e18, "data": 1}', 'TSS_ERR_TIMESTAMP_INVALID', /non-negative integer/],
      ['{"timestamp": "1", "data": 1}', 'TSS_ERR_TIMESTAMP_INVALID', /must be an integer, not a string$/],
      ['{"timestamp": {}, "data": 1}', 'TSS_ERR_TIMESTAMP_INVALID', /not a JSON object$/],
      ['{"timestamp": [], "data": 1}', 'TSS_ERR_TIMESTAMP_INVALID', /not a JSON array$/],
      ['{"timestamp": true, "data": 1}', 'TSS_ERR_TIMESTAMP_INVALID', /not a boolean$/],
      ['{"timestamp": 9223372036854775808, "data": 1}', 'TSS_ERR_TIMESTAMP_INVALID', /exceeds the signed 64-bit range/],
      ['{"timestamp": 12345678901234567890, "data": 1}', 'TSS_ERR_TIMESTAMP_INVALID', /exceeds the signed 64-bit range/],
    ];
    for (const [text, code, message] of cases) {
      const r = rejection(decodeEnvelope(Buffer.from(text)));
      assert.equal(r.code, code, text);
      assert.match(r.message, message, text);
    }
    const broken = rejection(decodeEnvelope(Buffer.from('{"data": ')));
    assert.equal(broken.message, invalidJsonMessage(Buffer.from('{"data": ')));
  });

  it('refuses invalid UTF-8 in data, which JSON.parse would have rewritten', () => {
    const bytes = Buffer.concat([Buffer.from('{"data":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const r = rejection(decodeEnvelope(bytes));
    assert.equal(r.code, 'TSS_ERR_INVALID_JSON');
    assert.match(r.message, /invalid UTF-8/);
  });
});

describe('batch bodies', () => {
  const codes = (rs: (Envelope | Rejection)[]): string[] => rs.map((r) => (r.ok ? `ok:${r.payload.toString()}` : r.code));

  it('NDJSON: a result per non-blank line, CR and blanks ignored', () => {
    const body = Buffer.from('{"data": {"a": 1}}\n{"data": \n\n  \r\n{"timestamp": 2, "data": [1, 2,  3]}\r\n{"nodata": 1}\n{"data": 5}');
    assert.deepEqual(codes(decodeNdjson(body)), ['ok:{"a": 1}', 'TSS_ERR_INVALID_JSON', 'ok:[1, 2,  3]', 'TSS_ERR_DATA_REQUIRED', 'ok:5']);
    assert.deepEqual(decodeNdjson(Buffer.from('\n\n')), []);
  });

  it("JSON array: a malformed element is that element's error only", () => {
    const body = Buffer.from(
      '[ {"timestamp": 1804067200000000001, "data": {"s": "a,]}\\"b"}}, {"data": }, 42, {"data": {"n": [1, {"x": 2}]}} ,, {"data": null}, {"data":1} {"data":2} ]',
    );
    const out = decodeJsonArray(body);
    assert.deepEqual(codes(out), [
      'ok:{"s": "a,]}\\"b"}',
      'TSS_ERR_INVALID_JSON',
      'TSS_ERR_INVALID_JSON',
      'ok:{"n": [1, {"x": 2}]}',
      'TSS_ERR_INVALID_JSON',
      'ok:null',
      'TSS_ERR_INVALID_JSON',
    ]);
    assert.equal((out[0] as Envelope).timestamp, 1804067200000000001n);
    assert.match((out[2] as Rejection).message, /^invalid JSON: expected an object/);
    assert.equal((out[4] as Rejection).message, 'invalid JSON: empty array element');
    assert.deepEqual(decodeJsonArray(Buffer.from(' [ ] ')), []);
    assert.deepEqual(codes(decodeJsonArray(Buffer.from('[,]'))), ['TSS_ERR_INVALID_JSON', 'TSS_ERR_INVALID_JSON']);
    assert.deepEqual(codes(decodeJsonArray(Buffer.from('[{"data":1},]'))), ['ok:1', 'TSS_ERR_INVALID_JSON']);
  });

  it('JSON array: only a body that is no closed array fails as a whole', () => {
    assert.throws(() => decodeJsonArray(Buffer.from('{"data": 1}')), /must be a JSON array of envelopes or NDJSON/);
    assert.throws(() => decodeJsonArray(Buffer.from('[{"data": 1}')), /not closed/);
    assert.throws(() => decodeJsonArray(Buffer.from('[{"data": "]')), /not closed/);
    assert.throws(() => decodeJsonArray(Buffer.from('[] x')), /unexpected content after the closing \]/);
  });
});

describe('trusting walks', () => {
  it('find value ends, member spans and keys in valid JSON', () => {
    const b = Buffer.from('{"a": [1, "]", {"b": "}"}], "k\\u00e9y" : "v", "n":-1.5e3 ,"a":2}');
    assert.equal(endOfValue(b, 0), b.length);
    const members: [string, string][] = [];
    scanMembers(b, (ks, ke, s, e) => members.push([memberKey(b, ks, ke), b.toString('utf8', s, e)]));
    assert.deepEqual(members, [
      ['a', '[1, "]", {"b": "}"}]'],
      ['kéy', '"v"'],
      ['n', '-1.5e3'],
      ['a', '2'],
    ]);
    const spans = topLevelSpans(b, ['a', 'n']);
    assert.deepEqual([...spans.keys()], ['a', 'n']);
    assert.equal(b.toString('utf8', ...spans.get('a')!), '2', 'last occurrence wins');
  });
});

describe('exact parse and stringify', () => {
  it('parseJsonExact: big integers become bigint, strings stay strings whatever they hold', () => {
    assert.deepEqual(parseJsonExact('{"a":"\uE000bigint:42"}'), { a: '\uE000bigint:42' });
    assert.deepEqual(
      parseJsonExact('{"s":"\\u0000BIGINT0\\u0000","n":9007199254740993,"m":-9223372036854775808,"f":1.5,"e":1e400,"i":9007199254740991,"z":-0}'),
      { s: '\u0000BIGINT0\u0000', n: 9007199254740993n, m: -9223372036854775808n, f: 1.5, e: Infinity, i: 9007199254740991, z: -0 },
    );
    assert.deepEqual(parseJsonExact(' [1, [2, {"x": [18446744073709551615]}], "9007199254740993"] '), [
      1,
      [2, { x: [18446744073709551615n] }],
      '9007199254740993',
    ]);
    assert.deepEqual(parseJsonExact(Buffer.from('{"k\\u00e9y":"caf\\u00e9 ✓"}')), { kéy: 'café ✓' });
    const proto = parseJsonExact('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
    assert.deepEqual(Object.keys(proto), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('parseJsonExact: the same values as JSON.parse where no integer is too big', () => {
    const rand = rng(7);
    const gen = generator(rand);
    for (let n = 0; n < 2000; n++) {
      const text = gen(0).replace(/18446744073709551615|-9223372036854775808/g, '12');
      assert.deepEqual(parseJsonExact(text), JSON.parse(text), text);
    }
  });

  it("parseJsonExact: throws SyntaxError, with JSON.parse's words where it has them", () => {
    for (const text of ['{"a":', '', '[1,]', '{"a":1} 2']) {
      let expected: Error | undefined;
      try {
        JSON.parse(text);
      } catch (err) {
        expected = err as Error;
      }
      assert.throws(
        () => parseJsonExact(text),
        (err: Error) => err instanceof SyntaxError && err.message === expected!.message,
        text,
      );
    }
    assert.throws(() => parseJsonExact(Buffer.from([0x22, 0xff, 0x22])), /invalid UTF-8/);
  });

  it('stringifyExact: bigints with every digit, no string ever taken for one', () => {
    assert.equal(stringifyExact({ s: '\u0000BIGINT0\u0000', b: 5n }), '{"s":"\\u0000BIGINT0\\u0000","b":5}');
    assert.equal(
      stringifyExact({ a: [1n, 18446744073709551615n, -3n], n: { t: 9223372036854775807n } }),
      '{"a":[1,18446744073709551615,-3],"n":{"t":9223372036854775807}}',
    );
    const doc = { version: 1, cursor: 1704067200000000001n, list: [{ a: 'x', b: null }], empty: {}, none: [] };
    assert.deepEqual(parseJsonExact(stringifyExact(doc, 2)), doc);
    assert.throws(() => {
      const o: Record<string, unknown> = {};
      o.self = o;
      stringifyExact(o);
    }, TypeError);
    assert.throws(() => stringifyExact(undefined), TypeError);
  });

  it('stringifyExact: the same text as JSON.stringify for everything else', () => {
    const values: unknown[] = [
      { a: 1, b: 'two', c: [true, false, null], d: { e: undefined, f: () => 1, g: Symbol('s') }, h: [undefined, () => 1], i: NaN, j: -0, k: Infinity },
      [],
      {},
      [[]],
      [{}],
      'str"\n\u2028',
      0,
      null,
      { date: new Date(0), nested: { toJSON: (k: string) => `key:${k}` } },
      { ['__proto__']: 1, ü: 'é' },
      Object.assign(Object.create({ inherited: 1 }), { own: 2 }),
      [1, , 3],
      new Map([[1, 2]]),
      Buffer.from('hi'),
    ];
    for (const v of values) {
      for (const space of [undefined, 0, 2, 4, 20])
        assert.equal(stringifyExact(v, space), JSON.stringify(v, null, space), `${String(JSON.stringify(v))} / ${space}`);
    }
    const rand = rng(11);
    const gen = generator(rand);
    for (let n = 0; n < 500; n++) {
      const value: unknown = JSON.parse(gen(0));
      assert.equal(stringifyExact(value, 2), JSON.stringify(value, null, 2));
    }
  });
});
