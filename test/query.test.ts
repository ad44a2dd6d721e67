import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nowNs } from '../src/plugin/clock.js';
import { api, startServer, type TestServer } from './support/server.js';

type Obj = { timestamp: bigint; block_num: number; size: number; data?: unknown };

describe('reading back', () => {
  let s: TestServer;
  let key: string;
  const base = 1704067200000000000n;
  const get = (q: string) => api(s.url, 'GET', `/api/stores/q/data/${q}`, undefined, { 'X-API-Key': key });
  const stamps = (r: { json: { objects: Obj[] } }) => r.json.objects.map((o) => o.timestamp);

  before(async () => {
    s = await startServer();
    key = await s.createStore('q');
    for (let i = 1; i <= 20; i++) {
      const r = await api(s.url, 'POST', '/api/stores/q/data', `{"timestamp": ${base + BigInt(i)}, "data": {"n": ${i}, "tag": "${i % 2 ? 'Odd' : 'even'}"}}`, {
        'X-API-Key': key,
        'Content-Type': 'application/json',
      });
      assert.equal(r.status, 201, r.text);
    }
  });
  after(() => s.stop());

  it('gets one record by exact timestamp, 404 when absent', async () => {
    const r = await get(`time/${base + 7n}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.timestamp, base + 7n);
    assert.deepEqual(r.json.data, { n: 7, tag: 'Odd' });
    assert.equal((await get(`time/${base + 700n}`)).status, 404);
    assert.equal((await get('time/banana')).status, 400);
    assert.equal((await get('time/-3')).status, 400);
  });

  it('oldest and newest with limit; newest is newest-first', async () => {
    const o = await get('oldest?limit=3');
    assert.deepEqual(stamps(o), [base + 1n, base + 2n, base + 3n]);
    assert.equal(o.json.count, 3);
    const n = await get('newest?limit=2');
    assert.deepEqual(stamps(n), [base + 20n, base + 19n]);
    assert.equal((await get('oldest')).json.count, 10, 'default limit 10');
  });

  it('range by start_time/end_time (inclusive), after (exclusive cursor), since', async () => {
    assert.deepEqual(stamps(await get(`range?start_time=${base + 5n}&end_time=${base + 8n}`)), [base + 5n, base + 6n, base + 7n, base + 8n]);
    assert.deepEqual(stamps(await get(`range?after=${base + 17n}`)), [base + 18n, base + 19n, base + 20n]);
    assert.deepEqual(stamps(await get(`range?after=${base + 2n}&limit=2`)), [base + 3n, base + 4n]);
    assert.equal((await get('range?since=24h')).json.count, 0, 'records from 2024 are older than 24h');
    assert.equal((await get('range?since=1000w')).json.count, 20);
    assert.equal((await get('newest?since=1h')).json.count, 0);
  });

  it('include_data=false leaves data out; filter and filter_ignore_case match substrings', async () => {
    const r = await get('oldest?limit=2&include_data=false');
    assert.equal(r.json.objects[0].data, undefined);
    assert.ok(r.json.objects[0].size > 0);
    assert.equal((await get('range?filter=Odd')).json.count, 10);
    assert.equal((await get('range?filter=odd')).json.count, 0);
    assert.equal((await get('range?filter=odd&filter_ignore_case=true')).json.count, 10);
    assert.deepEqual(stamps(await get('newest?filter=even&limit=2')), [base + 20n, base + 18n]);
  });

  it('soft delete hides a record from every read', async () => {
    const del = await api(s.url, 'DELETE', `/api/stores/q/data/time/${base + 3n}`, undefined, { 'X-API-Key': key });
    assert.equal(del.status, 200, del.text);
    assert.equal((await get(`time/${base + 3n}`)).status, 404);
    assert.ok(!stamps(await get('oldest?limit=5')).includes(base + 3n));
    assert.ok(!stamps(await get(`range?start_time=${base}`)).includes(base + 3n));
    assert.equal((await api(s.url, 'DELETE', `/api/stores/q/data/time/${base + 3n}`, undefined, { 'X-API-Key': key })).status, 404);
  });

  it('rejects bad parameters with 400 naming them', async () => {
    const cases: [string, RegExp][] = [
      ['oldest?limit=-1', /invalid limit/],
      ['oldest?limit=0', /invalid limit/],
      ['oldest?limit=abc', /invalid limit/],
      ['range?since=banana', /invalid since/],
      ['range?start_time=yesterday', /invalid start_time/],
      ['range?end_time=-5', /invalid end_time/],
      ['range?after=1.5', /invalid after/],
      ['oldest?include_data=maybe', /invalid include_data/],
      ['oldest?format=tiny', /invalid format/],
      [`range?start_time=${base + 5n}&end_time=${base}`, /invalid end_time/],
    ];
    for (const [q, msg] of cases) {
      const r = await get(q);
      assert.equal(r.status, 400, `${q} → ${r.text}`);
      assert.match(r.json.error, msg, q);
    }
  });

  it('accepts RFC 3339 times for start_time/end_time', async () => {
    const r = await get('range?start_time=2024-01-01T00:00:00Z&end_time=2024-01-01T00:00:01Z');
    assert.equal(r.json.count, 19);
    assert.ok(nowNs() > base);
  });
});
