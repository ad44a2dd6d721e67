/**
 * Schema stores through every input method: the value x type table and the shape table give the
 * same outcome and the same error text through each sender; accepted values read back byte for
 * byte, expanded and compact; full -> compact -> full round trips exactly.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, startServer, tempDir, type TestServer } from './support/server.js';
import { fieldIndex, SHAPE_CASES, TABLE_SCHEMA, VALUE_CASES } from './support/schema-cases.js';
import { restBatch, restSingle, show, unixSocket, webSocket, wsPull, type Sender, type SendResult, type SendTarget } from './support/schema-senders.js';

const SENDERS: readonly Sender[] = [restSingle, restBatch, webSocket, unixSocket, wsPull];

/** The `data` member of a single-record read, as raw text. */
function dataText(body: string): string {
  const m = /,"data":(.*)\}$/s.exec(body);
  assert.ok(m, `no data in ${body}`);
  return m[1];
}

async function readBack(t: SendTarget, ts: bigint, format: 'full' | 'compact'): Promise<string> {
  const res = await api(t.url, 'GET', `/api/stores/${t.store}/data/time/${ts}?format=${format}`, undefined, { 'X-API-Key': t.key });
  assert.equal(res.status, 200, res.text);
  return dataText(res.text);
}

/** Every record of a store: timestamp -> raw `data` text, from one range read. */
async function readAll(t: SendTarget, format: 'full' | 'compact'): Promise<Map<bigint, string>> {
  const res = await api(t.url, 'GET', `/api/stores/${t.store}/data/oldest?limit=10000&format=${format}`, undefined, { 'X-API-Key': t.key });
  assert.equal(res.status, 200, res.text);
  const out = new Map<bigint, string>();
  for (const m of res.text.matchAll(/\{"timestamp":(\d+),"block_num":\d+,"size":\d+,"data":(\{[^{}]*\})\}/g)) out.set(BigInt(m[1]), m[2]);
  assert.equal(out.size, res.json.count, 'every record parsed');
  return out;
}

async function sendOne(sender: Sender, t: SendTarget, data: string, format: 'full' | 'compact'): Promise<SendResult> {
  const [r] = await sender.send(t, [data], format);
  return r;
}

