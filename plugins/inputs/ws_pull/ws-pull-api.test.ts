import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkConfig } from 'tsstore';
import { backoffDelay } from 'tsstore/plugin';
import { ADMIN_KEY, api, ROOT, startServer, tempDir, type TestServer } from '../../../test/support/server.js';
import { RemoteFeed } from './test-remote-feed.js';
import { connectionStatus, createConnection, LOOPBACK_ALLOWED, pullPipelines, sleep, waitFor } from './test-support.js';

const post = (s: TestServer, store: string, key: string, body: unknown) =>
  api(s.url, 'POST', `/api/stores/${store}/ws/connections`, body, { 'X-API-Key': key });

describe('ws_pull: connection API', () => {
  let s: TestServer;
  let feed: RemoteFeed;
  let key: string;
  let otherKey: string;
  before(async () => {
    feed = await RemoteFeed.start();
    feed.setMode('silent');
    s = await startServer({ config: LOOPBACK_ALLOWED, pipelines: pullPipelines() });
    key = await s.createStore('api-a');
    otherKey = await s.createStore('api-b');
  });
  after(async () => {
    await s.stop();
    await feed.stop();
  });

  it('creates a connection: 201 with its status, dials the url with the headers, lists and gets it', async () => {
    const res = await post(s, 'api-a', key, { mode: 'pull', url: feed.url, format: 'full', headers: { Authorization: 'Bearer remote-secret' } });
    assert.equal(res.status, 201, res.text);
    const st = res.json;
    assert.match(st.id, /^[0-9a-f-]{36}$/);
    assert.equal(st.mode, 'pull');
    assert.equal(st.url, feed.url);
    assert.equal(st.format, 'full');
    assert.ok(['connecting', 'connected'].includes(st.status), st.status);
    for (const f of ['created_at', 'messages_received', 'errors', 'duplicates']) assert.ok(f in st, `status has ${f}`);
    // Nothing stored and no error yet: those fields are absent, never null (the reference's API types them).
    for (const f of ['last_timestamp', 'cursor', 'last_error', 'last_error_at']) assert.ok(!(f in st), `status has no ${f} yet`);
    assert.ok(!/:null[,}]/.test(res.text), `no null field in ${res.text}`);
    assert.ok(!res.text.includes('remote-secret'), 'header values are not echoed');

    await waitFor('the remote to be dialled', () => feed.handshakes >= 1);
    assert.equal(feed.headersSeen[0].authorization, 'Bearer remote-secret');
    assert.equal(feed.resumeSeen[0], null, 'no cursor yet: no resume parameter');
    const live = await waitFor('connected', async () => {
      const c = await connectionStatus(s.url, 'api-a', key, st.id);
      return c.status === 'connected' && c;
    });
    assert.equal(live.connects, 1);

    const list = await api(s.url, 'GET', '/api/stores/api-a/ws/connections', undefined, { 'X-API-Key': key });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.json.connections.map((c: { id: string }) => c.id),
      [st.id],
    );
    const none = await api(s.url, 'GET', '/api/stores/api-b/ws/connections', undefined, { 'X-API-Key': otherKey });
    assert.deepEqual(none.json.connections, []);
  });

  it('persists connections with mode 0600', async () => {
    const file = path.join(s.dataDir, 'api-a', 'connections.json');
    const st = fs.statSync(file);
    assert.equal(st.mode & 0o777, 0o600);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(doc.connections.length, 1);
    assert.equal(doc.connections[0].headers.Authorization, 'Bearer remote-secret');
  });

  it('answers bad requests with clear 4xx', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ mode: 'pull', url: 'http://127.0.0.1:1/x' }, 400, /ws:\/\/ or wss:\/\//],
      [{ mode: 'pull', url: 'not a url' }, 400, /not a valid URL/],
      [{ mode: 'sideways', url: feed.url }, 400, /unsupported mode "sideways": supported modes are/],
      [{ url: feed.url }, 400, /mode is required/],
      [{ mode: 'pull' }, 400, /url is required/],
      [{ mode: 'pull', url: feed.url, format: 'tiny' }, 400, /format must be "full" or "compact"/],
      [{ mode: 'pull', url: feed.url, headers: ['x'] }, 400, /headers must be an object/],
      [{ mode: 'pull', url: feed.url, headers: { 'Bad Header': 'x' } }, 400, /header "Bad Header" is not valid/],
      [{ mode: 'pull', url: feed.url, headers: { 'X-N': 5 } }, 400, /string value/],
      [{ mode: 'pull', url: feed.url, headers: { 'Sec-WebSocket-Key': 'x' } }, 400, /set by the WebSocket handshake/],
      [{ mode: 'pull', url: feed.url, extra: 1 }, 400, /unknown field "extra"/],
      ['{"mode":', 400, /invalid JSON/],
    ];
    for (const [body, status, message] of cases) {
      const res = await post(s, 'api-a', key, body);
      assert.equal(res.status, status, `${JSON.stringify(body)} → ${res.status} ${res.text}`);
      assert.match(res.json.error, message, JSON.stringify(body));
      assert.ok(res.json.code.startsWith('TSS_ERR_'));
    }
  });

  it("refuses another store's key, a missing key and unknown ids", async () => {
    assert.equal((await post(s, 'api-a', otherKey, { mode: 'pull', url: feed.url })).status, 401);
    assert.equal((await api(s.url, 'GET', '/api/stores/api-a/ws/connections', undefined, { 'X-API-Key': otherKey })).status, 401);
    assert.equal((await api(s.url, 'GET', '/api/stores/api-a/ws/connections')).status, 401);
    const missing = await api(s.url, 'GET', '/api/stores/api-a/ws/connections/nope', undefined, { 'X-API-Key': key });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'TSS_ERR_CONNECTION_NOT_FOUND');
    assert.equal((await api(s.url, 'DELETE', '/api/stores/api-a/ws/connections/nope', undefined, { 'X-API-Key': key })).status, 404);
    const list = await api(s.url, 'GET', '/api/stores/api-a/ws/connections', undefined, { 'X-API-Key': key });
    const id = list.json.connections[0].id as string;
    assert.equal(
      (await api(s.url, 'GET', `/api/stores/api-b/ws/connections/${id}`, undefined, { 'X-API-Key': otherKey })).status,
      404,
      'an id of store A is not visible through store B',
    );
  });

  it('delete stops the connection and removes it from the file', async () => {
    const list = await api(s.url, 'GET', '/api/stores/api-a/ws/connections', undefined, { 'X-API-Key': key });
    const id = list.json.connections[0].id as string;
    assert.equal(feed.live, 1);
    const del = await api(s.url, 'DELETE', `/api/stores/api-a/ws/connections/${id}`, undefined, { 'X-API-Key': key });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.deleted, id);
    await waitFor('the remote to see the close', () => feed.live === 0);
    assert.equal((await api(s.url, 'GET', `/api/stores/api-a/ws/connections/${id}`, undefined, { 'X-API-Key': key })).status, 404);
    const doc = JSON.parse(fs.readFileSync(path.join(s.dataDir, 'api-a', 'connections.json'), 'utf8'));
    assert.deepEqual(doc.connections, []);
    const handshakes = feed.handshakes;
    await sleep(400); // several backoff periods: a deleted connection never redials
    assert.equal(feed.handshakes, handshakes);
  });

  it('deleting the store stops and removes its connections', async () => {
    const key2 = await s.createStore('api-doomed');
    const c = await createConnection(s.url, 'api-doomed', key2, { mode: 'pull', url: feed.url });
    await waitFor('connected', async () => (await connectionStatus(s.url, 'api-doomed', key2, c.id)).status === 'connected');
    const live = feed.live;
    const del = await api(s.url, 'DELETE', '/api/stores/api-doomed', undefined, { 'X-API-Key': key2 });
    assert.equal(del.status, 200, del.text);
    await waitFor('the remote to see the close', () => feed.live === live - 1);
    assert.equal(fs.existsSync(path.join(s.dataDir, 'api-doomed')), false);
    const handshakes = feed.handshakes;
    await sleep(400);
    assert.equal(feed.handshakes, handshakes, 'no redial after the store is gone');
    // A store created again under the same name starts without connections.
    const key3 = await s.createStore('api-doomed');
    const list = await api(s.url, 'GET', '/api/stores/api-doomed/ws/connections', undefined, { 'X-API-Key': key3 });
    assert.deepEqual(list.json.connections, []);
  });

  it('limits connections per store', async () => {
    const s2 = await startServer({ config: LOOPBACK_ALLOWED, pipelines: pullPipelines({ type: 'memory' }, { max_connections_per_store: 2 }) });
    try {
      const k = await s2.createStore('lim');
      await createConnection(s2.url, 'lim', k, { mode: 'pull', url: feed.url });
      await createConnection(s2.url, 'lim', k, { mode: 'pull', url: feed.url });
      const res = await post(s2, 'lim', k, { mode: 'pull', url: feed.url });
      assert.equal(res.status, 409);
      assert.match(res.json.error, /limit is 2/);
    } finally {
      await s2.stop();
    }
  });
});

