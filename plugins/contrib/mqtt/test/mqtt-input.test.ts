import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { IngestRecord, Rejection, Stage } from 'tsstore/plugin';
import { inputHarness, type InputHarness } from 'tsstore/testing';
import mqttInput from '../src/index.js';
import { parseTopicPattern } from '../src/topic-pattern.js';
import { publish, publisher, startAckEater, startBroker, subscribed, type TestBroker } from './broker.js';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function harness(broker: TestBroker | { url: string }, options: Record<string, unknown>, stages?: Stage[]): Promise<InputHarness> {
  const h = await inputHarness(mqttInput, { options: { url: broker.url, reconnect_period_ms: 50, ...options }, stages, start: false });
  cleanups.push(() => h.stop());
  return h;
}

const text = (b?: Buffer): string => b?.toString('utf8') ?? '';

describe('mqtt input', () => {
  it('parses store_from patterns and refuses bad ones', () => {
    const p = parseTopicPattern('sensors/+store/#');
    assert.equal(p.filter, 'sensors/+/#');
    assert.equal(p.storeOf('sensors/greenhouse/temp/1'), 'greenhouse');
    assert.equal(p.storeOf('sensors/greenhouse'), 'greenhouse');
    assert.equal(p.storeOf('other/greenhouse/temp'), undefined);
    const q = parseTopicPattern('site/+/+store/data');
    assert.equal(q.storeOf('site/a/b/data'), 'b');
    assert.equal(q.storeOf('site/a/b/data/x'), undefined);
    assert.throws(() => parseTopicPattern('sensors/+/#'), /exactly one level written "\+store"/);
    assert.throws(() => parseTopicPattern('a/#/+store'), /"#" may only be the last level/);
  });

  it('validates its options (store xor store_from, topics with a fixed store)', async () => {
    await assert.rejects(
      inputHarness(mqttInput, { options: { url: 'mqtt://127.0.0.1:1', store: 's', store_from: 'a/+store' }, start: false }),
      /conflict with forbidden peer|contains a conflict/,
    );
    await assert.rejects(inputHarness(mqttInput, { options: { url: 'mqtt://127.0.0.1:1', store: 's' }, start: false }), /topics/);
    await assert.rejects(inputHarness(mqttInput, { options: { url: 'mqtt://127.0.0.1:1', store_from: 'a/+/b' }, start: false }), /\+store/);
    await assert.rejects(
      inputHarness(mqttInput, { options: { url: 'mqtt://127.0.0.1:1', store_from: 'a/+store', colour: 1 }, start: false }),
      /colour.*not allowed/,
    );
  });

  it('subscribes with wildcards, maps topics to stores and stores payloads byte for byte (QoS 0 and 1)', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const h = await harness(broker, { store_from: 'sensors/+store/#' });
    await h.createStore('greenhouse');
    await h.createStore('cellar');
    await h.createStore('notes', { data_type: 'text' });
    const ready = subscribed(broker);
    await h.start();
    await ready;
    const pub = await publisher(broker.url);
    cleanups.push(() => pub.endAsync());
    await publish(pub, 'sensors/greenhouse/temp', '{"t": 21.50, "big": 18446744073709551615}', 1);
    await publish(pub, 'sensors/cellar/hum/1', '[1,2,3]', 0);
    await publish(pub, 'sensors/notes', 'plain text, not JSON', 1);
    await publish(pub, 'elsewhere/greenhouse', '{"ignored":true}', 1);
    const g = await h.waitForRecords('greenhouse', 1);
    assert.equal(text(g[0].data), '{"t": 21.50, "big": 18446744073709551615}');
    assert.equal(text((await h.waitForRecords('cellar', 1))[0].data), '[1,2,3]');
    assert.equal(text((await h.waitForRecords('notes', 1))[0].data), 'plain text, not JSON');
    assert.equal((await h.records('greenhouse')).length, 1);
  });

  it('takes the timestamp from a JSON field exactly, in the configured unit', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const ns = await harness(broker, { store: 'ns', topics: ['ts/ns'], timestamp_field: 'ts' });
    const ms = await harness(broker, {
      store: 'ms',
      topics: [{ topic: 'ts/ms', qos: 0 }],
      timestamp_field: 'at',
      timestamp_unit: 'ms',
      client_id: 'tsstore-ms',
    });
    await ns.createStore('ns');
    await ms.createStore('ms');
    const ready = Promise.all([subscribed(broker, 'tsstore-ms'), subscribed(broker, 'tsstore-')]);
    await ns.start();
    await ms.start();
    await ready;
    const pub = await publisher(broker.url);
    cleanups.push(() => pub.endAsync());
    await publish(pub, 'ts/ns', '{"ts":1704067200000000001,"v":1}');
    await publish(pub, 'ts/ns', '{"v":2}');
    await publish(pub, 'ts/ms', '{"at":1704067200123.5,"v":3}', 0);
    const a = await ns.waitForRecords('ns', 2);
    assert.equal(a[0].timestamp, 1704067200000000001n);
    assert.equal(text(a[0].data), '{"ts":1704067200000000001,"v":1}');
    assert.ok(a[1].timestamp > 1704067200000000001n, 'no field: server time');
    const b = await ms.waitForRecords('ms', 1);
    assert.equal(b[0].timestamp, 1704067200123500000n);
  });

  it('acknowledges QoS 1 only after the record is stored', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const gated: Stage = {
      async process(records: IngestRecord[]): Promise<(IngestRecord | Rejection)[]> {
        reached();
        await gate;
        return records;
      },
    };
    const h = await harness(broker, { store: 'acked', topics: ['acked'] }, [gated]);
    await h.createStore('acked');
    const acks: number[] = [];
    broker.aedes.on('ack', (_packet, client) => {
      if (client?.id.startsWith('tsstore')) acks.push(h.emits.length);
    });
    const ready = subscribed(broker);
    await h.start();
    await ready;
    const pub = await publisher(broker.url);
    cleanups.push(() => pub.endAsync());
    await publish(pub, 'acked', '{"n":1}', 1);
    await atGate;
    assert.deepEqual(acks, [], 'no PUBACK while the record is held before the sink');
    release();
    await h.waitForRecords('acked', 1);
    while (acks.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(acks, [1], 'the PUBACK came after the emit had resolved');
  });

  it('acknowledges and drops what can never be stored (unknown store, invalid JSON), then goes on', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const h = await harness(broker, { store_from: 'in/+store' });
    await h.createStore('good');
    const ready = subscribed(broker);
    await h.start();
    await ready;
    const pub = await publisher(broker.url);
    cleanups.push(() => pub.endAsync());
    await publish(pub, 'in/nosuchstore', '{"a":1}');
    await publish(pub, 'in/good', '{not json');
    await publish(pub, 'in/good', '{"ok":true}');
    const rows = await h.waitForRecords('good', 1);
    assert.equal(text(rows[0].data), '{"ok":true}');
    const codes = h.emits.map((e) => (e.results[0].ok ? 'ok' : e.results[0].code));
    assert.deepEqual(codes, ['TSS_ERR_STORE_NOT_FOUND', 'TSS_ERR_INVALID_JSON', 'ok']);
  });

  it('skips the retained message replayed on subscribe unless store_retained', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const pub = await publisher(broker.url);
    cleanups.push(() => pub.endAsync());
    await new Promise<void>((resolve, reject) => pub.publish('ret/x', '{"old":1}', { qos: 1, retain: true }, (err) => (err ? reject(err) : resolve())));
    const h = await harness(broker, { store_from: 'ret/+store', client_id: 'tsstore-ret-a' });
    await h.createStore('x');
    let ready = subscribed(broker, 'tsstore-ret-a');
    await h.start();
    await ready;
    await new Promise<void>((resolve, reject) => pub.publish('ret/x', '{"new":2}', { qos: 1, retain: true }, (err) => (err ? reject(err) : resolve())));
    // The broker sends the replayed message before the new one, and the input handles them in order.
    await h.waitForRecords('x', 1);
    assert.deepEqual(
      (await h.records('x')).map((r) => text(r.data)),
      ['{"new":2}'],
      'published while subscribed: stored; replayed on subscribe: skipped',
    );
    assert.deepEqual(h.emits.length, 1);
    const keep = await harness(broker, { store_from: 'ret/+store', client_id: 'tsstore-ret-b', store_retained: true });
    await keep.createStore('x');
    ready = subscribed(broker, 'tsstore-ret-b');
    await keep.start();
    await ready;
    assert.deepEqual(
      (await keep.waitForRecords('x', 1)).map((r) => text(r.data)),
      ['{"new":2}'],
    );
  });

  it('reconnects on its own after the broker restarts', async () => {
    let broker = await startBroker();
    const port = broker.port;
    cleanups.push(() => broker.stop());
    const h = await harness(broker, { store_from: 'r/+store' });
    await h.createStore('r1');
    let ready = subscribed(broker);
    await h.start();
    await ready;
    let pub = await publisher(broker.url);
    await publish(pub, 'r/r1', '{"before":1}');
    await h.waitForRecords('r1', 1);
    await pub.endAsync();
    await broker.stop();
    broker = await startBroker(port);
    ready = subscribed(broker);
    await ready;
    pub = await publisher(broker.url);
    cleanups.push(() => pub.endAsync());
    await publish(pub, 'r/r1', '{"after":2}');
    const rows = await h.waitForRecords('r1', 2);
    assert.deepEqual(
      rows.map((r) => text(r.data)),
      ['{"before":1}', '{"after":2}'],
    );
  });

  it('stores a QoS 1 message redelivered after a lost PUBACK only once', async () => {
    const broker = await startBroker();
    cleanups.push(() => broker.stop());
    const eater = await startAckEater(broker.port);
    cleanups.push(() => eater.stop());
    const h = await harness(eater, { store: 'once', topics: ['once/#'], timestamp_field: 'ts', client_id: 'tsstore-redelivery' });
    await h.createStore('once');
    const ready = subscribed(broker);
    await h.start();
    await ready;
    const redelivered = new Promise<void>((resolve) =>
      broker.aedes.on('ack', (_p, c) => {
        if (c?.id === 'tsstore-redelivery') resolve();
      }),
    );
    const pub = await publisher(broker.url);
    cleanups.push(() => pub.endAsync());
    await publish(pub, 'once/x', '{"ts":1704067200000000001,"v":42}');
    await eater.swallowed;
    await redelivered;
    const rows = await h.records('once');
    assert.equal(rows.length, 1);
    assert.equal(rows[0].timestamp, 1704067200000000001n);
    assert.equal(h.emits.length, 2, 'the message arrived twice');
    const second = h.emits[1].results[0];
    assert.equal(second.ok ? 'ok' : second.code, 'TSS_ERR_TIMESTAMP_ORDER');
    await publish(pub, 'once/x', '{"ts":1704067200000000002,"v":43}');
    assert.equal((await h.waitForRecords('once', 2)).length, 2);
  });
});
