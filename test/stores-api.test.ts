import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_KEY, api, startServer, type TestServer } from './support/server.js';

const admin = { 'X-Admin-Key': ADMIN_KEY };

describe('stores and keys over REST', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.stop());

  it('lists an empty catalog as [] and needs the admin key', async () => {
    const list = await api(s.url, 'GET', '/api/stores', undefined, admin);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, { stores: [] });
    const none = await api(s.url, 'GET', '/api/stores');
    assert.equal(none.status, 401);
    assert.equal(none.json.error, 'admin key required');
  });

  it('creates a store: 201 with name, api_key, key_id; key kept only as a SHA-256 hash in a 0600 keys.json', async () => {
    const res = await api(s.url, 'POST', '/api/stores', { name: 'alpha' }, admin);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.name, 'alpha');
    assert.match(res.json.api_key, /^tsstore_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(res.json.key_id, res.json.api_key.slice(8, 16));
    const keysFile = path.join(s.dataDir, 'alpha', 'keys.json');
    assert.equal(fs.statSync(keysFile).mode & 0o777, 0o600);
    const text = fs.readFileSync(keysFile, 'utf8');
    assert.ok(!text.includes(res.json.api_key), 'the key itself must not be stored');
    assert.match(text, /"hash": "[0-9a-f]{64}"/);
    const list = await api(s.url, 'GET', '/api/stores?admin_key=' + ADMIN_KEY);
    assert.deepEqual(list.json, { stores: ['alpha'] });
  });

  it('refuses bad admin keys, names, sizes and types with the spec messages', async () => {
    const cases: [Record<string, unknown>, Record<string, string>, number, RegExp][] = [
      [{ name: 'x1' }, {}, 401, /^admin key required$/],
      [{ name: 'x1' }, { 'X-Admin-Key': 'wrong-admin-key-0000000' }, 401, /^invalid admin key$/],
      [{ name: '../etc' }, admin, 400, /invalid store name/],
      [{ name: '../x' }, admin, 400, /invalid store name/],
      [{ name: '' }, admin, 400, /invalid store name/],
      [{ name: 'a'.repeat(65) }, admin, 400, /invalid store name/],
      [{ name: 'ok1', data_block_size: 100 }, admin, 400, /data_block_size: must be a power of two/],
      [{ name: 'ok2', index_block_size: 32 }, admin, 400, /index_block_size/],
      [{ name: 'ok3', num_blocks: 0 }, admin, 400, /num_blocks/],
      [{ name: 'ok4', data_type: 'xml' }, admin, 400, /data_type: must be one of json, text, binary, schema/],
      [{ name: 'alpha' }, admin, 409, /^store already exists$/],
    ];
    for (const [body, headers, status, msg] of cases) {
      const res = await api(s.url, 'POST', '/api/stores', body, headers);
      assert.equal(res.status, status, `${JSON.stringify(body)} → ${res.text}`);
      assert.match(res.json.error, msg);
    }
    const bad = await api(s.url, 'POST', '/api/stores', '{"name": ', { ...admin, 'Content-Type': 'application/json' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /invalid JSON/);
    assert.ok(!fs.existsSync(path.join(s.dataDir, 'ok1')), 'a refused store leaves nothing behind');
  });

  it('takes the store key from X-API-Key, Authorization: Bearer, then ?api_key=, with the spec 401 messages', async () => {
    const a = (await api(s.url, 'POST', '/api/stores', { name: 'keys-a' }, admin)).json.api_key as string;
    const b = (await api(s.url, 'POST', '/api/stores', { name: 'keys-b' }, admin)).json.api_key as string;
    const stats = (headers: Record<string, string>, q = '') => api(s.url, 'GET', `/api/stores/keys-a/stats${q}`, undefined, headers);
    assert.equal((await stats({ 'X-API-Key': a })).status, 200);
    assert.equal((await stats({ Authorization: `Bearer ${a}` })).status, 200);
    assert.equal((await stats({}, `?api_key=${a}`)).status, 200);
    // X-API-Key wins over the others
    assert.equal((await stats({ 'X-API-Key': b, Authorization: `Bearer ${a}` })).json.error, 'invalid API key');
    assert.equal((await stats({ 'X-API-Key': a }, `?api_key=${b}`)).status, 200);
    const e = async (h: Record<string, string>, q = '') => (await stats(h, q)).json.error;
    assert.equal(await e({}), 'API key required');
    assert.equal(await e({ 'X-API-Key': a.slice(0, 20) }), 'invalid API key format');
    assert.equal(await e({ 'X-API-Key': 'not-a-key' }), 'invalid API key format');
    assert.equal(await e({ 'X-API-Key': b }), 'invalid API key', "store B's key never opens store A");
    assert.equal(await e({ 'X-API-Key': 'tsstore_00000000-0000-4000-8000-000000000000' }), 'invalid API key');
    const unknown = await api(s.url, 'GET', '/api/stores/nope/stats', undefined, { 'X-API-Key': a });
    assert.equal(unknown.status, 401, 'a store key cannot probe for store names');
    assert.equal(unknown.json.error, 'invalid API key');
  });

  it('stats, reset and delete with the store key', async () => {
    const key = (await api(s.url, 'POST', '/api/stores', { name: 'life', num_blocks: 16, data_block_size: 1024 }, admin)).json.api_key as string;
    const h = { 'X-API-Key': key };
    for (let i = 1; i <= 3; i++) {
      const r = await api(s.url, 'POST', '/api/stores/life/data', { timestamp: i, data: { i } }, h);
      assert.equal(r.status, 201, r.text);
    }
    const st = await api(s.url, 'GET', '/api/stores/life/stats', undefined, h);
    assert.equal(st.status, 200);
    assert.equal(st.json.name, 'life');
    assert.equal(st.json.records, 3);
    assert.equal(st.json.num_blocks, 16);
    assert.equal(st.json.data_block_size, 1024);
    const reset = await api(s.url, 'POST', '/api/stores/life/reset', undefined, h);
    assert.equal(reset.status, 200);
    assert.equal((await api(s.url, 'GET', '/api/stores/life/data/oldest', undefined, h)).json.count, 0);
    const del = await api(s.url, 'DELETE', '/api/stores/life', undefined, h);
    assert.equal(del.status, 200);
    assert.equal((await api(s.url, 'GET', '/api/stores/life/stats', undefined, h)).status, 401, 'its key died with it');
    assert.ok(!fs.existsSync(path.join(s.dataDir, 'life')));
  });

  it('manages keys through the admin API: list, regenerate, revoke take effect at once', async () => {
    const first = (await api(s.url, 'POST', '/api/stores', { name: 'rot' }, admin)).json;
    const ok = (k: string) => api(s.url, 'GET', '/api/stores/rot/stats', undefined, { 'X-API-Key': k });
    const listed = await api(s.url, 'GET', '/api/stores/rot/keys', undefined, admin);
    assert.deepEqual(
      listed.json.keys.map((k: { key_id: string }) => k.key_id),
      [first.key_id],
    );
    const regen = await api(s.url, 'POST', '/api/stores/rot/keys/regenerate', undefined, admin);
    assert.equal(regen.status, 201);
    assert.equal((await ok(first.api_key)).status, 401);
    assert.equal((await ok(regen.json.api_key)).status, 200);
    const revoke = await api(s.url, 'DELETE', `/api/stores/rot/keys/${regen.json.key_id}`, undefined, admin);
    assert.equal(revoke.status, 200);
    assert.equal((await ok(regen.json.api_key)).json.error, 'invalid API key');
    assert.equal((await api(s.url, 'DELETE', '/api/stores/rot/keys/deadbeef', undefined, admin)).status, 404);
    assert.equal((await api(s.url, 'GET', '/api/stores/rot/keys', undefined, { 'X-API-Key': first.api_key })).status, 401);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await api(s.url, 'GET', '/api/nothing-here');
    assert.equal(res.status, 404);
    assert.match(res.json.error, /no route/);
  });
});
