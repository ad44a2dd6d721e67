import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer, type TestServer } from '../../../test/support/server.js';

describe('REST batch insert', () => {
  let s: TestServer;
  let key: string;
  const post = (body: string, type: string, store = 'batch', k = key) =>
    api(s.url, 'POST', `/api/stores/${store}/data/batch`, body, { 'X-API-Key': k, 'Content-Type': type });

  before(async () => {
    s = await startServer({
      pipelines: { main: { inputs: { api: { type: 'rest', batch_body_limit: 64 * 1024 } }, stages: [{ type: 'validate' }], sink: { type: 'blockfile' } } },
    });
    key = await s.createStore('batch', { num_blocks: 4096 });
  });
  after(() => s.stop());

  it('takes NDJSON and answers per record: one bad record does not reject the others', async () => {
    const body = [
      '{"timestamp": 1704067200000000001, "data": {"a": 1}}',
      '{"data": ',
      '',
      '{"timestamp": 1704067200000000001, "data": {"dup": true}}',
      '{"timestamp": 1704067200000000002, "data": [1, 2,  3]}\r',
      '{"nodata": 1}',
      '{"timestamp": "soon", "data": 1}',
      '{"data": "server time"}',
    ].join('\n');
    const res = await post(body, 'application/x-ndjson');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.accepted, 3);
    assert.equal(res.json.rejected, 4);
    const r = res.json.results;
    assert.deepEqual(
      r.map((x: { index: number }) => x.index),
      [0, 1, 2, 3, 4, 5, 6],
    );
    assert.equal(r[0].timestamp, 1704067200000000001n);
    assert.equal(r[1].code, 'TSS_ERR_INVALID_JSON');
    assert.match(r[1].error, /^invalid JSON/);
    assert.equal(r[2].code, 'TSS_ERR_TIMESTAMP_ORDER');
    assert.equal(r[2].error, 'timestamp must be greater than newest entry');
    assert.equal(r[3].timestamp, 1704067200000000002n);
    assert.equal(r[3].size, 10);
    assert.equal(r[4].error, 'data is required');
    assert.equal(r[5].code, 'TSS_ERR_TIMESTAMP_INVALID');
    assert.ok(r[6].timestamp > 1704067200000000002n);
    const back = await api(s.url, 'GET', '/api/stores/batch/data/time/1704067200000000002', undefined, { 'X-API-Key': key });
    assert.ok(back.text.endsWith('"data":[1, 2,  3]}'), back.text);
  });

  it("takes a JSON array; a malformed element is that element's error only", async () => {
    const body = '[ {"timestamp": 1804067200000000001, "data": {"s": "a,]}\\"b"}}, {"data": }, 42, {"data": {"n": [1, {"x": 2}]}} ,, {"data": null} ]';
    const res = await post(body, 'application/json');
    assert.equal(res.status, 200, res.text);
    const r = res.json.results;
    assert.equal(r.length, 6);
    assert.equal(r[0].timestamp, 1804067200000000001n);
    assert.equal(r[0].size, '{"s": "a,]}\\"b"}'.length);
    assert.match(r[1].error, /^invalid JSON/);
    assert.match(r[2].error, /^invalid JSON: expected an object/);
    assert.ok(r[3].timestamp > 1804067200000000001n);
    assert.match(r[4].error, /^invalid JSON: empty array element/);
    assert.ok(r[5].timestamp > r[3].timestamp);
    assert.equal(res.json.accepted, 3);
    assert.equal(res.json.rejected, 3);
  });

  it('answers an empty batch with no results', async () => {
    for (const [body, type] of [
      ['[]', 'application/json'],
      ['\n\n', 'application/x-ndjson'],
    ]) {
      const res = await post(body, type);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.text, '{"results":[],"accepted":0,"rejected":0}');
    }
  });

  it('refuses whole requests only for request-level problems', async () => {
    const notArray = await post('{"data": 1}', 'application/json');
    assert.equal(notArray.status, 400);
    assert.match(notArray.json.error, /must be a JSON array of envelopes or NDJSON/);
    const open = await post('[{"data": 1}', 'application/json');
    assert.equal(open.status, 400);
    assert.match(open.json.error, /not closed/);
    // A wrong Content-Type is the same 400 on batch and single inserts.
    const media = await post('{"data": 1}', 'text/plain');
    assert.equal(media.status, 400);
    assert.equal(media.json.code, 'TSS_ERR_DATA_TYPE_MISMATCH');
    const single = await api(s.url, 'POST', '/api/stores/batch/data', '{"data": 1}', { 'X-API-Key': key, 'Content-Type': 'text/plain' });
    assert.equal(single.status, media.status);
    assert.equal(single.json.code, media.json.code);
    const big = await post(`[${Array.from({ length: 3000 }, (_, i) => `{"data": {"i": ${i}, "pad": "xxxxxxxxxxxxxxxxxxxx"}}`).join(',')}]`, 'application/json');
    assert.equal(big.status, 413);
    assert.match(big.json.error, /request body too large: the limit is 65536 bytes/);
    const badKey = await post('[]', 'application/json', 'batch', 'tsstore_00000000-0000-4000-8000-000000000000');
    assert.equal(badKey.status, 401);
  });

  it('stores every accepted record of a 1000-record batch, in order', async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `{"data": {"seq": ${i}}}`).join('\n');
    const res = await post(lines, 'application/x-ndjson');
    assert.equal(res.status, 200);
    assert.equal(res.json.accepted, 1000);
    const stamps = res.json.results.map((x: { timestamp: bigint }) => x.timestamp);
    for (let i = 1; i < stamps.length; i++) assert.ok(stamps[i] > stamps[i - 1]);
    const read = await api(
      s.url,
      'GET',
      `/api/stores/batch/data/range?start_time=${stamps[0]}&end_time=${stamps[999]}&limit=1000&include_data=true`,
      undefined,
      { 'X-API-Key': key },
    );
    assert.equal(read.status, 200, read.text);
    assert.equal(read.json.count, 1000);
    assert.deepEqual(
      read.json.objects.map((o: { data: { seq: number } }) => o.data.seq),
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it("takes text stores' data as JSON strings", async () => {
    const textKey = await s.createStore('notes', { data_type: 'text' });
    const res = await post('{"data": "hello"}\n{"data": 5}', 'application/x-ndjson', 'notes', textKey);
    assert.equal(res.status, 200);
    assert.equal(res.json.results[0].size, 5);
    assert.equal(res.json.results[1].code, 'TSS_ERR_DATA_TYPE_MISMATCH');
  });
});