describe('schema stores through every input', () => {
  let s: TestServer;
  let n = 0;
  const socketPath = path.join(tempDir('tsstore-sock-'), 'tsstore.sock');
  // The outbound-pull sender's remote listens on 127.0.0.1, which the default allow-list refuses.
  before(async () => {
    s = await startServer({ socketPath, config: { outbound: { allow: ['127.0.0.1'] } } });
  });
  after(() => s.stop());

  async function tableStore(): Promise<SendTarget> {
    const store = `table${++n}`;
    const key = await s.createStore(store, { data_type: 'schema' });
    const res = await api(s.url, 'PUT', `/api/stores/${store}/schema`, TABLE_SCHEMA, { 'X-API-Key': key });
    assert.equal(res.status, 200, res.text);
    return { url: s.url, store, key, socketPath };
  }

  const outcomes = new Map<string, string[]>();

  for (const sender of SENDERS) {
    for (const format of sender.formats) {
      it(`${sender.name} (${format}): every value x type case is accepted or rejected exactly`, async () => {
        const t = await tableStore();
        const seen: string[] = [];
        const data = VALUE_CASES.map((c) => `{${JSON.stringify(format === 'full' ? `f_${c.type}` : String(fieldIndex(c.type)))}:${c.token}}`);
        const shapes = SHAPE_CASES.filter((x) => x.format === format);
        const results = await sender.send(t, [...data, ...shapes.map((x) => x.data)], format);
        const full = await readAll(t, 'full');
        const compact = await readAll(t, 'compact');
        VALUE_CASES.forEach((c, i) => {
          const r = results[i];
          const label = `${c.type} ${c.token}`;
          if (c.error === undefined) {
            assert.ok(r.ok, `${label} accepted: ${show(r)}`);
            assert.equal(full.get(r.timestamp), `{"f_${c.type}":${c.token}}`, label);
            assert.equal(compact.get(r.timestamp), `{"${fieldIndex(c.type)}":${c.token}}`, label);
            seen.push('ok');
          } else {
            assert.ok(!r.ok, `${label} rejected`);
            assert.equal(r.message, c.error, label);
            seen.push(r.message);
          }
        });
        shapes.forEach((c, i) => {
          const r = results[VALUE_CASES.length + i];
          assert.ok(!r.ok, c.name);
          assert.equal(r.message, c.error, c.name);
          seen.push(r.message);
        });
        assert.equal(full.size, seen.filter((x) => x === 'ok').length, 'nothing rejected was stored');
        const first = outcomes.get(format);
        if (first) assert.deepEqual(seen, first, `${sender.name} answers like the first input`);
        else outcomes.set(format, seen);
      });
    }
  }

  for (const sender of SENDERS) {
    it(`${sender.name}: a store without a schema refuses inserts with a clear error`, async () => {
      const store = `bare${++n}`;
      const key = await s.createStore(store, { data_type: 'schema' });
      const r = await sendOne(sender, { url: s.url, store, key, socketPath }, '{"a":1}', 'full');
      assert.ok(!r.ok);
      assert.equal(r.message, `store has no schema: set one with PUT /api/stores/${store}/schema or with tsstore schema set ${store} FILE, before inserting`);
    });
  }

  for (const sender of SENDERS.filter((x) => x.formats.includes('compact'))) {
    it(`${sender.name}: full -> compact -> full round trips byte for byte`, async () => {
      const a = await tableStore();
      const b = await tableStore();
      const full =
        '{"f_int8":-128,"f_int64":9223372036854775807,"f_uint64":18446744073709551615,"f_float32":72.50,' +
        '"f_float64":9007199254740993,"f_bool":false,"f_string":"x\\ty"}';
      const r1 = await sendOne(sender, a, full, 'full');
      assert.ok(r1.ok, show(r1));
      const compact = await readBack(a, r1.timestamp, 'compact');
      assert.equal(compact, '{"1":-128,"4":9223372036854775807,"8":18446744073709551615,"9":72.50,"10":9007199254740993,"11":false,"12":"x\\ty"}');
      const r2 = await sendOne(sender, b, compact, 'compact');
      assert.ok(r2.ok, show(r2));
      assert.equal(await readBack(b, r2.timestamp, 'full'), full);
      assert.equal(await readBack(b, r2.timestamp, 'compact'), compact);
      // Whitespace and member order are the client's; the stored record is canonical.
      const r3 = await sendOne(sender, a, ' { "f_string" : "x\\ty" , "f_int8":-128 } ', 'full');
      assert.ok(r3.ok, show(r3));
      assert.equal(await readBack(a, r3.timestamp, 'full'), '{"f_int8":-128,"f_string":"x\\ty"}');
    });
  }

  it('filters match the expanded text; format=compact and a bad format on reads', async () => {
    const t = await tableStore();
    for (const d of ['{"f_string":"kitchen","f_uint8":1}', '{"f_string":"garage","f_uint8":2}']) {
      const r = await sendOne(restSingle, t, d, 'full');
      assert.ok(r.ok);
    }
    const h = { 'X-API-Key': t.key };
    const byName = await api(s.url, 'GET', `/api/stores/${t.store}/data/oldest?filter=${encodeURIComponent('"f_string":"garage"')}`, undefined, h);
    assert.equal(byName.status, 200, byName.text);
    assert.equal(byName.json.count, 1);
    assert.match(byName.text, /"data":\{"f_uint8":2,"f_string":"garage"\}/);
    const compact = await api(s.url, 'GET', `/api/stores/${t.store}/data/newest?format=compact&limit=1`, undefined, h);
    assert.match(compact.text, /"data":\{"5":2,"12":"garage"\}/);
    const bad = await api(s.url, 'GET', `/api/stores/${t.store}/data/newest?format=short`, undefined, h);
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /invalid format/);
  });
});
