/**
 * MQTT publish connections against a real broker (aedes, in this process, on 127.0.0.1): the
 * management API (bad requests, masked password, 0600 file), schema stores expanded, exact
 * timestamps, a broker that refuses the credentials, a broker restart (nothing lost, duplicates
 * only of the records in flight), and a kill -9 of tsstore (resumes after the persisted cursor:
 * nothing lost, duplicates only of records after the saved cursor; the password never logged).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseJsonExact, stringifyExact } from 'tsstore/plugin';
import { until } from '../../../test/support/clients.js';
import { type LocalBroker, startLocalBroker } from '../../../test/support/mqtt-broker.js';
import { makeSelfSignedCert } from '../../../test/support/tls.js';
import { ADMIN_KEY, api, spawnServer, startServer, tempDir, type TestServer } from '../../../test/support/server.js';

const BASE = 1704067200000000001n; // beyond 2^53: exactness shows
const ROUTE = (store: string): string => `/api/stores/${store}/mqtt/connections`;

async function post(url: string, store: string, key: string, lines: string[]): Promise<bigint[]> {
  const res = await api(url, 'POST', `/api/stores/${store}/data/batch`, lines.join('\n'), { 'X-API-Key': key, 'Content-Type': 'application/x-ndjson' });
  assert.equal(res.status, 200, res.text);
  return (res.json as { results: { timestamp: bigint }[] }).results.map((r) => r.timestamp);
}

const records = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `{"timestamp":${BASE + BigInt(from + i)},"data":{"n":${from + i}}}`);

type Envelope = { timestamp: bigint; data: { n: number } };
const envelopes = (b: LocalBroker, topic: string): Envelope[] => b.messages.filter((m) => m.topic === topic).map((m) => parseJsonExact(m.payload) as Envelope);

async function status(url: string, store: string, key: string, id: string): Promise<Record<string, unknown>> {
  const res = await api(url, 'GET', `${ROUTE(store)}/${id}`, undefined, { 'X-API-Key': key });
  assert.equal(res.status, 200, res.text);
  return res.json as Record<string, unknown>;
}

/** Every timestamp of `want` arrived; each one more than once only if `mayRepeat` allows it. */
function checkDelivered(got: Envelope[], want: bigint[], mayRepeat: (t: bigint) => boolean): number {
  const seen = new Map<bigint, number>();
  for (const m of got) {
    assert.equal(m.timestamp - BASE, BigInt(m.data.n), 'payload and timestamp belong together');
    seen.set(m.timestamp, (seen.get(m.timestamp) ?? 0) + 1);
  }
  assert.deepEqual(
    [...seen.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    want,
    'every record exactly, none invented',
  );
  let dups = 0;
  for (const [t, n] of seen)
    if (n > 1) {
      assert.ok(mayRepeat(t), `record ${t} repeated ${n} times`);
      dups += n - 1;
    }
  return dups;
}

describe('mqtt_publish output', () => {
  let srv: TestServer;
  let broker: LocalBroker;
  before(async () => {
    broker = await startLocalBroker();
    // The brokers listen on 127.0.0.1, which the default outbound allow-list refuses.
    srv = await startServer({
      config: { outbound: { allow: ['127.0.0.1'] } },
      pipelines: {
        main: {
          inputs: { api: { type: 'rest' } },
          stages: [{ type: 'validate' }, { type: 'schema_format' }],
          sink: { type: 'blockfile' },
          outputs: { mqtt: { type: 'mqtt_publish', backoff_min_ms: 50, backoff_max_ms: 500, batch: 200 } },
        },
      },
    });
  });
  after(async () => {
    await srv.stop();
    await broker.stop();
  });

  it('refuses bad requests with 400 naming the field; 404 for an unknown connection', async () => {
    const key = await srv.createStore('bad');
    const cases: [unknown, RegExp][] = [
      [{ topic: 't' }, /broker_url is required/],
      [{ broker_url: 'http://127.0.0.1:1', topic: 't' }, /broker_url must use tcp:\/\/, ssl:\/\/, mqtt:\/\/ or mqtts:\/\//],
      [{ broker_url: 'tcp://127.0.0.1:1/x', topic: 't' }, /without a path/],
      [{ broker_url: 'tcp://127.0.0.1:1' }, /topic is required/],
      [{ broker_url: 'tcp://127.0.0.1:1', topic: 'a/#' }, /wildcards/],
      [{ broker_url: 'tcp://127.0.0.1:1', topic: 't', from: -2 }, /from must be/],
      [{ broker_url: 'tcp://127.0.0.1:1', topic: 't', from: 1.5 }, /from must be/],
      [{ broker_url: 'tcp://127.0.0.1:1', topic: 't', include_timestamp: 'yes' }, /include_timestamp/],
      [{ broker_url: 'tcp://127.0.0.1:1', topic: 't', cursor_persist_interval: -5 }, /cursor_persist_interval/],
      [{ broker_url: 'tcp://127.0.0.1:1', topic: 't', qos: 2 }, /unknown field "qos"/],
    ];
    for (const [body, message] of cases) {
      const res = await api(srv.url, 'POST', ROUTE('bad'), body, { 'X-API-Key': key });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.match((res.json as { error: string }).error, message);
    }
    assert.equal((await api(srv.url, 'GET', `${ROUTE('bad')}/nope`, undefined, { 'X-API-Key': key })).status, 404);
    assert.equal((await api(srv.url, 'DELETE', `${ROUTE('bad')}/nope`, undefined, { 'X-API-Key': key })).status, 404);
    assert.equal((await api(srv.url, 'GET', ROUTE('bad'))).status, 401);
    // The outbound allow-list: 127.0.0.1 is allowed here, other loopback and private addresses are not.
    for (const broker_url of ['tcp://127.0.0.2:1883', 'mqtts://10.1.2.3', 'mqtt://[::1]:1883']) {
      const res = await api(srv.url, 'POST', ROUTE('bad'), { broker_url, topic: 't' }, { 'X-API-Key': key });
      assert.equal(res.status, 403, `${broker_url}: ${res.text}`);
      assert.equal((res.json as { code: string }).code, 'TSS_ERR_OUTBOUND_FORBIDDEN');
    }
    assert.equal((await api(srv.url, 'GET', ROUTE('bad'), undefined, { 'X-API-Key': key })).json.count, 0, 'nothing created');
  });

  it('publishes every record at QoS 1 with the exact timestamp, from a timestamp; lists, masks the password, deletes', async () => {
    const key = await srv.createStore('pub');
    const ts = await post(srv.url, 'pub', key, records(0, 500));
    // `from` as a JSON number beyond 2^53: taken exactly.
    const body = stringifyExact({
      broker_url: broker.url.replace('mqtt:', 'tcp:'),
      topic: 'out/pub',
      from: ts[99],
      include_timestamp: true,
      cursor_persist_interval: 5,
      username: 'u',
      password: 's3cret-pw',
    });
    const created = await api(srv.url, 'POST', ROUTE('pub'), body, { 'X-API-Key': key, 'Content-Type': 'application/json' });
    assert.equal(created.status, 201, created.text);
    const c = created.json as Record<string, unknown>;
    assert.equal(c.password, '********');
    assert.equal(c.username, 'u');
    assert.equal(c.from, ts[99]);
    assert.ok(!created.text.includes('s3cret-pw'));
    const id = c.id as string;
    await until(() => envelopes(broker, 'out/pub').length >= 400, 20_000, '400 messages');
    const more = await post(srv.url, 'pub', key, records(500, 100));
    await until(() => envelopes(broker, 'out/pub').length >= 500, 20_000, '500 messages');
    checkDelivered(envelopes(broker, 'out/pub'), [...ts.slice(100), ...more], () => false);
    assert.ok(broker.messages.filter((m) => m.topic === 'out/pub').every((m) => m.qos === 1));
    await until(async () => (await status(srv.url, 'pub', key, id)).messages_sent === 500, 20_000, 'messages_sent 500');
    const st = await status(srv.url, 'pub', key, id);
    assert.equal(st.status, 'connected');
    assert.equal(st.last_timestamp, more[99]);
    assert.equal(st.errors, 0);
    assert.equal(st.last_error, undefined, 'absent values are omitted');
    const list = await api(srv.url, 'GET', ROUTE('pub'), undefined, { 'X-API-Key': key });
    assert.equal((list.json as { count: number }).count, 1);
    assert.ok(!list.text.includes('s3cret-pw'));
    const file = path.join(srv.dataDir, 'pub', 'mqtt_connections.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.ok(fs.readFileSync(file, 'utf8').includes('s3cret-pw'), 'the file keeps the password to reconnect');
    const cursor = path.join(srv.dataDir, 'pub', 'outputs', `mqtt-${id}.json`);
    assert.ok(fs.existsSync(cursor));
    const del = await api(srv.url, 'DELETE', `${ROUTE('pub')}/${id}`, undefined, { 'X-API-Key': key });
    assert.equal(del.status, 200, del.text);
    assert.ok(!fs.existsSync(cursor), 'the cursor goes with the connection');
    assert.equal((await api(srv.url, 'GET', ROUTE('pub'), undefined, { 'X-API-Key': key })).json.count, 0);
  });

  it('publishes schema stores expanded, text stores as their bytes', async () => {
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
    await post(srv.url, 'sch', skey, ['{"timestamp":5,"data":{"temp":21.5,"room":"lab"}}']);
    const tkey = await srv.createStore('txt', { data_type: 'text' });
    await post(srv.url, 'txt', tkey, ['{"timestamp":7,"data":"hello \\"world\\""}']);
    for (const [store, k] of [
      ['sch', skey],
      ['txt', tkey],
    ]) {
      const res = await api(
        srv.url,
        'POST',
        ROUTE(store),
        { broker_url: broker.url, topic: `out/${store}`, include_timestamp: store === 'txt' },
        { 'X-API-Key': k },
      );
      assert.equal(res.status, 201, res.text);
    }
    await until(() => broker.messages.some((m) => m.topic === 'out/sch') && broker.messages.some((m) => m.topic === 'out/txt'), 20_000, 'both messages');
    assert.deepEqual(JSON.parse(broker.messages.find((m) => m.topic === 'out/sch')!.payload.toString()), { temp: 21.5, room: 'lab' });
    assert.equal(broker.messages.find((m) => m.topic === 'out/txt')!.payload.toString(), '{"timestamp":7,"data":"hello \\"world\\""}');
  });

  it('a broker that refuses the credentials: status error with the reason, retried, nothing published', async () => {
    const strict = await startLocalBroker({ credentials: { username: 'alice', password: 'right' } });
    try {
      const key = await srv.createStore('auth');
      await post(srv.url, 'auth', key, records(0, 10));
      const res = await api(
        srv.url,
        'POST',
        ROUTE('auth'),
        { broker_url: strict.url, topic: 'out/auth', username: 'alice', password: 'wrong' },
        { 'X-API-Key': key },
      );
      assert.equal(res.status, 201, res.text);
      const id = (res.json as { id: string }).id;
      await until(() => strict.refused >= 2, 20_000, 'two refused attempts (it retries)');
      const st = await status(srv.url, 'auth', key, id);
      assert.match(String(st.last_error), /bad user ?name or password/i);
      assert.ok((st.errors as number) >= 1);
      assert.ok(st.status === 'error' || st.status === 'connecting', String(st.status));
      assert.equal(st.messages_sent, 0);
      assert.equal(strict.messages.length, 0);
      // One-shot (-1): the first refusal ends it.
      const once = await api(srv.url, 'POST', ROUTE('auth'), { broker_url: strict.url, topic: 'out/auth', cursor_persist_interval: -1 }, { 'X-API-Key': key });
      const onceId = (once.json as { id: string }).id;
      await until(async () => (await status(srv.url, 'auth', key, onceId)).status === 'failed', 20_000, 'one-shot failed');
    } finally {
      await strict.stop();
    }
  });

  it("ssl:// and mqtts:// speak TLS and verify the broker's certificate", async () => {
    const cert = makeSelfSignedCert();
    const secure = await startLocalBroker({ tls: { cert: cert.cert, key: fs.readFileSync(cert.keyFile) } });
    try {
      const key = await srv.createStore('tls');
      await post(srv.url, 'tls', key, records(0, 3));
      const res = await api(srv.url, 'POST', ROUTE('tls'), { broker_url: secure.url.replace('mqtts:', 'ssl:'), topic: 'out/tls' }, { 'X-API-Key': key });
      assert.equal(res.status, 201, res.text);
      const id = (res.json as { id: string }).id;
      // A certificate no CA of the system signed is refused by tsstore, so nothing is published.
      await until(async () => /self[- ]signed certificate/i.test(String((await status(srv.url, 'tls', key, id)).last_error)), 20_000, 'a certificate error');
      assert.equal(secure.messages.length, 0);
    } finally {
      await secure.stop();
    }
  });

  it('broker restart: reconnects with backoff and publishes everything; repeats only records in flight', async () => {
    const key = await srv.createStore('restart');
    const first = await post(srv.url, 'restart', key, records(0, 3000));
    const res = await api(srv.url, 'POST', ROUTE('restart'), { broker_url: broker.url, topic: 'out/restart', include_timestamp: true }, { 'X-API-Key': key });
    assert.equal(res.status, 201, res.text);
    const id = (res.json as { id: string }).id;
    await until(() => envelopes(broker, 'out/restart').length >= 300, 20_000, '300 messages');
    await broker.stop();
    const second = await post(srv.url, 'restart', key, records(3000, 1000));
    await until(
      async () => ['disconnected', 'error', 'connecting'].includes((await status(srv.url, 'restart', key, id)).status as string),
      20_000,
      'disconnected',
    );
    await broker.restart();
    await until(() => new Set(envelopes(broker, 'out/restart').map((m) => m.timestamp)).size === 4000, 60_000, 'all 4000 records');
    const dups = checkDelivered(envelopes(broker, 'out/restart'), [...first, ...second], () => true);
    assert.ok(dups <= 200, `at most one batch in flight repeated, got ${dups}`);
    const st = await status(srv.url, 'restart', key, id);
    assert.equal(st.status, 'connected');
    assert.ok((st.errors as number) >= 1);
  });
});

describe('mqtt_publish across kill -9', () => {
  let broker: LocalBroker;
  before(async () => {
    broker = await startLocalBroker({ credentials: { username: 'edge', password: 'pw-never-logged' } });
  });
  after(() => broker.stop());

  it('resumes after the persisted cursor: nothing lost, repeats only after the saved cursor, password never logged', async () => {
    const dataDir = tempDir('tsstore-mqtt-kill-');
    const env = { TSSTORE_DATA_PATH: dataDir, TSSTORE_LOG_LEVEL: 'debug', TSSTORE_OUTBOUND_ALLOW: '127.0.0.1' };
    let server = await spawnServer([], env);
    const outputs: string[] = [];
    try {
      const created = await api(server.url, 'POST', '/api/stores', { name: 'k' }, { 'X-Admin-Key': ADMIN_KEY });
      assert.equal(created.status, 201, created.text);
      const key = (created.json as { api_key: string }).api_key;
      const written: bigint[] = [];
      for (let i = 0; i < 5; i++) written.push(...(await post(server.url, 'k', key, records(i * 2000, 2000))));
      const res = await api(
        server.url,
        'POST',
        ROUTE('k'),
        { broker_url: broker.url, topic: 'out/k', include_timestamp: true, cursor_persist_interval: 1, username: 'edge', password: 'pw-never-logged' },
        { 'X-API-Key': key },
      );
      assert.equal(res.status, 201, res.text);
      const id = (res.json as { id: string }).id;
      await until(() => envelopes(broker, 'out/k').length >= 2000, 60_000, '2000 messages before the kill');
      server.child.kill('SIGKILL');
      await server.exited;
      outputs.push(server.output());
      const before = envelopes(broker, 'out/k').length;
      const saved = { cursor: BigInt((parseJsonExact(fs.readFileSync(path.join(dataDir, 'k', 'outputs', `mqtt-${id}.json`))) as { cursor: string }).cursor) };
      server = await spawnServer([], env);
      written.push(...(await post(server.url, 'k', key, records(10_000, 500))));
      await until(() => new Set(envelopes(broker, 'out/k').map((m) => m.timestamp)).size === written.length, 120_000, 'every record after the restart');
      const got = envelopes(broker, 'out/k');
      const receivedBeforeKill = new Set(got.slice(0, before).map((m) => m.timestamp));
      checkDelivered(got, written, (t) => t > saved.cursor && receivedBeforeKill.has(t));
      const st = await status(server.url, 'k', key, id);
      assert.equal(st.last_timestamp, written[written.length - 1]);
      assert.equal(st.password, '********');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      outputs.push(server.output());
    }
    const log = outputs.join('\n');
    assert.match(log, /MQTT publish connection/);
    assert.ok(!log.includes('pw-never-logged'), 'the password is never logged');
  });
});