describe('ws_pull: connections start with the server', () => {
  it('dials persisted connections at start, before any request, and skips unknown stores', async () => {
    const feed = await RemoteFeed.start();
    const dataDir = tempDir();
    try {
      let s = await startServer({ dataDir, config: LOOPBACK_ALLOWED, pipelines: pullPipelines() });
      const key = await s.createStore('boot');
      const c = await createConnection(s.url, 'boot', key, { mode: 'pull', url: feed.url });
      await waitFor('dialled', () => feed.handshakes === 1);
      await s.stop();
      await waitFor('closed by the stop', () => feed.live === 0);

      // A connections file in a directory that is no store, and one that cannot be parsed.
      fs.mkdirSync(path.join(dataDir, 'ghost'));
      fs.writeFileSync(path.join(dataDir, 'ghost', 'connections.json'), fs.readFileSync(path.join(dataDir, 'boot', 'connections.json')));
      const key2 = await (async () => {
        s = await startServer({ dataDir, config: LOOPBACK_ALLOWED, pipelines: pullPipelines() });
        return s.createStore('broken');
      })();
      fs.writeFileSync(path.join(dataDir, 'broken', 'connections.json'), '{"connections": [tor');
      await s.stop();
      const handshakesBefore = feed.handshakes;

      s = await startServer({ dataDir, config: LOOPBACK_ALLOWED, pipelines: pullPipelines() });
      try {
        // No request has been made to this server yet: the remote is dialled on its own.
        await waitFor('the persisted connection to be dialled at start', () => feed.handshakes > handshakesBefore);
        const st = await connectionStatus(s.url, 'boot', key, c.id);
        assert.equal(st.url, feed.url);
        await sleep(300);
        assert.equal(feed.live, 1, "only the real store's connection runs (ghost skipped)");
        const names = fs.readdirSync(path.join(dataDir, 'broken'));
        assert.ok(
          names.some((n) => n.startsWith('connections.json.unreadable-')),
          `unreadable file moved aside: ${names.join(', ')}`,
        );
        const list = await api(s.url, 'GET', '/api/stores/broken/ws/connections', undefined, { 'X-API-Key': key2 });
        assert.deepEqual(list.json.connections, []);
      } finally {
        await s.stop();
      }
    } finally {
      await feed.stop();
    }
  });
});

