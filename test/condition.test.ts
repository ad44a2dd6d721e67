/**
 * The alert-rule condition language (src/core/condition.ts, `Condition` in tsstore/plugin):
 * operators, AND/OR precedence and parentheses, dotted paths, absent fields, text versus number
 * comparisons, exact integers beyond 2^53 and 64 bits, and parse errors with their position.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Condition, ConditionError } from 'tsstore/plugin';

const m = (cond: string, json: string): boolean => Condition.parse(cond).matchesJson(json);

function fails(cond: string, position: number, message: RegExp): void {
  assert.throws(
    () => Condition.parse(cond),
    (err: unknown) => {
      assert.ok(err instanceof ConditionError, String(err));
      assert.equal(err.position, position, `${cond}: ${err.message}`);
      assert.match(err.message, message);
      assert.match(err.message, new RegExp(`at position ${position}$`));
      return true;
    },
  );
}

describe('condition language', () => {
  it('compares numbers with every operator', () => {
    const d = '{"t":80}';
    assert.deepEqual(
      ['>', '>=', '<', '<=', '==', '!='].map((op) => m(`t ${op} 80`, d)),
      [false, true, false, true, true, false],
    );
    assert.deepEqual(
      ['>', '>=', '<', '<=', '==', '!='].map((op) => m(`t ${op} 79.5`, d)),
      [true, true, false, false, false, true],
    );
    assert.equal(m('t>80', '{"t":80.000001}'), true, 'no spaces needed');
    assert.equal(m('t == 8e1', d), true, 'exponent literals');
    assert.equal(m('t > -1', '{"t":-0.5}'), true);
    assert.equal(m('t == 0.1', '{"t":0.1}'), true);
  });

  it('is exact on integers beyond 2^53 and 64 bits', () => {
    // 2^53 + 1 and 2^53 are the same double: a float comparison would call them equal.
    assert.equal(m('n > 9007199254740992', '{"n":9007199254740993}'), true);
    assert.equal(m('n == 9007199254740992', '{"n":9007199254740993}'), false);
    assert.equal(m('n == 9007199254740993', '{"n":9007199254740993}'), true);
    assert.equal(m('n < 18446744073709551616', '{"n":18446744073709551615}'), true);
    assert.equal(m('n >= -9223372036854775808', '{"n":-9223372036854775808}'), true);
    assert.equal(m('n > -9223372036854775808', '{"n":-9223372036854775808}'), false);
    assert.equal(m('n > 123456789012345678901234567890', '{"n":123456789012345678901234567891}'), true);
    assert.equal(m('n > 9007199254740992.5', '{"n":9007199254740993}'), true, 'integer against a decimal literal');
    assert.equal(m('n < 9007199254740993', '{"n":9007199254740992.5}'), true);
  });

  it('compares text, booleans and null; contains on the text', () => {
    assert.equal(m('status == "error"', '{"status":"error"}'), true);
    assert.equal(m("status == 'error'", '{"status":"error"}'), true);
    assert.equal(m('status == error', '{"status":"error"}'), true, 'a bare word is a string');
    assert.equal(m('status != "error"', '{"status":"ok"}'), true);
    assert.equal(m('msg contains "ERROR"', '{"msg":"disk ERROR on sda"}'), true);
    assert.equal(m('msg contains "error"', '{"msg":"disk ERROR on sda"}'), false, 'case-sensitive');
    assert.equal(m('msg CONTAINS ERROR', '{"msg":"disk ERROR"}'), true, 'keywords in any case');
    assert.equal(m('n contains 99', '{"n":1993}'), true, 'numbers by their text');
    assert.equal(m('on == true', '{"on":true}'), true);
    assert.equal(m('on == true', '{"on":"true"}'), false, 'a boolean literal matches only a boolean');
    assert.equal(m('v == null', '{"v":null}'), true);
    assert.equal(m('v != null', '{"v":0}'), true);
    assert.equal(m('name > "m"', '{"name":"zeta"}'), true, 'text order for strings');
    assert.equal(m('t > 80', '{"t":"790"}'), false, 'a string field compares as text with the literal: "790" < "80"');
    assert.equal(m('s == "a \\"q\\" b"', '{"s":"a \\"q\\" b"}'), true, 'escaped quotes');
  });

  it('never matches an absent field, not even with !=', () => {
    assert.equal(m('t != 5', '{"u":1}'), false);
    assert.equal(m('a.b > 1', '{"a":5}'), false);
    assert.equal(m('t > 1', 'not json'), false);
  });

  it('follows dotted paths; objects match only != and contains', () => {
    const d = '{"sensor":{"env":{"temp":31.5},"id":"s-1"},"tags":["hot","lab"]}';
    assert.equal(m('sensor.env.temp > 30', d), true);
    assert.equal(m('sensor.id == "s-1"', d), true);
    assert.equal(m('tags contains "lab"', d), true);
    assert.equal(m('sensor != 1', d), true);
    assert.equal(m('sensor == 1', d), false);
    assert.equal(m('"odd key" == 1', '{"odd key":1}'), true, 'a quoted field name');
    assert.equal(Condition.parse('x > 1').matches({ x: 12345678901234567890n }), true, 'parsed data with bigints');
  });

  it('AND binds tighter than OR; parentheses group', () => {
    const d = '{"a":1,"b":0,"c":1}';
    assert.equal(m('a == 1 OR b == 1 AND c == 0', d), true, 'a OR (b AND c)');
    assert.equal(m('(a == 1 OR b == 1) AND c == 0', d), false);
    assert.equal(m('a == 1 and (b == 1 or c == 1)', d), true);
    assert.equal(m('((a == 1))', d), true);
    assert.equal(m('a == 2 OR b == 2 OR c == 1', d), true);
    assert.equal(m('a == 1 AND b == 0 AND c == 2', d), false);
  });

  it('reports errors with the position', () => {
    fails('', 1, /empty/);
    fails('temp >', 7, /expected a value after ">", found the end/);
    fails('temp 80', 6, /expected an operator/);
    fails('temp = 80', 6, /unknown operator "="/);
    fails('temp > 80 AND', 14, /expected a field name, found the end/);
    fails('(temp > 80', 11, /expected "\)" to close the "\(" at position 1/);
    fails('temp > 80)', 10, /unmatched "\)"/);
    fails('temp > 80 humidity < 3', 11, /expected AND, OR or the end/);
    fails('s == "abc', 6, /unterminated string/);
    fails('a..b > 1', 3, /invalid field name/);
    fails('> 5', 1, /expected a field name/);
    fails(`${'('.repeat(40)}a > 1${')'.repeat(40)}`, 33, /nested deeper than 32/);
  });
});
