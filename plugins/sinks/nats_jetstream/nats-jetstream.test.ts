import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, headers } from 'nats';
import type { NatsConnection } from 'nats';
import { checkConfig } from 'tsstore';
import type { SinkContext, StoreSpec } from 'tsstore/plugin';
import { silentLogger, sinkSuite } from 'tsstore/testing';
import { jetStreamTestOptions, NATS_SKIP, NatsServer } from '../../../test/support/nats-server.js';
import { api, ROOT, startServer, tempDir } from '../../../test/support/server.js';
import descriptor from './index.js';
import { NatsJetStreamSink } from './nats-jetstream-sink.js';

const ctx = (): SinkContext => ({ id: 'nats', logger: silentLogger(), dataDir: tempDir() });
const tag = (s: string): string => crypto.createHash('sha1').update(s).digest('hex').slice(0, 10);
const specOf = (name: string): StoreSpec => {
  const dir = path.join(tempDir(), name);
  fs.mkdirSync(dir);
  return { name, dir, dataType: 'binary', numBlocks: 16, dataBlockSize: 4096, indexBlockSize: 4096 };
};

describe('nats_jetstream sink', { skip: NATS_SKIP }, () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    nats = await NatsServer.start();
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  });
  after(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  // Each data dir gets its own stream and subject, so cases are isolated like separate disks.
  sinkSuite('nats_jetstream', {
    createSink: (dataDir) => new NatsJetStreamSink(jetStreamTestOptions(nats.url, { stream: `S${tag(dataDir)}`, subject: `t${tag(dataDir)}.<store>` }), ctx()),
  });

  it('publishes each record with its exact timestamp, store header and message id', async () => {
    const sink = new NatsJetStreamSink(jetStreamTestOptions(nats.url, { stream: 'PUB', subject: 'pub.<store>' }), ctx());
    await sink.open();
    await sink.createStore(specOf('sensors.a'));
    const ts = 1704067200000000001n;
    const data = Buffer.from('{"temperature": 72.5}');
    const res = await sink.write('sensors.a', [{ timestamp: ts, data }, { data: Buffer.from([0, 1, 2]) }]);
    assert.ok(res[0].ok && res[1].ok);
    const jsm = await nc.jetstreamManager();
    const m = await jsm.streams.getMessage('PUB', { seq: 1 });
    assert.equal(m.subject, 'pub.sensors.a');
    assert.equal(m.header.get('Tss-Store'), 'sensors.a');
    assert.equal(m.header.get('Tss-Timestamp'), '1704067200000000001');
    assert.equal(m.header.get('Nats-Msg-Id'), 'sensors.a:1704067200000000001');
    assert.deepEqual(Buffer.from(m.data), data);
    const m2 = await jsm.streams.getMessage('PUB', { seq: 2 });
    assert.equal(m2.header.get('Tss-Timestamp'), String(res[1].timestamp));
    assert.deepEqual(Buffer.from(m2.data), Buffer.from([0, 1, 2]));
    await sink.close();

    // A restarted sink learns the newest timestamp from the stream and never reissues one.
    const again = new NatsJetStreamSink(jetStreamTestOptions(nats.url, { stream: 'PUB', subject: 'pub.<store>' }), ctx());
    await again.open();
    await again.openStore(specOf('sensors.a'));
    const stale = await again.write('sensors.a', [{ timestamp: ts + 1n, data }]);
    assert.equal(!stale[0].ok && stale[0].code, 'TSS_ERR_TIMESTAMP_ORDER');
    const next = await again.write('sensors.a', [{ data }]);
    assert.ok(next[0].ok && res[1].ok && next[0].timestamp > res[1].timestamp);
    await again.close();
  });

  it('de-duplicates a resend of the same <store>:<timestamp>', async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'DUP', subjects: ['dup.>'], duplicate_window: 60e9 });
    const js = nc.jetstream();
    const h = headers();
    h.set('Tss-Timestamp', '42');
    const first = await js.publish('dup.s', Buffer.from('x'), { msgID: 's:42', headers: h });
    const second = await js.publish('dup.s', Buffer.from('x'), { msgID: 's:42', headers: h });
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);

    // A write that failed while the server was down is resent after it returns: exactly once.
    const sink = new NatsJetStreamSink(jetStreamTestOptions(nats.url, { stream: 'DUP', subject: 'dup.<store>', ack_timeout: '1s' }), ctx());
    await sink.open();
    await sink.openStore(specOf('s'));
    const ok = await sink.write('s', [{ timestamp: 100n, data: Buffer.from('a') }]);
    assert.ok(ok[0].ok);
    await nats.stop();
    const down = sink.write('s', [{ timestamp: 200n, data: Buffer.from('b') }]);
    await assert.rejects(
      down.then((r) => {
        if (!r[0].ok) throw Object.assign(new Error(r[0].message), { code: r[0].code });
        return r;
      }),
      (e: { code?: string; message: string }) => {
        assert.equal(e.code, 'TSS_ERR_UPSTREAM');
        assert.match(e.message, /not connected|disconnected|acknowledge|connection/i);
        return true;
      },
    );
    await nats.resume();
    let again: Awaited<ReturnType<typeof sink.write>> | undefined;
    for (let i = 0; i < 100 && !again?.[0].ok; i++) {
      again = await sink.write('s', [{ timestamp: 200n, data: Buffer.from('b') }]).catch(() => undefined);
      if (!again?.[0].ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(again?.[0].ok, 'the resend is accepted once the server is back');
    await sink.close();
    const fresh = await connect({ servers: nats.url });
    const info = await (await fresh.jetstreamManager()).streams.info('DUP', { subjects_filter: 'dup.s' });
    await fresh.close();
    assert.equal(info.state.subjects?.['dup.s'], 3, '42, 100 and 200 once each');
  });

  it('reports a missing stream, a full stream and an auth failure clearly, without crashing', async () => {
    const missing = new NatsJetStreamSink(jetStreamTestOptions(nats.url, { stream: 'NOPE', subject: 'nope.<store>', create_stream: false }), ctx());
    await missing.open();
    await missing.openStore(specOf('s'));
    await assert.rejects(missing.write('s', [{ data: Buffer.from('x') }]), (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'TSS_ERR_UPSTREAM');
      assert.match(e.message, /stream 'NOPE' does not exist \(create it, or set create_stream: true\)/);
      return true;
    });
    await missing.close();

    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'FULL', subjects: ['full.>'], max_msgs: 3, discard: 'new' as never });
    const full = new NatsJetStreamSink(jetStreamTestOptions(nats.url, { stream: 'FULL', subject: 'full.<store>', create_stream: false }), ctx());
    await full.open();
    await full.openStore(specOf('s'));
    const res = await full.write(
      's',
      [1, 2, 3, 4].map((i) => ({ timestamp: BigInt(i), data: Buffer.from('x') })),
    );
    assert.deepEqual(
      res.map((r) => r.ok),
      [true, true, true, false],
    );
    assert.ok(!res[3].ok && res[3].code === 'TSS_ERR_UPSTREAM');
    assert.match(!res[3].ok ? res[3].message : '', /stream 'FULL' is full: maximum messages exceeded/);
    await full.close();

    const secured = await NatsServer.start({ args: ['--auth', 'right-token'] });
    try {
      const wrong = new NatsJetStreamSink(jetStreamTestOptions(secured.url, { token: 'wrong-token' }), ctx());
      await wrong.open();
      await wrong.openStore(specOf('s'));
      await assert.rejects(wrong.write('s', [{ data: Buffer.from('x') }]), (e: { code?: string; message: string }) => {
        assert.equal(e.code, 'TSS_ERR_UPSTREAM');
        assert.match(e.message, /authentication failed|authorization/i);
        return true;
      });
      await wrong.close();
      const right = new NatsJetStreamSink(jetStreamTestOptions(secured.url, { token: 'right-token' }), ctx());
      await right.open();
      await right.createStore(specOf('s'));
      const w = await right.write('s', [{ data: Buffer.from('x') }]);
      assert.ok(w[0].ok);
      await right.close();
    } finally {
      await secured.dispose();
    }
  });

  it('connects over TLS with a private CA, and names a certificate problem', async () => {
    const dir = tempDir('tss-tls-');
    // openssl makes the certificates, as for the HTTPS tests (test/support/tls.ts).
    const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=tss-test-ca']);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '1',
      '-extfile',
      'ext.cnf',
    ]);
    const secure = await NatsServer.start({ args: ['--tls', '--tlscert', path.join(dir, 'server.pem'), '--tlskey', path.join(dir, 'server.key')] });
    try {
      const good = new NatsJetStreamSink(jetStreamTestOptions(secure.url, { tls: { ca_file: path.join(dir, 'ca.pem') } }), ctx());
      await good.open();
      await good.createStore(specOf('s'));
      const res = await good.write('s', [{ data: Buffer.from('over tls') }]);
      assert.ok(res[0].ok);
      await good.close();
      const untrusted = new NatsJetStreamSink(jetStreamTestOptions(secure.url, { tls: true }), ctx());
      await untrusted.open();
      await untrusted.openStore(specOf('s'));
      await assert.rejects(untrusted.write('s', [{ data: Buffer.from('x') }]), (e: { code?: string; message: string }) => {
        assert.equal(e.code, 'TSS_ERR_UPSTREAM');
        assert.match(e.message, /NATS TLS handshake failed: .*certificate/);
        return true;
      });
      await untrusted.close();
    } finally {
      await secure.dispose();
    }
  });

  it('serves a pipeline from config: REST insert acknowledged after the PubAck, queries 501', async () => {
    const s = await startServer({
      pipelines: {
        main: {
          inputs: { api: { type: 'rest' } },
          sink: { type: 'nats_jetstream', servers: [nats.url], stream: 'E2E', subject: 'e2e.<store>', create_stream: true },
        },
      } as never,
    });
    try {
      const key = await s.createStore('plant');
      const res = await api(s.url, 'POST', '/api/stores/plant/data', '{"timestamp": 1704067200000000001, "data": {"t": 1.50}}', {
        'X-API-Key': key,
        'Content-Type': 'application/json',
      });
      assert.equal(res.status, 201, res.text);
      const jsm = await nc.jetstreamManager();
      const m = await jsm.streams.getMessage('E2E', { last_by_subj: 'e2e.plant' });
      assert.equal(Buffer.from(m.data).toString(), '{"t": 1.50}');
      const q = await api(s.url, 'GET', '/api/stores/plant/data/time/1704067200000000001', undefined, { 'X-API-Key': key });
      assert.equal(q.status, 501, q.text);
      assert.match(q.text, /does not serve reads/);
    } finally {
      await s.stop();
    }
  });
});

describe('nats_jetstream options', () => {
  it('sample.yaml is a valid config; a subject must end with <store>', async () => {
    const { problems, pipelines } = await checkConfig({ file: path.join(ROOT, 'plugins/sinks/nats_jetstream/sample.yaml'), env: {} });
    assert.deepEqual(problems, []);
    assert.ok(pipelines.length >= 1);
    const bad = descriptor.options.validate({ servers: ['nats://x'], subject: 'a.<store>.b' });
    assert.match(bad.error?.message ?? '', /ending with <store>/);
    assert.equal(descriptor.options.validate({ servers: ['nats://x'], token: 't', user: 'u', pass: 'p' }).error?.details[0].type, 'object.oxor');
  });
});
