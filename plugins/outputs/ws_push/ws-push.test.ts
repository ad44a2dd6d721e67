/**
 * Outbound push connections on real servers into a real WebSocket receiver: the API (create,
 * list with pull connections, get, delete, persistence 0600, validation), order and exact
 * timestamps, filter and schema formats, resume without gaps after the remote restarts and after
 * tsstore is killed (kill -9), and bad input: unreachable remote, a remote that never reads, a
 * remote that closes at once every time, a store deleted while its push connections run.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until } from '../../../test/support/clients.js';
import { ADMIN_KEY, api, spawnServer, startServer, tempDir, type TestServer, writeConfig } from '../../../test/support/server.js';
import { Receiver } from './test-receiver.js';
import { createPush, LOOPBACK_ALLOWED, pushPipelines, pushStatus, write } from './test-support.js';

const T0 = 1704067200000000000n;
const lines = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `{"timestamp":${T0 + BigInt(from + i)},"data":{"n":${from + i}}}`);
const tsRange = (from: number, n: number): bigint[] => Array.from({ length: n }, (_, i) => T0 + BigInt(from + i));

describe('ws_push output: API and delivery', () => {
  let srv: TestServer;
  let rx: Receiver;
  before(async () => {
    rx = await Receiver.start();
    srv = await startServer({ pipelines: pushPipelines(), config: LOOPBACK_ALLOWED });
  });
  after(async () => {
    await srv?.stop();
    await rx?.stop();
  });

  it('creates, lists (with pull connections), fetches and deletes push connections; persisted 0600', async () => {
    const key = await srv.createStore('api');
    const c = await createPush(srv.url, 'api', key, {
      url: rx.url,
      from: 0,
      format: 'full',
      headers: { Authorization: 'Bearer secret' },
      filter: 'x',
      filter_ignore_case: true,
    });
    assert.equal(c.mode, 'push');
    assert.equal(c.url, rx.url);
    assert.equal(c.format, 'full');
    assert.equal(c.filter, 'x');
    assert.equal(c.filter_ignore_case, true);
    assert.equal(typeof c.status, 'string');
    assert.equal(c.messages_sent, 0);
    assert.equal(c.errors, 0);
    assert.deepEqual(c.header_names, ['Authorization']);
    assert.ok(!('from' in c), 'from 0 is omitted as the reference does');
    for (const [k, v] of Object.entries(c)) assert.notEqual(v, null, `${k} is null`);
    await until(() => rx.headersSeen.some((h) => h.authorization === 'Bearer secret'), 10_000, 'the handshake with the configured header');

    const pull = await api(srv.url, 'POST', '/api/stores/api/ws/connections', { mode: 'pull', url: rx.url }, { 'X-API-Key': key });
    assert.equal(pull.status, 201, pull.text);
    const list = await api(srv.url, 'GET', '/api/stores/api/ws/connections', undefined, { 'X-API-Key': key });
    assert.equal(list.json.count, 2);
    assert.deepEqual((list.json.connections as { mode: string }[]).map((x) => x.mode).sort(), ['pull', 'push']);

    const file = path.join(srv.dataDir, 'api', 'push-connections.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(file, 'utf8'), /Bearer secret/);
    const cursor = path.join(srv.dataDir, 'api', 'outputs', `push-${c.id as string}.json`);
    await until(() => fs.existsSync(cursor), 10_000, 'the cursor file');
    assert.equal(fs.statSync(cursor).mode & 0o777, 0o600);

    const del = await api(srv.url, 'DELETE', `/api/stores/api/ws/connections/${c.id as string}`, undefined, { 'X-API-Key': key });
    assert.equal(del.status, 200, del.text);
    assert.equal((await api(srv.url, 'GET', `/api/stores/api/ws/connections/${c.id as string}`, undefined, { 'X-API-Key': key })).status, 404);
    assert.equal(fs.existsSync(cursor), false, 'the cursor file goes with the connection');
    assert.equal(fs.existsSync(file), false, 'no push connections left: no file');
    assert.equal((await api(srv.url, 'DELETE', `/api/stores/api/ws/connections/${c.id as string}`, undefined, { 'X-API-Key': key })).status, 404);
  });

  it('refuses bad requests with a 400 naming the problem', async () => {
    const key = await srv.createStore('bad');
    const cases: [unknown, RegExp][] = [
      [
        { mode: 'sideways', url: rx.url },
        /unsupported mode "sideways": supported modes are "pull", "push"|unsupported mode "sideways": supported modes are "push", "pull"/,
      ],
      [{ url: rx.url }, /mode is required/],
      [{ mode: 'push', url: 'not a url' }, /url is not a valid URL/],
      [{ mode: 'push', url: 'http://127.0.0.1:1/x' }, /ws:\/\/ or wss:\/\//],
      [{ mode: 'push' }, /url is required/],
      [{ mode: 'push', url: rx.url, from: -2 }, /from must be 0 \(the oldest record\), -1 \(now\)/],
      [{ mode: 'push', url: rx.url, from: 'yesterday' }, /from must be/],
      [{ mode: 'push', url: rx.url, format: 'tiny' }, /format must be "full" or "compact"/],
      [{ mode: 'push', url: rx.url, filter: 5 }, /filter must be a string/],
      [{ mode: 'push', url: rx.url, filter_ignore_case: 'yes' }, /filter_ignore_case must be true or false/],
      [{ mode: 'push', url: rx.url, headers: { 'Sec-WebSocket-Key': 'x' } }, /set by the WebSocket handshake/],
      [{ mode: 'push', url: rx.url, agg_window: '1m' }, /unknown field "agg_window"/],
    ];
    for (const [body, re] of cases) {
      const res = await api(srv.url, 'POST', '/api/stores/bad/ws/connections', body, { 'X-API-Key': key });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.match(res.json.error as string, re, JSON.stringify(body));
    }
    // Targets pass the outbound allow-list (only 127.0.0.1 is allowed here).
    const refused = await api(srv.url, 'POST', '/api/stores/bad/ws/connections', { mode: 'push', url: 'ws://10.1.2.3:9/x' }, { 'X-API-Key': key });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json.code, 'TSS_ERR_OUTBOUND_FORBIDDEN');
    const list = await api(srv.url, 'GET', '/api/stores/bad/ws/connections', undefined, { 'X-API-Key': key });
    assert.equal(list.json.count, 0);
  });

  it('sends every record in order with exact timestamps; filter; schema full and compact', async () => {
    const key = await srv.createStore('order', { num_blocks: 512 });
    const before = rx.unique.length;
    await write(srv.url, 'order', key, lines(0, 2000).slice(0, 1000));
    const c = await createPush(srv.url, 'order', key, { url: rx.url });
    await write(srv.url, 'order', key, lines(1000, 1000));
    await until(() => rx.unique.length - before >= 2000, 20_000, '2000 records at the receiver');
    const got = rx.unique.slice(before, before + 2000);
    assert.deepEqual(
      got.map((m) => m.timestamp),
      tsRange(0, 2000),
    );
    assert.deepEqual(
      got.map((m) => (m.data as { n: number }).n),
      Array.from({ length: 2000 }, (_, i) => i),
    );
    assert.deepEqual(rx.outOfOrder, []);
    await until(async () => (await pushStatus(srv.url, 'order', key, c.id as string)).last_timestamp === T0 + 1999n, 10_000, 'the acknowledged cursor');
    const st = await pushStatus(srv.url, 'order', key, c.id as string);
    assert.equal(st.messages_sent, 2000);
    assert.equal(st.status, 'connected');

    // Schema store: full names the fields, compact keeps the indices; the filter sees the rendered data.
    const skey = await srv.createStore('sch', { data_type: 'schema' });
    const put = await api(
      srv.url,
      'PUT',
      '/api/stores/sch/schema',
      {
        fields: [
          { index: 1, name: 'temp', type: 'float64' },
          { index: 2, name: 'room', type: 'string' },
        ],
      },
      { 'X-API-Key': skey },
    );
    assert.equal(put.status, 200, put.text);
    const rxFull = await Receiver.start();
    const rxCompact = await Receiver.start();
    try {
      await createPush(srv.url, 'sch', skey, { url: rxFull.url, format: 'full', filter: 'KITCHEN', filter_ignore_case: true });
      await createPush(srv.url, 'sch', skey, { url: rxCompact.url, format: 'compact' });
      await write(srv.url, 'sch', skey, [
        `{"timestamp":${T0 + 1n},"data":{"temp":21.5,"room":"kitchen"}}`,
        `{"timestamp":${T0 + 2n},"data":{"temp":19,"room":"hall"}}`,
      ]);
      await until(() => rxFull.unique.length >= 1 && rxCompact.unique.length >= 2, 10_000, 'schema records');
      assert.deepEqual(
        rxFull.unique.map((m) => [m.timestamp, m.data]),
        [[T0 + 1n, { temp: 21.5, room: 'kitchen' }]],
      );
      assert.deepEqual(
        rxCompact.unique.map((m) => [m.timestamp, m.data]),
        [
          [T0 + 1n, { 1: 21.5, 2: 'kitchen' }],
          [T0 + 2n, { 1: 19, 2: 'hall' }],
        ],
      );
    } finally {
      await rxFull.stop();
      await rxCompact.stop();
    }
  });

  it('from -1 (now) sends only new records; from <ts> only records after it', async () => {
    const key = await srv.createStore('from');
    await write(srv.url, 'from', key, lines(0, 10));
    const rxNow = await Receiver.start();
    const rxAfter = await Receiver.start();
    try {
      const now = await createPush(srv.url, 'from', key, { url: rxNow.url, from: -1 });
      assert.equal(now.from, -1);
      await createPush(srv.url, 'from', key, { url: rxAfter.url, from: (T0 + 6n).toString() });
      await until(() => rxNow.live === 1, 10_000, 'the connection');
      await write(srv.url, 'from', key, lines(10, 5));
      await until(() => rxNow.unique.length >= 5 && rxAfter.unique.length >= 8, 10_000, 'records');
      assert.deepEqual(
        rxNow.unique.map((m) => m.timestamp),
        tsRange(10, 5),
      );
      assert.deepEqual(
        rxAfter.unique.map((m) => m.timestamp),
        tsRange(7, 8),
      );
    } finally {
      await rxNow.stop();
      await rxAfter.stop();
    }
  });

  it('resumes without gaps after the remote restarts', async () => {
    const key = await srv.createStore('remote-restart', { num_blocks: 512 });
    const r = await Receiver.start();
    try {
      const c = await createPush(srv.url, 'remote-restart', key, { url: r.url });
      await write(srv.url, 'remote-restart', key, lines(0, 1500));
      await until(() => r.unique.length >= 500, 20_000, 'a part of the stream');
      await r.stop();
      await write(srv.url, 'remote-restart', key, lines(1500, 1500));
      await until(
        async () => /ECONNREFUSED|closed/.test(String((await pushStatus(srv.url, 'remote-restart', key, c.id as string)).last_error)),
        10_000,
        'the connection lost',
      );
      await r.restart();
      await until(() => r.unique.length >= 3000, 30_000, 'all 3000 records');
      assert.deepEqual(
        r.unique.map((m) => m.timestamp),
        tsRange(0, 3000),
      );
      const st = await pushStatus(srv.url, 'remote-restart', key, c.id as string);
      assert.ok((st.connects as number) >= 2, `connects ${st.connects}`);
      assert.ok((st.errors as number) >= 1);
    } finally {
      await r.stop();
    }
  });
});

describe('ws_push output: bad input', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ pipelines: pushPipelines({ max_buffered_bytes: 64 * 1024, batch: 200 }), config: LOOPBACK_ALLOWED });
  });
  after(() => srv?.stop());

  it('an unreachable remote is retried with a growing delay and reported; no crash', async () => {
    const key = await srv.createStore('unreachable');
    const r = await Receiver.start();
    const url = r.url;
    await r.stop(); // nothing listens there now
    const c = await createPush(srv.url, 'unreachable', key, { url });
    await write(srv.url, 'unreachable', key, lines(0, 10));
    await until(async () => ((await pushStatus(srv.url, 'unreachable', key, c.id as string)).errors as number) >= 3, 10_000, 'three failed dials');
    const st = await pushStatus(srv.url, 'unreachable', key, c.id as string);
    assert.match(String(st.last_error), /ECONNREFUSED/);
    assert.ok(st.status === 'error' || st.status === 'connecting', String(st.status));
    assert.ok((st.retry_attempt as number) >= 3);
    assert.equal(typeof st.next_retry_at, 'string');
    assert.equal(st.messages_sent, 0);
    await r.restart();
    await until(() => r.unique.length >= 10, 10_000, 'the records once the remote listens');
    assert.deepEqual(
      r.unique.map((m) => m.timestamp),
      tsRange(0, 10),
    );
    await r.stop();
  });

  it('a remote that never reads is cut after ack_timeout_ms (bounded), then gets everything once it reads', async () => {
    const key = await srv.createStore('stalled', { num_blocks: 4096 });
    const r = await Receiver.start();
    try {
      r.freeze();
      const c = await createPush(srv.url, 'stalled', key, { url: r.url });
      const big = Array.from({ length: 4000 }, (_, i) => `{"timestamp":${T0 + BigInt(i)},"data":{"n":${i},"pad":"${'x'.repeat(400)}"}}`);
      for (let i = 0; i < big.length; i += 1000) await write(srv.url, 'stalled', key, big.slice(i, i + 1000));
      await until(
        async () => /did not (read|acknowledge|answer)/.test(String((await pushStatus(srv.url, 'stalled', key, c.id as string)).last_error)),
        20_000,
        'the stalled remote cut',
      );
      const st = await pushStatus(srv.url, 'stalled', key, c.id as string);
      assert.equal(st.messages_sent, 0, 'nothing counts as sent before the remote acknowledged it');
      r.frozen = false;
      r.freeze = () => undefined;
      await until(() => r.unique.length >= 4000, 40_000, 'all records once the remote reads');
      assert.deepEqual(
        r.unique.map((m) => m.timestamp),
        tsRange(0, 4000),
      );
    } finally {
      await r.stop();
    }
  });

  it('a remote that accepts and closes at once is redialled with a growing delay, and nothing is lost', async () => {
    const key = await srv.createStore('flappy');
    const r = await Receiver.start();
    try {
      r.closeAfter = 1;
      const c = await createPush(srv.url, 'flappy', key, { url: r.url });
      await write(srv.url, 'flappy', key, lines(0, 50));
      await until(async () => ((await pushStatus(srv.url, 'flappy', key, c.id as string)).retry_attempt as number) >= 4, 20_000, 'a growing backoff');
      r.closeAfter = undefined;
      await until(() => r.unique.length >= 50, 20_000, 'all records once the remote keeps the connection');
      assert.deepEqual(
        r.unique.map((m) => m.timestamp),
        tsRange(0, 50),
      );
    } finally {
      await r.stop();
    }
  });

  it('a store deleted while its push connections run: they stop, their files go, the id is gone', async () => {
    const key = await srv.createStore('doomed');
    const r = await Receiver.start();
    try {
      const c = await createPush(srv.url, 'doomed', key, { url: r.url });
      await write(srv.url, 'doomed', key, lines(0, 20));
      await until(() => r.unique.length >= 20, 10_000, 'records');
      const del = await api(srv.url, 'DELETE', '/api/stores/doomed', undefined, { 'X-Admin-Key': ADMIN_KEY });
      assert.equal(del.status, 200, del.text);
      await until(() => r.live === 0, 10_000, 'the push connection closed');
      assert.equal(fs.existsSync(path.join(srv.dataDir, 'doomed')), false);
      const key2 = await srv.createStore('doomed');
      const list = await api(srv.url, 'GET', '/api/stores/doomed/ws/connections', undefined, { 'X-API-Key': key2 });
      assert.equal(list.json.count, 0);
      assert.equal((await api(srv.url, 'GET', `/api/stores/doomed/ws/connections/${c.id as string}`, undefined, { 'X-API-Key': key2 })).status, 404);
      const health = await api(srv.url, 'GET', '/health');
      assert.equal(health.status, 200);
    } finally {
      await r.stop();
    }
  });
});

describe('ws_push output: tsstore restarts', () => {
  it('starts saved connections at boot and resumes after kill -9 without gaps', async () => {
    const r = await Receiver.start();
    const dataDir = tempDir();
    const config = writeConfig(tempDir('tsstore-cfg-'), { pipelines: pushPipelines(), ...LOOPBACK_ALLOWED });
    const env = { TSSTORE_DATA_PATH: dataDir, TSSTORE_CONFIG: config };
    let child = await spawnServer(['--no-socket'], env);
    try {
      const res = await api(child.url, 'POST', '/api/stores', { name: 'crash', num_blocks: 2048 }, { 'X-Admin-Key': ADMIN_KEY });
      assert.equal(res.status, 201, res.text);
      const key = res.json.api_key as string;
      await createPush(child.url, 'crash', key, { url: r.url });
      for (let i = 0; i < 6; i++) await write(child.url, 'crash', key, lines(i * 1000, 1000));
      await until(() => r.unique.length >= 1000, 20_000, 'a part of the stream');
      child.child.kill('SIGKILL');
      await child.exited;
      const atKill = r.all.length;
      child = await spawnServer(['--no-socket'], env);
      await write(child.url, 'crash', key, lines(6000, 500));
      await until(() => r.unique.length >= 6500, 40_000, 'all 6500 records after the restart');
      assert.deepEqual(
        r.unique.map((m) => m.timestamp),
        tsRange(0, 6500),
      );
      // Re-sent records (sent before the kill, acknowledgement not saved) carry their timestamps.
      const resent = r.all.length - r.unique.length;
      assert.ok(resent >= 0 && resent <= atKill, `re-sent ${resent}`);
    } finally {
      child.child.kill('SIGKILL');
      await child.exited;
      await r.stop();
    }
  });
});
