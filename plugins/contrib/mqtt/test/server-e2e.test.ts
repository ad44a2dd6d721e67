/**
 * End to end, as a user runs it: a tsstore server whose config names this package in `plugins:`
 * (a path relative to the config file), a real broker, records published over MQTT and read back
 * over tsstore's REST API. Only tsstore's public entry points are used.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig, parseJsonExact, TsstoreServer } from 'tsstore';
import { publish, publisher, startAckEater, startBroker, subscribed, type TestBroker } from './broker.js';

const PACKAGE_DIR = path.resolve(__dirname, '../..');
const ADMIN_KEY = 'mqtt-e2e-admin-key-0123456789';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function http(base: string, method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(new URL(url, base), {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? parseJsonExact(text) : undefined };
}

describe('mqtt plugin in a tsstore server', () => {
  it('publish → stored → readable via REST, across a lost PUBACK and a broker restart', async () => {
    let broker: TestBroker = await startBroker();
    const brokerPort = broker.port;
    cleanups.push(() => broker.stop());
    const eater = await startAckEater(brokerPort);
    cleanups.push(() => eater.stop());

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-mqtt-e2e-'));
    const file = path.join(dir, 'tsstore.config.yaml');
    fs.writeFileSync(
      file,
      [
        `plugins: ["${path.relative(dir, PACKAGE_DIR)}"]`,
        'server: { host: 127.0.0.1, port: 0, socket_path: "" }',
        `store: { base_path: "${path.join(dir, 'data')}" }`,
        'log: { level: silent }',
        'pipelines:',
        '  main:',
        '    inputs:',
        '      api: { type: rest }',
        `      sensors: { type: mqtt, url: "${eater.url}", store_from: "sensors/+store/#", timestamp_field: ts, client_id: tsstore-e2e, reconnect_period_ms: 50 }`,
        '    stages: [ { type: validate } ]',
        '    sink: { type: blockfile, fsync: batch }',
        '',
      ].join('\n'),
    );
    const config = await loadConfig({ file, env: { TSSTORE_ADMIN_KEY: ADMIN_KEY } });
    const ready = subscribed(broker);
    const server = await TsstoreServer.start(config);
    cleanups.push(() => server.stop());
    assert.ok(server.registry.list().some((p) => p.descriptor.type === 'mqtt' && p.source.package === 'tsstore-input-mqtt'));

    const created = await http(server.url, 'POST', '/api/stores', { 'X-Admin-Key': ADMIN_KEY }, { name: 'greenhouse' });
    assert.equal(created.status, 201);
    const key = { 'X-API-Key': created.json.api_key as string };
    await ready;
    const acked = new Promise<void>((resolve) =>
      broker.aedes.on('ack', (_p, c) => {
        if (c?.id === 'tsstore-e2e') resolve();
      }),
    );

    const pub = await publisher(broker.url);
    await publish(pub, 'sensors/greenhouse/temp', '{"ts":1704067200000000001,"temp":21.5}');
    await eater.swallowed; // the first PUBACK is lost and the connection cut: the broker redelivers
    await acked;
    let newest = await http(server.url, 'GET', '/api/stores/greenhouse/data/newest?limit=10', key);
    assert.equal(newest.status, 200);
    assert.equal(newest.json.count, 1, 'the redelivered message was not stored twice');
    assert.equal(newest.json.objects[0].timestamp, 1704067200000000001n);
    assert.deepEqual(newest.json.objects[0].data, { ts: 1704067200000000001n, temp: 21.5 });

    await pub.endAsync();
    await broker.stop();
    broker = await startBroker(brokerPort);
    await subscribed(broker); // the input reconnected and subscribed again on its own
    const pub2 = await publisher(broker.url);
    cleanups.push(() => pub2.endAsync());
    await publish(pub2, 'sensors/greenhouse/temp', '{"ts":1704067200000000002,"temp":22}');
    for (let i = 0; i < 200; i++) {
      newest = await http(server.url, 'GET', '/api/stores/greenhouse/data/newest?limit=10', key);
      if (newest.json.count === 2) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual(
      newest.json.objects.map((o: { timestamp: bigint }) => o.timestamp),
      [1704067200000000002n, 1704067200000000001n],
    );
  });
});
