/**
 * The reference Go ts-store's HTTP API keeps working for its clients: the store list switch,
 * large `limit`s (streamed in pages, never a 400 up to the reference's 100,000), and the data
 * path flag of `tsstore serve`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseObjects } from '../src/cli/store-data.js';
import { ADMIN_KEY, api, spawnServer, startServer, tempDir, type TestServer } from './support/server.js';

const BASE = 1704067200000000001n;
const COUNT = 25_000;

describe('compatibility with the reference ts-store API', () => {
  let s: TestServer;
  let key: string;

  before(async () => {
    s = await startServer();
    key = await s.createStore('many');
    const body = Array.from({ length: COUNT }, (_, i) => `{"timestamp":${BASE + BigInt(i)},"data":{"i":${i}}}\n`).join('');
    const res = await api(s.url, 'POST', '/api/stores/many/data/batch', body, { 'X-API-Key': key, 'Content-Type': 'application/x-ndjson' });
    assert.equal(res.status, 200, res.text.slice(0, 300));
  });
  after(async () => {
    await s.stop();
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  });

  const get = async (q: string): Promise<{ status: number; records: { timestamp: bigint; dataJson: string }[]; count?: number; text: string }> => {
    const res = await fetch(new URL(`/api/stores/many/data/${q}`, s.url), { headers: { 'X-API-Key': key } });
    const buf = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) return { status: res.status, records: [], text: buf.toString() };
    const count = /"count":(\d+)\}$/.exec(buf.toString('latin1'));
    return { status: res.status, records: parseObjects(buf), count: count ? Number(count[1]) : undefined, text: '' };
  };

  it('answers limits up to 100,000 (streamed in pages), in order, with the right count', async () => {
    const all = await get('oldest?limit=100000');
    assert.equal(all.status, 200);
    assert.equal(all.records.length, COUNT);
    assert.equal(all.count, COUNT);
    all.records.forEach((r, i) => {
      assert.equal(r.timestamp, BASE + BigInt(i));
      assert.equal(r.dataJson, `{"i":${i}}`);
    });
    const newest = await get('newest?limit=15000');
    assert.equal(newest.records.length, 15_000);
    assert.equal(newest.records[0].timestamp, BASE + BigInt(COUNT - 1));
    assert.equal(newest.records[14_999].timestamp, BASE + BigInt(COUNT - 15_000));
    const range = await get(`range?start_time=${BASE + 100n}&end_time=${BASE + 22_099n}&limit=20000`);
    assert.equal(range.records.length, 20_000);
    assert.equal(range.records[19_999].timestamp, BASE + 20_099n);
    const filtered = await get('oldest?limit=50000&filter=%22i%22:1');
    assert.ok(filtered.records.length > 1000 && filtered.records.every((r) => r.dataJson.startsWith('{"i":1')));
    const over = await get('oldest?limit=100001');
    assert.equal(over.status, 400);
    assert.match(over.text, /invalid limit: must be an integer from 1 to 100000/);
  });

  it('GET /api/stores needs the admin key by default; server.public_store_list serves it without one', async () => {
    assert.equal((await api(s.url, 'GET', '/api/stores')).status, 401);
    assert.deepEqual((await api(s.url, 'GET', '/api/stores', undefined, { 'X-Admin-Key': ADMIN_KEY })).json, { stores: ['many'] });
    const open = await startServer({ config: { server: { public_store_list: true } } });
    try {
      await open.createStore('listed');
      const res = await api(open.url, 'GET', '/api/stores');
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { stores: ['listed'] });
    } finally {
      await open.stop();
      fs.rmSync(open.dataDir, { recursive: true, force: true });
    }
  });

  it('tsstore serve --path takes the data path, like create --path', async () => {
    const dataDir = tempDir('tsstore-path-');
    const other = tempDir('tsstore-env-');
    const child = await spawnServer(['--path', dataDir], { TSSTORE_DATA_PATH: other });
    try {
      const res = await api(child.url, 'POST', '/api/stores', { name: 'here' }, { 'X-Admin-Key': ADMIN_KEY });
      assert.equal(res.status, 201, res.text);
      assert.ok(fs.existsSync(path.join(dataDir, 'here', 'store.json')));
      assert.equal(fs.existsSync(path.join(other, 'here')), false);
    } finally {
      child.child.kill('SIGTERM');
      await child.exited;
      for (const d of [dataDir, other]) fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
