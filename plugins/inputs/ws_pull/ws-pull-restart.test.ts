import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { spawnServer, startServer, tempDir, writeConfig } from '../../../test/support/server.js';
import { FEED_BASE, RemoteFeed } from './test-remote-feed.js';
import { allRecords, connectionStatus, createConnection, feedProblems, LOOPBACK_ALLOWED, pullPipelines, waitFor } from './test-support.js';

const BLOCKFILE = { type: 'blockfile' };

describe('ws_pull: exactly once across tsstore restarts (blockfile sink)', () => {
  it('a graceful restart in mid-stream saves the exact cursor and resumes from it', async () => {
    const feed = await RemoteFeed.start();
    const dataDir = tempDir();
    try {
      feed.closeAfter = 1500;
      feed.produce(6000);
      let s = await startServer({ dataDir, config: LOOPBACK_ALLOWED, pipelines: pullPipelines(BLOCKFILE) });
      const key = await s.createStore('restart', { num_blocks: 256, data_block_size: 4096 });
      const c = await createConnection(s.url, 'restart', key, { mode: 'pull', url: feed.url });
      await waitFor('a part of the stream', async () => (await connectionStatus(s.url, 'restart', key, c.id)).records_stored >= 1000);
      await s.stop(); // while records are still arriving

      const file = path.join(dataDir, 'restart', 'connections.json');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const saved = /"cursor": (\d+)/.exec(fs.readFileSync(file, 'utf8'));
      assert.ok(saved, 'a cursor is saved');
      const cursor = BigInt(saved[1]);
      const storedAtStop = Number(cursor - FEED_BASE);
      assert.ok(storedAtStop >= 1000 && storedAtStop <= 6000, `cursor ${cursor}`);

      // Restart while the remote is down: the store holds exactly records 1..cursor.
      await feed.stop();
      feed.produce(200);
      const handshakes = feed.handshakes;
      s = await startServer({ dataDir, config: LOOPBACK_ALLOWED, pipelines: pullPipelines(BLOCKFILE) });
      try {
        assert.equal(feedProblems(await allRecords(s.url, 'restart', key), storedAtStop), undefined);
        await waitFor('a refused redial', async () => /ECONNREFUSED/.test(String((await connectionStatus(s.url, 'restart', key, c.id)).last_error)));
        await feed.restart();
        await waitFor('6200 records', async () => (await connectionStatus(s.url, 'restart', key, c.id)).cursor === FEED_BASE + 6200n, 30_000);
        assert.equal(feed.resumeSeen[handshakes], String(cursor), 'the first dial after the restart offers the saved cursor');
        assert.equal(feedProblems(await allRecords(s.url, 'restart', key), 6200), undefined);
      } finally {
        await s.stop();
      }
    } finally {
      await feed.stop();
    }
  });

  it('kill -9 while streaming loses nothing and duplicates nothing', async () => {
    const feed = await RemoteFeed.start();
    const dataDir = tempDir();
    const cfgDir = tempDir('tsstore-cfg-');
    const config = writeConfig(cfgDir, {
      ...LOOPBACK_ALLOWED,
      pipelines: pullPipelines(BLOCKFILE, { persist_interval_ms: 200, ping_interval_ms: 1000, pong_timeout_ms: 5000 }),
    });
    const env = { TSSTORE_DATA_PATH: dataDir, TSSTORE_CONFIG: config };
    try {
      feed.produce(20_000);
      let child = await spawnServer(['--no-socket'], env);
      try {
        const res = await fetch(new URL('/api/stores', child.url), {
          method: 'POST',
          headers: { 'X-Admin-Key': 'test-admin-key-0123456789abcdef', 'Content-Type': 'application/json' },
          body: JSON.stringify({ name: 'crash', num_blocks: 1024, data_block_size: 4096 }),
        });
        assert.equal(res.status, 201);
        const key = ((await res.json()) as { api_key: string }).api_key;
        const c = await createConnection(child.url, 'crash', key, { mode: 'pull', url: feed.url });
        await waitFor('a part of the stream stored', async () => {
          const r = await fetch(new URL('/api/stores/crash/data/newest?limit=1&include_data=false', child.url), { headers: { 'X-API-Key': key } });
          const text = await r.text();
          const m = /"timestamp":(\d+)/.exec(text);
          return m !== null && BigInt(m[1]) - FEED_BASE >= 3000n;
        });
        child.child.kill('SIGKILL');
        await child.exited;

        feed.produce(1000);
        child = await spawnServer(['--no-socket'], env);
        const url = child.url;
        await waitFor('21000 records', async () => (await allRecords(url, 'crash', key)).length >= 21_000, 40_000);
        assert.equal(feedProblems(await allRecords(url, 'crash', key), 21_000), undefined);
        // The saved cursor lags the store after a crash: the replay between them is refused by the
        // store as not newer and counted as duplicates, never stored twice, never an error.
        const st = await connectionStatus(url, 'crash', key, c.id);
        assert.ok(st.duplicates >= 1, `duplicates ${st.duplicates}`);
        assert.equal(st.errors, 0, String(st.last_error));
      } finally {
        child.child.kill('SIGKILL');
        await child.exited;
      }
    } finally {
      await feed.stop();
    }
  });
});
