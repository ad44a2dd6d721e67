/**
 * One bad store never stops the server: each damaged store is skipped (or fails at its first
 * open) with an error naming the store and the file, shown by /ready, GET /api/stores and
 * `tsstore status`, while every other store serves. And many stores: data opens on first use,
 * never more than `store.max_open` at once, closed stores answer from their summaries.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseMetrics, metricValue } from './support/prometheus.js';
import { ADMIN_KEY, api, runCli, startServer, tempDir, type TestServer } from './support/server.js';

const admin = { 'X-Admin-Key': ADMIN_KEY };
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** File descriptors of this process open on files under `dir`. */
/**
 * Store data files this process holds open under `dir`: an open store holds exactly its data file.
 * (A checkpoint write also opens its file and the store directory for a moment — not an open store.)
 */
function fdsUnder(dir: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir + path.sep) && path.basename(target) === 'blockfile.data') n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

async function write(
  s: TestServer,
  store: string,
  key: string,
  value: number,
): Promise<{ status: number; text: string; json: { error?: string; code?: string } }> {
  return api(s.url, 'POST', `/api/stores/${store}/data`, { data: { value } }, { 'X-API-Key': key });
}

describe('damaged stores', () => {
  it('are skipped and reported with the store and the file; every other store serves', async () => {
    const dataDir = tempDir('tsstore-damaged-');
    dirs.push(dataDir);
    let s = await startServer({ dataDir });
    const keys: Record<string, string> = {};
    try {
      for (const name of ['good', 'badkeys', 'baddata', 'badschema', 'badmeta']) {
        keys[name] = await s.createStore(name, name === 'badschema' ? { data_type: 'schema' } : {});
        if (name !== 'badschema') assert.equal((await write(s, name, keys[name], 1)).status, 201);
      }
      const schema = await api(s.url, 'PUT', '/api/stores/badschema/schema', { fields: [{ index: 1, name: 'v', type: 'int32' }] }, admin);
      assert.ok(schema.status < 300, schema.text);
    } finally {
      await s.stop();
    }

    fs.writeFileSync(path.join(dataDir, 'badkeys', 'keys.json'), '{"keys": [garbage');
    const dataFile = fs.readdirSync(path.join(dataDir, 'baddata')).find((f) => f.endsWith('.data'))!;
    fs.rmSync(path.join(dataDir, 'baddata', dataFile));
    fs.mkdirSync(path.join(dataDir, 'baddata', dataFile)); // a directory in place of the data file
    fs.writeFileSync(path.join(dataDir, 'badschema', 'schema.json'), '\u0000\u0001 not json');
    fs.writeFileSync(path.join(dataDir, 'badmeta', 'store.json'), '[1,2');

    s = await startServer({ dataDir });
    try {
      // Side-file damage is found at load; the data file's at the store's first open.
      assert.equal((await write(s, 'good', keys.good, 2)).status, 201);
      const data = await write(s, 'baddata', keys.baddata, 2);
      assert.equal(data.status, 503);
      assert.match(data.json.error!, new RegExp(`store baddata is unavailable: .*${dataFile}`));
      const again = await write(s, 'baddata', keys.baddata, 3);
      assert.equal(again.status, 503, 'the failure is remembered, no crash');

      const ready = await api(s.url, 'GET', '/ready', undefined, { 'X-Admin-Key': ADMIN_KEY });
      assert.equal(ready.status, 200, 'damaged stores never make the server unready');
      assert.equal(ready.json.status, 'degraded');
      const reasons = (ready.json.reasons as string[]).join('\n');
      for (const [store, file] of [
        ['badkeys', 'keys.json'],
        ['badschema', 'schema.json'],
        ['badmeta', 'store.json'],
        ['baddata', dataFile],
      ]) {
        assert.match(reasons, new RegExp(`store ${store} is unavailable: .*${file.replace('.', '\\.')}`), reasons);
      }

      const list = await api(s.url, 'GET', '/api/stores', undefined, admin);
      assert.deepEqual(list.json.stores, ['baddata', 'good']);
      assert.deepEqual(
        (list.json.unavailable as { store: string; file: string }[]).map((p) => [p.store, p.file]),
        [
          ['baddata', dataFile],
          ['badkeys', 'keys.json'],
          ['badmeta', 'store.json'],
          ['badschema', 'schema.json'],
        ],
      );

      // Unauthenticated, /ready counts the damaged stores without naming them (store names are not public).
      const anon = await api(s.url, 'GET', '/ready');
      assert.equal(anon.status, 200);
      assert.deepEqual(anon.json.reasons, [
        '4 stores are unavailable (damaged or unreadable files): send the admin key or the metrics token to see which; `tsstore status` and the server log name them too',
      ]);

      // Requests to a skipped store get the reason with the admin key, or with one of its own keys
      // when its keys.json could be read; a key that cannot be checked is answered like a wrong key.
      const skipped = await write(s, 'badkeys', keys.badkeys, 1);
      assert.equal(skipped.status, 401);
      assert.equal(skipped.json.code, 'TSS_ERR_API_KEY_INVALID');
      const byAdmin = await api(s.url, 'POST', '/api/stores/badkeys/data', '{"data":1}', { ...admin, 'Content-Type': 'application/json' });
      assert.equal(byAdmin.status, 503);
      assert.match(byAdmin.json.error!, /store badkeys is unavailable: keys\.json cannot be read: not valid JSON/);
      const ownKey = await write(s, 'badschema', keys.badschema, 1);
      assert.equal(ownKey.status, 503, ownKey.text);
      assert.match(ownKey.json.error!, /store badschema is unavailable: .*schema\.json/);
      const otherKey = await write(s, 'badschema', keys.good, 1);
      assert.equal(otherKey.status, 401, "another store's key learns nothing about a damaged store");
      const stats = await api(s.url, 'GET', '/api/stores/badschema/stats', undefined, admin);
      assert.equal(stats.status, 503);
      assert.match(stats.json.error!, /schema\.json/);
      const create = await api(s.url, 'POST', '/api/stores', { name: 'badmeta' }, admin);
      assert.equal(create.status, 409, "a damaged store is not replaced behind the operator's back");

      const status = await runCli(['status', '--interval', '0ms', '--url', s.url], {
        env: { TSSTORE_ADMIN_KEY: ADMIN_KEY, TSSTORE_DATA_PATH: dataDir },
        timeoutMs: 90_000,
      });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^good\s/m);
      for (const store of ['badkeys', 'badschema', 'badmeta', 'baddata']) assert.match(status.stdout, new RegExp(`UNAVAILABLE  ${store}: `));

      // Repaired data opens at a later request (after the retry delay) — here: deleting works.
      const del = await api(s.url, 'DELETE', '/api/stores/baddata', undefined, { 'X-API-Key': keys.baddata });
      assert.equal(del.status, 200, del.text);
      assert.equal(fs.existsSync(path.join(dataDir, 'baddata')), false);
      const after2 = await api(s.url, 'GET', '/ready', undefined, { 'X-Admin-Key': ADMIN_KEY });
      assert.ok(!(after2.json.reasons as string[]).some((r) => r.includes('baddata')));
    } finally {
      await s.stop();
    }
  });
});

