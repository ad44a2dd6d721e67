import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer, type TestServer } from './support/server.js';

const JSON_CT = { 'Content-Type': 'application/json' };

describe('REST insert', () => {
  let s: TestServer;
  let key: string;
  const post = (body: string | Buffer, headers: Record<string, string> = JSON_CT, store = 'sensors', k = key) =>
    api(s.url, 'POST', `/api/stores/${store}/data`, body, { 'X-API-Key': k, ...headers });

  before(async () => {
    s = await startServer({
      pipelines: { main: { inputs: { api: { type: 'rest', body_limit: 4096 } }, stages: [{ type: 'validate' }], sink: { type: 'memory' } } },
    });
    key = await s.createStore('sensors');
  });
  after(() => s.stop());

  it('accepts the reference insert example (docs/protocol.md) and answers 201 {timestamp, block_num, size}', async () => {
    const body = '{\n  "timestamp": 1704067200000000000,\n  "data": {"temperature": 72.5, "humidity": 45, "sensor": "living-room"}\n}';
    const res = await post(body);
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(Object.keys(res.json), ['timestamp', 'block_num', 'size']);
    assert.equal(res.json.timestamp, 1704067200000000000n);
    assert.equal(res.json.size, Buffer.byteLength('{"temperature": 72.5, "humidity": 45, "sensor": "living-room"}'));
  });

  it('stores data byte for byte: whitespace, key order, number spelling and unicode escapes survive', async () => {
    const data = '{ "b":1.50,  "a" : [1e3, -0.0, 12345678901234567890], "s":"\\u00e9t\\u00e9 ☀" }';
    const res = await post(`{"timestamp": 1704067200000000001, "data": ${data}}`);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.timestamp, 1704067200000000001n, 'all 19 digits kept');
    const back = await api(s.url, 'GET', '/api/stores/sensors/data/time/1704067200000000001', undefined, { 'X-API-Key': key });
    assert.equal(back.text, `{"timestamp":1704067200000000001,"block_num":${back.json.block_num},"size":${Buffer.byteLength(data)},"data":${data}}`);
  });

  it('rejects a timestamp that is not greater than the newest with 409', async () => {
    const res = await post('{"timestamp": 1704067200000000001, "data": 1}');
    assert.equal(res.status, 409);
    assert.equal(res.json.error, 'timestamp must be greater than newest entry');
    const older = await post('{"timestamp": 5, "data": 1}');
    assert.equal(older.status, 409);
  });

  it('refuses bad envelopes with clear 4xx errors, never 500', async () => {
    const cases: [string, number, RegExp][] = [
      ['{"data": ', 400, /^invalid JSON/],
      ['not json', 400, /^invalid JSON/],
      ['[1,2]', 400, /^invalid JSON: expected an object/],
      ['{"timestamp": 1}', 400, /^data is required$/],
      ['{}', 400, /^data is required$/],
      ['{"timestamp": -5, "data": 1}', 400, /^invalid timestamp/],
      ['{"timestamp": 1.5, "data": 1}', 400, /^invalid timestamp/],
      ['{"timestamp": 1e18, "data": 1}', 400, /^invalid timestamp/],
      ['{"timestamp": "1704067200000000002", "data": 1}', 400, /^invalid timestamp: must be an integer, not a string/],
      ['{"timestamp": 12345678901234567890, "data": 1}', 400, /^invalid timestamp: exceeds the signed 64-bit range/],
      ['{"timestamp": 9223372036854775808, "data": 1}', 400, /^invalid timestamp/],
      ['{"timestamp": true, "data": 1}', 400, /^invalid timestamp/],
    ];
    for (const [body, status, msg] of cases) {
      const res = await post(body);
      assert.equal(res.status, status, `${body} → ${res.text}`);
      assert.match(res.json.error, msg, body);
      assert.match(res.json.code, /^TSS_ERR_/);
    }
  });

  it('refuses an unknown ?format= like the WebSocket input does', async () => {
    const res = await api(s.url, 'POST', '/api/stores/sensors/data?format=wide', '{"data": 1}', { 'X-API-Key': key, ...JSON_CT });
    assert.equal(res.status, 400);
    assert.match(res.json.error, /^invalid format: must be full or compact, got "wide"$/);
    const batch = await api(s.url, 'POST', '/api/stores/sensors/data/batch?format=wide', '{"data": 1}\n', {
      'X-API-Key': key,
      'Content-Type': 'application/x-ndjson',
    });
    assert.equal(batch.status, 400);
  });

  it("checks the Content-Type against the store's data type", async () => {
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
      const res = await post('{"data": 1}', { 'Content-Type': ct });
      assert.equal(res.status, 400);
      assert.match(res.json.error, /^data does not match store's data type/);
    }
    const charset = await post('{"data": 1}', { 'Content-Type': 'application/json; charset=utf-8' });
    assert.equal(charset.status, 201);
  });

  it('answers 413 for a body above the limit', async () => {
    const res = await post(`{"data": "${'x'.repeat(5000)}"}`);
    assert.equal(res.status, 413);
    assert.match(res.json.error, /request body too large/);
  });

  it('answers 401 for missing keys, other keys and unknown stores (an unknown store answers like a wrong key)', async () => {
    const other = await s.createStore('other');
    assert.equal((await post('{"data":1}', JSON_CT, 'sensors', other)).json.error, 'invalid API key');
    assert.equal((await post('{"data":1}', JSON_CT, 'sensors', '')).json.error, 'API key required');
    const unknown = await post('{"data":1}', JSON_CT, 'nope');
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json.error, 'invalid API key');
  });

  it('text and binary stores take raw bodies; their JSON forms are checked', async () => {
    const tkey = await s.createStore('notes', { data_type: 'text' });
    const bkey = await s.createStore('blobs', { data_type: 'binary' });
    const t = await post('héllo world', { 'Content-Type': 'text/plain' }, 'notes', tkey);
    assert.equal(t.status, 201, t.text);
    assert.equal(t.json.size, Buffer.byteLength('héllo world'));
    const tq = await post('second', { 'Content-Type': 'text/plain' }, 'notes', tkey);
    assert.equal(tq.status, 201);
    const wrong = await post('{"data":"x"}', JSON_CT, 'notes', tkey);
    assert.match(wrong.json.error, /^data does not match store's data type/);
    const empty = await post('', { 'Content-Type': 'text/plain' }, 'notes', tkey);
    assert.equal(empty.status, 400);
    assert.match(empty.json.error, /^data is required/);
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const b = await post(bytes, { 'Content-Type': 'application/octet-stream' }, 'blobs', bkey);
    assert.equal(b.status, 201);
    assert.equal(b.json.size, 5);
    const list = await api(s.url, 'GET', '/api/stores/blobs/data/oldest', undefined, { 'X-API-Key': bkey });
    assert.equal(list.json.objects[0].data, bytes.toString('base64'));
    const notes = await api(s.url, 'GET', '/api/stores/notes/data/oldest', undefined, { 'X-API-Key': tkey });
    assert.deepEqual(
      notes.json.objects.map((o: { data: string }) => o.data),
      ['héllo world', 'second'],
    );
    const ts = await post('with ts', { 'Content-Type': 'text/plain' }, 'notes', tkey);
    assert.equal(ts.status, 201);
    const bad = await api(s.url, 'POST', '/api/stores/notes/data?timestamp=-1', 'x', { 'X-API-Key': tkey, 'Content-Type': 'text/plain' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /invalid timestamp/);
  });

  it('assigns strictly increasing timestamps to 16 parallel clients posting without timestamps', async () => {
    const k = await s.createStore('burst');
    const perClient = 40;
    const clients = Array.from({ length: 16 }, async (_, c) => {
      const got: bigint[] = [];
      for (let i = 0; i < perClient; i++) {
        const r = await api(s.url, 'POST', '/api/stores/burst/data', `{"data":{"c":${c},"i":${i}}}`, { 'X-API-Key': k, ...JSON_CT });
        assert.equal(r.status, 201, r.text);
        got.push(r.json.timestamp as bigint);
      }
      return got;
    });
    const all = (await Promise.all(clients)).flat();
    assert.equal(all.length, 16 * perClient);
    assert.equal(new Set(all.map(String)).size, all.length, 'no duplicate timestamps');
    const stats = await api(s.url, 'GET', '/api/stores/burst/stats', undefined, { 'X-API-Key': k });
    assert.equal(stats.json.records, 16 * perClient, 'zero rejections, all stored');
    const listed = await api(s.url, 'GET', '/api/stores/burst/data/oldest?limit=10000&include_data=false', undefined, { 'X-API-Key': k });
    const ts = listed.json.objects.map((o: { timestamp: bigint }) => o.timestamp) as bigint[];
    for (let i = 1; i < ts.length; i++) assert.ok(ts[i] > ts[i - 1], 'strictly increasing in store order');
  });
});
