import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer, type TestServer } from './support/server.js';

const PIPELINE = { main: { inputs: { api: { type: 'rest' } }, stages: [{ type: 'validate' }], sink: { type: 'blockfile', fsync: 'batch' } } };

describe('REST insert after the largest timestamp', () => {
  let s: TestServer;
  let key: string;
  before(async () => {
    s = await startServer({ pipelines: PIPELINE });
    key = await s.createStore('edge', { num_blocks: 4, data_block_size: 256 });
  });
  after(() => s.stop());

  const post = (body: string) => api(s.url, 'POST', '/api/stores/edge/data', body, { 'X-API-Key': key, 'Content-Type': 'application/json' });
  const all = () => api(s.url, 'GET', '/api/stores/edge/data/oldest?limit=1000', undefined, { 'X-API-Key': key });

  it('answers 409 TSS_ERR_TIMESTAMP_ORDER (no timestamp left to assign) and reads return what they did', async () => {
    for (let i = 1; i <= 30; i++) assert.equal((await post(`{"timestamp": ${i}, "data": {"v": ${i}, "pad": "${'x'.repeat(40)}"}}`)).status, 201);
    assert.equal((await post('{"timestamp": 9223372036854775807, "data": {"v": "max"}}')).status, 201);
    const before = await all();
    assert.equal(before.status, 200, before.text);

    const res = await post('{"data": {"v": "next"}}');
    assert.equal(res.status, 409, res.text);
    assert.equal(res.json.code, 'TSS_ERR_TIMESTAMP_ORDER');
    assert.match(res.json.error, /no timestamp left to assign/);

    const afterwards = await all();
    assert.equal(afterwards.text, before.text, 'the oldest block did not disappear');
  });
});
