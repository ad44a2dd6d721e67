/**
 * Time-windowed aggregation on data/newest and data/range, against values computed by hand:
 * epoch-aligned windows, empty windows omitted, exact integers beyond 2^53, dotted paths,
 * non-numeric fields, schema stores, a window straddling the ring's oldest record, and 400s
 * naming the parameter. Plus the aggregator module alone (descending feeds, ties, limits).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareDecimalText, parseAggregation, WindowAggregator, aggWindowJson, MAX_AGG_FIELDS } from '../src/core/aggregate/index.js';
import { parseJsonExact } from '../src/core/json/index.js';
import { api, startServer, type TestServer } from './support/server.js';

const S = 1_000_000_000n;
const base = 1704067200n * S; // a multiple of 10 s

type Win = { timestamp: bigint; records: number; data?: Record<string, unknown> };

describe('aggregation over the read routes', () => {
  let s: TestServer;
  let key: string;
  const get = (store: string, q: string, k = key) => api(s.url, 'GET', `/api/stores/${store}/data/${q}`, undefined, { 'X-API-Key': k });
  const post = async (store: string, k: string, ts: bigint, data: string) => {
    const r = await api(s.url, 'POST', `/api/stores/${store}/data`, `{"timestamp":${ts},"data":${data}}`, {
      'X-API-Key': k,
      'Content-Type': 'application/json',
    });
    assert.equal(r.status, 201, r.text);
  };
  const windows = (r: { status: number; text: string; json: { objects: Win[]; count: number } }): Win[] => {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.count, r.json.objects.length);
    return r.json.objects;
  };

  before(async () => {
    s = await startServer();
    key = await s.createStore('a');
    // Window [base, base+10s): three records; [base+10s, base+20s): none; then one window each.
    await post('a', key, base + 1n * S, '{"temperature":20,"humidity":40.5,"room":"a","events":9007199254740993,"cpu":{"pct":10}}');
    await post('a', key, base + 2n * S, '{"temperature":22,"humidity":41.5,"room":"b","events":9007199254740993,"cpu":{"pct":30,"temp":{"c":50}}}');
    await post('a', key, base + 10n * S - 1n, '{"temperature":21,"room":"c","events":1}');
    await post('a', key, base + 25n * S, '{"temperature":-5,"humidity":50,"room":"d","events":2,"cpu":{"pct":5.5}}');
    await post('a', key, base + 31n * S, '{"temperature":1.5,"room":7,"flag":true}');
    await post('a', key, base + 32n * S, '{"temperature":1.50,"room":null,"flag":false,"tags":[1,2]}');
    await post('a', key, base + 33n * S, '[1,2,3]');
  });
  after(() => s.stop());

  it('aggregates epoch-aligned windows exactly, omitting empty windows', async () => {
    const q =
      'range?agg_window=10s&agg_fields=temperature:avg+sum+min+max+count+first+last,events:sum,events:max,room:first+last+count,cpu.pct:avg&agg_default=avg';
    const w = windows(await get('a', q));
    assert.deepEqual(
      w.map((x) => x.timestamp),
      [base, base + 20n * S, base + 30n * S],
      'window starts; [base+10s, base+20s) is empty and omitted',
    );
    assert.deepEqual(
      w.map((x) => x.records),
      [3, 1, 3],
    );
    assert.deepEqual(w[0].data, {
      temperature_avg: 21,
      temperature_sum: 63,
      temperature_min: 20,
      temperature_max: 22,
      temperature_count: 3,
      temperature_first: 20,
      temperature_last: 21,
      humidity: 41, // agg_default avg, one function: the bare name
      room_first: 'a',
      room_last: 'c',
      room_count: 3,
      events_sum: 18014398509481987n, // 2 × 9007199254740993 + 1: every digit
      events_max: 9007199254740993n,
      'cpu.pct': 20,
      'cpu.temp.c': 50, // nested paths are dotted
    } as Record<string, unknown>);
    assert.deepEqual(w[1].data, {
      temperature_avg: -5,
      temperature_sum: -5,
      temperature_min: -5,
      temperature_max: -5,
      temperature_count: 1,
      temperature_first: -5,
      temperature_last: -5,
      humidity: 50,
      room_first: 'd',
      room_last: 'd',
      room_count: 1,
      events_sum: 2,
      events_max: 2,
      'cpu.pct': 5.5,
    });
    // The third window: 1.5 and 1.50 are equal (min/max keep the earliest text); room (listed) holds a number and a null;
    // flag and tags are not numeric, so agg_default=avg leaves them `last`. The array record has no fields.
    assert.deepEqual(w[2].data, {
      temperature_avg: 1.5,
      temperature_sum: 3,
      temperature_min: 1.5,
      temperature_max: 1.5,
      temperature_count: 2,
      temperature_first: 1.5,
      temperature_last: 1.5,
      room_first: 7,
      room_last: null,
      room_count: 2,
      flag: false,
      tags: [1, 2],
    });
  });

  it('keeps stored value text verbatim for first, last, min and max', async () => {
    const r = await get('a', `range?agg_window=10s&start_time=${base + 30n * S}&agg_fields=temperature:min+max+first+last`);
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /"temperature_min":1\.5,"temperature_max":1\.5,"temperature_first":1\.5,"temperature_last":1\.50/);
    assert.match(r.text, /"records":3/);
  });

  it('newest gives the newest windows first, each complete, and first/last still in time order', async () => {
    const w = windows(await get('a', 'newest?agg_window=10s&limit=3&agg_fields=temperature:first+last+count,events:sum'));
    assert.deepEqual(
      w.map((x) => x.timestamp),
      [base + 30n * S, base + 20n * S, base],
    );
    assert.deepEqual(w[2].data, {
      temperature_first: 20,
      temperature_last: 21,
      temperature_count: 3,
      events: 18014398509481987n,
      humidity: 41.5,
      room: 'c',
      'cpu.pct': 30,
      'cpu.temp.c': 50,
    });
    assert.deepEqual(
      windows(await get('a', 'newest?agg_window=10s&limit=1')).map((x) => x.timestamp),
      [base + 30n * S],
      'limit counts windows',
    );
    assert.deepEqual(
      windows(await get('a', 'newest?agg_window=1h')).map((x) => x.records),
      [7],
      'one window holds everything (the default limit is 10 windows)',
    );
  });

  it('range bounds cut the windows at their ends; limit counts windows; filter applies before aggregation', async () => {
    const w = windows(await get('a', `range?agg_window=10s&start_time=${base + 2n * S}&end_time=${base + 25n * S}&agg_fields=temperature:sum`));
    assert.deepEqual(
      w.map((x) => [x.timestamp, x.records, x.data?.temperature]),
      [
        [base, 2, 43],
        [base + 20n * S, 1, -5],
      ],
    );
    assert.deepEqual(
      windows(await get('a', 'range?agg_window=10s&limit=2')).map((x) => x.timestamp),
      [base, base + 20n * S],
    );
    const f = windows(await get('a', 'range?agg_window=1m&filter=room&agg_fields=temperature:count'));
    assert.deepEqual(
      f.map((x) => x.records),
      [6],
      'the array record has no "room"',
    );
    const nd = windows(await get('a', 'range?agg_window=10s&include_data=false'));
    assert.deepEqual(
      nd.map((x) => [x.records, x.data]),
      [
        [3, undefined],
        [1, undefined],
        [3, undefined],
      ],
    );
  });

  it("a window straddling the ring's oldest record aggregates only the records still held", async () => {
    const k = await s.createStore('ring', { num_blocks: 4, data_block_size: 64 });
    // Write until the ring has dropped records and its oldest one is not the first of its 10 s window.
    let n = 0;
    let oldest = 1;
    while (n < 40 || oldest === 1 || oldest % 10 === 0) {
      n++;
      await post('ring', k, BigInt(n) * S, `{"v":${n}}`);
      oldest = Number(BigInt((await get('ring', 'oldest?limit=1', k)).json.objects[0].timestamp) / S);
      assert.ok(n < 400, 'the ring wraps');
    }
    const w = windows(await get('ring', 'range?agg_window=10s&agg_default=sum,count,min,first', k));
    const start = oldest - (oldest % 10);
    const end = Math.min(start + 9, n);
    let sum = 0;
    for (let v = oldest; v <= end; v++) sum += v;
    assert.equal(BigInt(w[0].timestamp), BigInt(start) * S, 'the window starts before the oldest record held');
    assert.equal(w[0].records, end - oldest + 1);
    assert.deepEqual(w[0].data, { v_sum: sum, v_count: end - oldest + 1, v_min: oldest, v_first: oldest });
    const lastStart = n - (n % 10);
    if (lastStart > start) {
      let lastSum = 0;
      for (let v = lastStart; v <= n; v++) lastSum += v;
      assert.deepEqual(w[w.length - 1].data, { v_sum: lastSum, v_count: n - lastStart + 1, v_min: lastStart, v_first: lastStart });
    }
  });

  it("aggregates a schema store's expanded fields, numeric by the schema's types", async () => {
    const k = await s.createStore('sch', { data_type: 'schema' });
    const fields = [
      { index: 1, name: 'temp', type: 'float64' },
      { index: 2, name: 'room', type: 'string' },
      { index: 3, name: 'n', type: 'int64' },
    ];
    const put = await api(s.url, 'PUT', '/api/stores/sch/schema', { fields }, { 'X-API-Key': k });
    assert.equal(put.status, 200, put.text);
    await post('sch', k, base + 1n * S, '{"temp":20.25,"room":"lab","n":9223372036854775807}');
    await post('sch', k, base + 2n * S, '{"temp":21.75,"room":"hall","n":-9223372036854775808}');
    await post('sch', k, base + 3n * S, '{"temp":22,"room":"lab","n":9223372036854775806}');
    const w = windows(await get('sch', 'range?agg_window=1m&agg_default=avg,max,sum', k));
    assert.deepEqual(w[0].data, {
      temp_avg: 21.333333333333332,
      temp_max: 22,
      temp_sum: 64,
      room: 'lab', // a string field under numeric defaults: last
      // n_avg is a double; JSON writes it with all its integer digits.
      n_avg: 3074457345618258400n,
      n_max: 9223372036854775807n,
      n_sum: 9223372036854775805n,
    });
    const listed = windows(await get('sch', 'range?agg_window=1m&agg_fields=room:count+first,n:min', k));
    assert.deepEqual(listed[0].data, { room_count: 3, room_first: 'lab', n: -9223372036854775808n, temp: 22 });
    const bad = await get('sch', 'range?agg_window=1m&agg_fields=room:avg', k);
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /invalid agg_fields: avg needs a numeric field; "room" is string/);
    assert.match((await get('sch', 'range?agg_window=1m&agg_fields=nope:avg', k)).json.error, /invalid agg_fields: the schema of "sch" has no field "nope"/);
  });

  it('rejects bad parameters with 400 naming them', async () => {
    const t = await s.createStore('t', { data_type: 'text' });
    const cases: [string, string, RegExp][] = [
      ['a', 'range?agg_window=0s', /invalid agg_window: must be longer than zero/],
      ['a', 'range?agg_window=-1m', /invalid agg_window: expected a positive duration/],
      ['a', 'range?agg_window=soon', /invalid agg_window/],
      ['a', 'range?agg_window=1m&agg_fields=temperature:median', /invalid agg_fields: unknown function "median"/],
      ['a', 'range?agg_window=1m&agg_fields=temperature', /invalid agg_fields: expected field:function/],
      ['a', 'range?agg_window=1m&agg_default=avg,mode', /invalid agg_default: unknown function "mode"/],
      ['a', 'range?agg_fields=temperature:avg', /invalid agg_window: required with agg_fields/],
      ['a', 'range?agg_window=1m&format=compact', /invalid format/],
      ['a', 'oldest?agg_window=1m', /invalid agg_window: aggregation is served by data\/newest and data\/range/],
      ['a', 'range?agg_window=1ns', /invalid agg_window: 1ns windows over the span read .* would be 32000000001 windows, more than the maximum of 100000/],
      ['a', 'newest?agg_window=100us', /invalid agg_window: .*more than the maximum of 100000/],
      ['t', 'range?agg_window=1m', /invalid agg_window: aggregation needs a json or schema store/],
    ];
    for (const [store, q, msg] of cases) {
      const r = await get(store, q, store === 't' ? t : key);
      assert.equal(r.status, 400, `${q} → ${r.text}`);
      assert.match(r.json.error, msg, q);
    }
    // The same 1ns windows over a narrow enough span are fine.
    const narrow = windows(await get('a', `range?agg_window=1ns&start_time=${base + 1n * S}&end_time=${base + 1n * S + 99_999n}`));
    assert.deepEqual(
      narrow.map((x) => x.timestamp),
      [base + 1n * S],
    );
  });

  it('streams answers larger than one page of records', async () => {
    const k = await s.createStore('big');
    for (let from = 0; from < 25_000; from += 5000) {
      const lines = Array.from({ length: 5000 }, (_, j) => `{"timestamp":${base + BigInt(from + j + 1) * 1_000_000n},"data":{"x":${from + j + 1}}}`);
      const r = await api(s.url, 'POST', '/api/stores/big/data/batch', `[${lines.join(',')}]`, { 'X-API-Key': k, 'Content-Type': 'application/json' });
      assert.ok(r.status < 300, r.text);
    }
    // 1 ms apart, 1 s windows: 1000 records each (the first 999, the last 1001 - 25000 ends at 25 s exactly).
    const w = windows(await get('big', 'range?agg_window=1s&agg_default=sum,count&limit=100000', k));
    assert.equal(w.length, 26);
    assert.deepEqual(w[0].data, { x_sum: (999 * 1000) / 2, x_count: 999 });
    assert.deepEqual(w[25].data, { x_sum: 25000, x_count: 1 });
    assert.equal(
      w.reduce((n, x) => n + x.records, 0),
      25_000,
    );
    const sumAll = w.reduce((n, x) => n + Number(x.data!.x_sum), 0);
    assert.equal(sumAll, (25000 * 25001) / 2);
    const desc = windows(await get('big', 'newest?agg_window=1s&agg_default=count&limit=3', k));
    assert.deepEqual(
      desc.map((x) => [x.timestamp, x.data]),
      [
        [base + 25n * S, { x: 1 }],
        [base + 24n * S, { x: 1000 }],
        [base + 23n * S, { x: 1000 }],
      ],
    );
  });
});

describe('WindowAggregator', () => {
  const view = { name: 'm', dataType: 'json' as const };
  const spec = (q: Record<string, string>) => parseAggregation(q)!;
  const run = (sp: ReturnType<typeof spec>, order: 'asc' | 'desc', recs: [bigint, string][]) => {
    const agg = new WindowAggregator(sp, view, { order });
    const out: string[] = [];
    for (const [t, d] of order === 'asc' ? recs : [...recs].reverse()) {
      const w = agg.add(t, Buffer.from(d));
      if (w) out.push(aggWindowJson(w));
    }
    const w = agg.flush();
    if (w) out.push(aggWindowJson(w));
    return out.map((x) => parseJsonExact(x) as Win);
  };

  it('gives the same values fed oldest first or newest first', () => {
    const sp = spec({ agg_window: '1s', agg_default: 'avg,sum,min,max,count,first,last' });
    const recs: [bigint, string][] = [
      [1n, '{"x":1,"s":"a"}'],
      [2n, '{"x":1.0,"s":"b"}'],
      [3n, '{"x":-2e0,"s":"c"}'],
      [S + 1n, '{"x":99999999999999999999}'],
      [S + 2n, '{"x":-99999999999999999999,"x":5}'],
    ];
    const asc = run(sp, 'asc', recs);
    const desc = run(sp, 'desc', recs).reverse();
    assert.deepEqual(asc, desc);
    assert.deepEqual(asc[0].data, { x_avg: 0, x_sum: 0, x_min: -2, x_max: 1, x_count: 3, x_first: 1, x_last: -2, s_count: 3, s_first: 'a', s_last: 'c' });
    // A duplicate key: the last occurrence counts (as JSON.parse reads it).
    assert.deepEqual(asc[1].data, {
      x_avg: 50000000000000000000n,
      x_sum: 100000000000000000004n,
      x_min: 5,
      x_max: 99999999999999999999n,
      x_count: 2,
      x_first: 99999999999999999999n,
      x_last: 5,
    });
  });

  it('orders numbers exactly even where doubles tie', () => {
    assert.ok(compareDecimalText('9007199254740993.0', '9007199254740992.5') > 0);
    assert.ok(compareDecimalText('1e2', '100.000') === 0);
    assert.ok(compareDecimalText('-0.001', '-1e-3') === 0);
    assert.ok(compareDecimalText('-0.0011', '-1e-3') < 0);
    assert.ok(compareDecimalText('0', '-0') === 0);
    const w = run(spec({ agg_window: '1s', agg_default: 'min,max' }), 'asc', [
      [1n, '{"x":9007199254740992.5}'],
      [2n, '{"x":9007199254740993.0}'],
      [3n, '{"x":9007199254740992.75}'],
    ]);
    assert.match(JSON.stringify(w[0].data), /"x_min":9007199254740992/);
    const raw = new WindowAggregator(spec({ agg_window: '1s', agg_default: 'min,max' }), view, { order: 'asc' });
    raw.add(1n, Buffer.from('{"x":9007199254740992.5}'));
    raw.add(2n, Buffer.from('{"x":9007199254740993.0}'));
    raw.add(3n, Buffer.from('{"x":9007199254740992.75}'));
    assert.equal(raw.flush()!.dataJson, '{"x_min":9007199254740992.5,"x_max":9007199254740993.0}');
  });

  it('sums that overflow a double are null; fields beyond the limit are counted as omitted', () => {
    const w = run(spec({ agg_window: '1s', agg_default: 'sum,avg' }), 'asc', [
      [1n, '{"x":1e308}'],
      [2n, '{"x":1e308}'],
    ]);
    assert.deepEqual(w[0].data, { x_sum: null, x_avg: null });
    const agg = new WindowAggregator(spec({ agg_window: '1s' }), view, { order: 'asc' });
    const wide = `{${Array.from({ length: MAX_AGG_FIELDS + 5 }, (_, i) => `"f${i}":${i}`).join(',')}}`;
    agg.add(1n, Buffer.from(wide));
    const out = agg.flush()!;
    assert.equal(out.omittedValues, 5);
    assert.equal(Object.keys(JSON.parse(out.dataJson!)).length, MAX_AGG_FIELDS);
  });
});