describe('many stores', () => {
  it('open on first use, at most store.max_open at once; closed stores answer from summaries', async () => {
    const dataDir = tempDir('tsstore-many-');
    dirs.push(dataDir);
    const config = { store: { max_open: 3 } };
    let s = await startServer({ dataDir, config });
    const names = Array.from({ length: 8 }, (_, i) => `m${i}`);
    const keys: Record<string, string> = {};
    try {
      for (const n of names) keys[n] = await s.createStore(n, { num_blocks: 16 });
      assert.ok(fdsUnder(dataDir) <= 3, `open files under the data path: ${fdsUnder(dataDir)}`);
      for (let round = 0; round < 2; round++) {
        await Promise.all(
          names.map(async (n, i) => {
            for (let k = 0; k <= i; k++) assert.equal((await write(s, n, keys[n], k)).status, 201);
          }),
        );
        assert.ok(fdsUnder(dataDir) <= 3, `open files under the data path: ${fdsUnder(dataDir)}`);
      }
      const metrics = parseMetrics((await api(s.url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY })).text);
      assert.ok(metricValue(metrics, 'tsstore_stores', { state: 'open' }) <= 3);
      assert.equal(metricValue(metrics, 'tsstore_stores', { state: 'open' }) + metricValue(metrics, 'tsstore_stores', { state: 'closed' }), 8);
      assert.equal(metricValue(metrics, 'tsstore_stores_max_open'), 3);
    } finally {
      await s.stop();
    }

    // After a clean stop every store has a summary: listing, stats, status and /metrics open nothing.
    s = await startServer({ dataDir, config });
    try {
      assert.equal(fdsUnder(dataDir), 0, 'no store data is opened at start');
      assert.deepEqual((await api(s.url, 'GET', '/api/stores', undefined, admin)).json.stores, names);
      for (const [i, n] of names.entries()) {
        const st = await api(s.url, 'GET', `/api/stores/${n}/stats`, undefined, { 'X-API-Key': keys[n] });
        assert.equal(st.status, 200);
        assert.equal(st.json.records, 2 * (i + 1));
      }
      const m = parseMetrics((await api(s.url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY })).text);
      assert.equal(metricValue(m, 'tsstore_store_records', { store: 'm7' }), 16);
      assert.equal(metricValue(m, 'tsstore_stores', { state: 'closed' }), 8);
      assert.equal(fdsUnder(dataDir), 0, 'stats and /metrics of closed stores read summaries only');
      // A write reopens a closed store transparently; reads too.
      assert.equal((await write(s, 'm0', keys.m0, 99)).status, 201);
      const newest = await api(s.url, 'GET', '/api/stores/m1/data/newest?limit=1', undefined, { 'X-API-Key': keys.m1 });
      assert.equal(newest.json.count, 1);
      assert.equal(fdsUnder(dataDir), 2);
      assert.equal(fs.existsSync(path.join(dataDir, 'm0', 'summary.json')), false, 'an open store has no summary');
    } finally {
      await s.stop();
    }
  });
});
