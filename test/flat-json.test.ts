/**
 * isFlatScalarObject must agree with JSON.parse on every input: it stands in for JSON.parse on
 * schema-store records. Seeded generation of valid flat objects, then random byte mutations.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlatScalarObject } from '../src/core/flat-json.js';

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

const STRINGS = ['"a"', '""', '"room-1"', '"caf\\u00e9"', '"tab\\there"', '"q\\"q"', '"s\\/l"', '"é✓"', '"\\b\\f\\n\\r\\\\"'];
const NUMBERS = ['0', '-0', '1', '-1', '72.5', '1e3', '1E+3', '2.5e-7', '18446744073709551615', '-9223372036854775808', '0.000001'];
const LITERALS = ['true', 'false', 'null'];
const WS = ['', '', '', ' ', '\n', '\t', '\r\n '];
const MUTATION_BYTES = '{}[]":,.-+eE0123456789 \\tnrufalsx\u0001'.split('').map((c) => c.charCodeAt(0)).concat([0xc3, 0xff]);

function flatScalar(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.values(value as Record<string, unknown>).every((v) => v === null || typeof v !== 'object');
}

function jsonParseVerdict(b: Buffer): boolean {
  try {
    return flatScalar(JSON.parse(b.toString('utf8')));
  } catch {
    return false;
  }
}

describe('isFlatScalarObject', () => {
  it('agrees with JSON.parse on generated and mutated inputs', () => {
    const rand = rng(20261128);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    let accepted = 0;
    let mutatedAccepted = 0;
    for (let n = 0; n < 4000; n++) {
      const members = Array.from({ length: Math.floor(rand() * 6) }, () => {
        const value = pick([STRINGS, NUMBERS, LITERALS][Math.floor(rand() * 3)]);
        return `${pick(WS)}${pick(STRINGS)}${pick(WS)}:${pick(WS)}${value}${pick(WS)}`;
      });
      const text = `${pick(WS)}{${members.join(',')}${members.length ? '' : pick(WS)}}${pick(WS)}`;
      const valid = Buffer.from(text);
      assert.equal(isFlatScalarObject(valid), true, text);
      assert.equal(jsonParseVerdict(valid), true, text);
      accepted++;
      for (let m = 0; m < 5; m++) {
        const bytes = [...valid];
        const at = Math.floor(rand() * (bytes.length + 1));
        const op = rand();
        if (op < 0.4 && bytes.length) bytes.splice(Math.min(at, bytes.length - 1), 1);
        else if (op < 0.7) bytes.splice(at, 0, pick(MUTATION_BYTES));
        else if (bytes.length) bytes[Math.min(at, bytes.length - 1)] = pick(MUTATION_BYTES);
        const mutated = Buffer.from(bytes);
        const mine = isFlatScalarObject(mutated);
        const theirs = jsonParseVerdict(mutated);
        assert.equal(mine, theirs, `disagree on ${JSON.stringify(mutated.toString('latin1'))}`);
        if (mine) mutatedAccepted++;
      }
    }
    assert.ok(accepted === 4000 && mutatedAccepted > 100, `coverage: ${mutatedAccepted} mutated inputs still valid`);
  });

  it('says false for nested values and other top-level values, which JSON.parse then judges', () => {
    for (const text of ['{"a":{}}', '{"a":[1]}', '[1]', '5', '"x"', 'null', '', ' ', '{"a":1}x', '{"a":1,}', '{,}', '{"a" 1}', '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":tru}', '{"a":"\\x"}', '{"a":"\u0001"}']) {
      assert.equal(isFlatScalarObject(Buffer.from(text)), false, text);
    }
  });
});
