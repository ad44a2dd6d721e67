import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer, type TestServer } from './support/server.js';

describe('smoke: insert and read back over REST', () => {
  let s: TestServer;
  let key: string;
  before(async () => {
    s = await startServer();
    key = await s.createStore('sensors');
  });
  after(() => s.stop());

  it('keeps a timestamp above 2^53 exact', async () => {
    const body = '{"timestamp": 1704067200000000001, "data": {"temperature": 72.5}}';
    const res = await api(s.url, 'POST', '/api/stores/sensors/data', body, { 'X-API-Key': key, 'Content-Type': 'application/json' });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.timestamp, 1704067200000000001n);
    const back = await api(s.url, 'GET', '/api/stores/sensors/data/time/1704067200000000001', undefined, { 'X-API-Key': key });
    assert.equal(back.status, 200, back.text);
    assert.match(back.text, /"data":\{"temperature": 72.5\}/);
  });
});