describe('ws_pull: options and sample', () => {
  it('backs off from min doubling to max with jitter', () => {
    const lo = () => 0;
    const hi = () => 0.999999;
    assert.equal(backoffDelay(0, 1000, 60_000, lo), 1000);
    assert.ok(backoffDelay(0, 1000, 60_000, hi) <= 1200);
    assert.equal(backoffDelay(1, 1000, 60_000, lo), 1600);
    assert.equal(
      backoffDelay(3, 1000, 60_000, () => 0.5),
      8000,
    );
    assert.equal(backoffDelay(10, 1000, 60_000, hi), 60_000);
    assert.equal(backoffDelay(500, 1000, 60_000, lo), 48_000);
  });

  it('sample.yaml is a valid configuration', async () => {
    const file = path.join(ROOT, 'plugins', 'inputs', 'ws_pull', 'sample.yaml');
    const {
      problems,
      pipelines: [{ plan }],
    } = await checkConfig({ file, env: { TSSTORE_ADMIN_KEY: ADMIN_KEY } });
    assert.deepEqual(problems, []);
    const edge = plan.inputs.find((i) => i.id === 'edge');
    assert.equal(edge?.type, 'ws_pull');
    assert.equal(edge?.options.resume_param, 'from');
  });

  it('refuses bad options with their paths', async () => {
    const dir = tempDir();
    await assert.rejects(
      startServer({
        dataDir: dir,
        config: LOOPBACK_ALLOWED,
        pipelines: pullPipelines({ type: 'memory' }, { backoff_min_ms: 5000, backoff_max_ms: 100, resume_param: 'a b' }),
      }),
      (err: Error) => {
        assert.match(err.message, /backoff_max_ms/);
        assert.match(err.message, /resume_param/);
        return true;
      },
    );
  });
});
