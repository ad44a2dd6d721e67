import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, headers } from 'nats';
import { checkConfig } from 'tsstore';
import type { SinkContext, SinkStoreStats, StoreSpec } from 'tsstore/plugin';
import { silentLogger, sinkSuite } from 'tsstore/testing';
import { jetStreamTestOptions, NATS_SKIP, NatsServer } from '../../../test/support/nats-server.js';
import { ADMIN_KEY, api, ROOT, spawnServer, tempDir, writeConfig } from '../../../test/support/server.js';
import { CURSOR_FILE } from './forward-cursor.js';
import { BlockFileForwardSink } from './forwarding-sink.js';
import type { BlockFileForwardOptions } from './options.js';
import { DEFAULT_OPTIONS } from '../blockfile/options.js';

const tag = (s: string): string => crypto.createHash('sha1').update(s).digest('hex').slice(0, 10);
const ctx = (dataDir: string): SinkContext => ({ id: 'fwd', logger: silentLogger(), dataDir });

function forwardSink(url: string, dataDir: string, forward: Record<string, unknown> = {}): BlockFileForwardSink {
  const { batch = 500, ...link } = forward;
  const opts: BlockFileForwardOptions = { ...DEFAULT_OPTIONS, forward: { batch: batch as number, ...jetStreamTestOptions(url, link) } };
  return new BlockFileForwardSink(opts, ctx(dataDir));
}

function spec(dataDir: string, name: string, numBlocks = 256, dataBlockSize = 4096): StoreSpec {
  const dir = path.join(dataDir, name);
  fs.mkdirSync(dir, { recursive: true });
  return { name, dir, dataType: 'binary', numBlocks, dataBlockSize, indexBlockSize: 4096 };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Every record message on a subject: its Tss-Timestamp headers in stream order. */
async function streamTimestamps(url: string, stream: string, subject: string): Promise<string[]> {
  const nc = await connect({ servers: url });
  try {
    const js = nc.jetstream();
    const jsm = await nc.jetstreamManager();
    const total = (await jsm.streams.info(stream, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
    const out: string[] = [];
    if (total === 0) return out;
    const consumer = await js.consumers.get(stream, { filterSubjects: subject });
    const msgs = await consumer.consume({ max_messages: 1000 });
    for await (const m of msgs) {
      out.push(m.headers?.get('Tss-Timestamp') ?? '');
      if (out.length >= total) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

function assertExactlyOnce(got: string[], expected: bigint[]): void {
  assert.equal(new Set(got).size, got.length, `duplicates in the stream: ${got.length - new Set(got).size}`);
  assert.equal(got.length, expected.length, 'every acknowledged record is in the stream');
  const want = new Set(expected.map(String));
  for (const ts of got) assert.ok(want.has(ts), `unexpected record ${ts}`);
}

const extra = (s: SinkStoreStats): Record<string, number | string> => s.extra as Record<string, number | string>;

describe('blockfile_forward sink', { skip: NATS_SKIP }, () => {
  let nats: NatsServer;
  before(async () => {
    nats = await NatsServer.start();
  });
  after(async () => {
    await nats?.dispose();
  });

  sinkSuite('blockfile_forward', {
    createSink: (dataDir) => forwardSink(nats.url, dataDir, { stream: `F${tag(dataDir)}`, subject: `f${tag(dataDir)}.<store>` }),
  });

  it('forwards every record exactly once through a NATS restart in the middle of a flood', async (t) => {
    const dataDir = tempDir();
    const sink = forwardSink(nats.url, dataDir, { stream: 'FLOOD', subject: 'flood.<store>', ack_timeout: '1s' });
    t.after(() => sink.close());
    await sink.open();
    await sink.createStore(spec(dataDir, 'st', 1024));
    const acked: bigint[] = [];
    const writer = (async () => {
      for (let round = 0; round < 40; round++) {
        const res = (
          await Promise.all(
            Array.from({ length: 10 }, (_, k) =>
              sink.write(
                'st',
                Array.from({ length: 50 }, (_, i) => ({ data: Buffer.from(`r${round}-${k}-${i}`) })),
              ),
            ),
          )
        ).flat();
        for (const r of res) {
          assert.ok(r.ok, 'local writes never depend on the uplink');
          acked.push(r.timestamp);
        }
        if (round === 12) await nats.stop();
        if (round === 25) {
          const st = await until('the forwarder to notice the outage', async () => {
            const x = extra(await sink.stats('st'));
            return x.forwardState === 'waiting_uplink' ? x : undefined;
          });
          assert.notEqual(st.forwardUplink, 'connected');
          assert.ok(Number(st.forwardLagRecords) > 0);
          assert.ok(Number(st.forwardLagSeconds) > 0);
          assert.match(String(st.forwardLastError), /not connected|acknowledge|disconnected/);
          await nats.resume();
        }
      }
    })();
    await writer;
    const done = await until('forwarding to catch up', async () => {
      const s = extra(await sink.stats('st'));
      return s.forwardLagRecords === 0 && s.forwardState === 'idle' ? s : undefined;
    });
    assert.equal(done.forwardLostRecords, 0);
    assert.equal(done.forwardCursor, String(acked[acked.length - 1]));
    assert.equal(done.forwardLastError, '');
    await sink.close();
    assertExactlyOnce(await streamTimestamps(nats.url, 'FLOOD', 'flood.st'), acked);
  });

  it('counts the records lost when the ring wraps before the uplink returns', async () => {
    const dead = await NatsServer.start();
    await dead.stop();
    const dataDir = tempDir();
    const sink = forwardSink(dead.url, dataDir, { stream: 'WRAP', subject: 'wrap.<store>' });
    try {
      await sink.open();
      await sink.createStore(spec(dataDir, 'st', 8, 4096));
      const acked: bigint[] = [];
      for (let i = 0; i < 40; i++) {
        const res = await sink.write(
          'st',
          Array.from({ length: 25 }, () => ({ data: Buffer.alloc(100, i) })),
        );
        for (const r of res) if (r.ok) acked.push(r.timestamp);
      }
      assert.equal(acked.length, 1000);
      const inRing = (await sink.stats('st')).records;
      assert.ok(inRing < 1000, 'the ring wrapped');
      // The loss and the lag settle together once the forwarder has seen the wrap.
      const lostNow = await until('the loss to be counted', async () => {
        const x = extra(await sink.stats('st'));
        return Number(x.forwardLostRecords) === 1000 - inRing && x.forwardLagRecords === inRing ? x : undefined;
      });
      assert.equal(lostNow.forwardState, 'waiting_uplink');
      assert.match(String(lostNow.forwardLastError), /not connected|connection refused|cannot connect/i);
      assert.equal(lostNow.forwardLagRecords, inRing);
      assert.ok(Number(lostNow.forwardLagSeconds) > 0);
      await dead.resume();
      const done = await until('forwarding to catch up', async () => {
        const x = extra(await sink.stats('st'));
        return x.forwardLagRecords === 0 && x.forwardState === 'idle' ? x : undefined;
      });
      assert.equal(Number(done.forwardLostRecords), 1000 - inRing, 'lost = written - still in the ring, counted once');
      assert.equal(done.forwardedRecords, inRing);
      await sink.close();
      assertExactlyOnce(await streamTimestamps(dead.url, 'WRAP', 'wrap.st'), acked.slice(1000 - inRing));
      const saved = JSON.parse(fs.readFileSync(path.join(dataDir, 'st', CURSOR_FILE), 'utf8')) as { cursor: string; seq: number; lost: number };
      assert.deepEqual({ cursor: saved.cursor, lost: saved.lost }, { cursor: String(acked[999]), lost: 1000 - inRing });
      assert.ok(Number.isSafeInteger(saved.seq));
    } finally {
      await sink.close();
      await dead.dispose();
    }
  });

  it('reports a missing stream in stats, retries, and forwards once the stream exists', async () => {
    const dataDir = tempDir();
    const sink = forwardSink(nats.url, dataDir, { stream: 'LATE', subject: 'late.<store>', create_stream: false });
    const nc = await connect({ servers: nats.url });
    try {
      await sink.open();
      await sink.createStore(spec(dataDir, 'st'));
      const res = await sink.write(
        'st',
        Array.from({ length: 10 }, (_, i) => ({ data: Buffer.from(`x${i}`) })),
      );
      assert.ok(res.every((r) => r.ok));
      const failing = await until('the error to show', async () => {
        const x = extra(await sink.stats('st'));
        return x.forwardState === 'error' ? x : undefined;
      });
      assert.equal(failing.forwardUplink, 'connected');
      assert.match(String(failing.forwardLastError), /stream 'LATE' does not exist \(create it, or set create_stream: true\)/);
      assert.equal(failing.forwardLagRecords, 10);
      await (await nc.jetstreamManager()).streams.add({ name: 'LATE', subjects: ['late.>'] });
      await until('forwarding to catch up', async () => {
        const x = extra(await sink.stats('st'));
        return x.forwardLagRecords === 0 && x.forwardState === 'idle' ? x : undefined;
      });
      await sink.close();
      assertExactlyOnce(
        await streamTimestamps(nats.url, 'LATE', 'late.st'),
        res.map((r) => (r.ok ? r.timestamp : -1n)),
      );
    } finally {
      await sink.close();
      await nc.close();
    }
  });

  it('after a crash, skips exactly the records the stream already holds, even past the duplicate window', async () => {
    const nc = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'REC', subjects: ['rec.>'], duplicate_window: 100_000_000 });
    const dead = await NatsServer.start();
    await dead.stop();
    const dataDir = tempDir();
    const s1 = spec(dataDir, 'st');
    const opts = { stream: 'REC', subject: 'rec.<store>', create_stream: false, batch: 10 };
    try {
      const first = forwardSink(nats.url, dataDir, opts);
      await first.open();
      await first.createStore(s1);
      const a = await first.write(
        'st',
        Array.from({ length: 30 }, (_, i) => ({ data: Buffer.from(`a${i}`) })),
      );
      await until('the first records to be forwarded', async () => extra(await first.stats('st')).forwardLagRecords === 0);
      await first.close();
      // Ten more records stored while the uplink is unreachable...
      const offline = forwardSink(dead.url, dataDir, opts);
      await offline.open();
      await offline.openStore(s1);
      const b = await offline.write(
        'st',
        Array.from({ length: 10 }, (_, i) => ({ data: Buffer.from(`b${i}`) })),
      );
      await offline.close();
      const ts = [...a, ...b].map((r) => (r.ok ? r.timestamp : -1n));
      // ...of which three reached the stream with gaps before a crash lost their PubAcks.
      const js = nc.jetstream();
      for (const i of [31, 34, 39]) {
        const h = headers();
        h.set('Tss-Store', 'st');
        h.set('Tss-Timestamp', String(ts[i]));
        await js.publish('rec.st', Buffer.from(`b${i - 30}`), { headers: h, msgID: `st:${ts[i]}` });
      }
      await new Promise((r) => setTimeout(r, 300)); // past the duplicate window
      const again = forwardSink(nats.url, dataDir, opts);
      await again.open();
      await again.openStore(s1);
      await until('forwarding to catch up', async () => {
        const x = extra(await again.stats('st'));
        return x.forwardLagRecords === 0 && x.forwardState === 'idle' ? x : undefined;
      });
      await again.close();
      assertExactlyOnce(await streamTimestamps(nats.url, 'REC', 'rec.st'), ts);
    } finally {
      await nc.close();
      await dead.dispose();
    }
  });

  it('resumes after tsstore is killed with -9 mid-forward: exactly once in the stream', async () => {
    const dataDir = tempDir();
    const cfgDir = tempDir('tsstore-cfg-');
    const file = writeConfig(cfgDir, {
      pipelines: {
        main: {
          inputs: { api: { type: 'rest' } },
          sink: {
            type: 'blockfile_forward',
            forward: { servers: [nats.url], stream: 'KILL', subject: 'kill.<store>', create_stream: true, batch: 10, max_in_flight: 10, retry_max: '500ms' },
          },
        },
      },
    });
    const env = { TSSTORE_DATA_PATH: dataDir };
    const args = ['--config', file, '--no-socket'];
    await nats.stop();
    let srv = await spawnServer(args, env);
    const created = await api(srv.url, 'POST', '/api/stores', { name: 'plant', data_type: 'json' }, { 'X-Admin-Key': ADMIN_KEY });
    assert.equal(created.status, 201, created.text);
    const key = (created.json as { api_key: string }).api_key;
    const acked: bigint[] = [];
    for (let round = 0; round < 100; round++) {
      const res = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          api(srv.url, 'POST', '/api/stores/plant/data', `{"data":{"n":${round * 20 + i}}}`, { 'X-API-Key': key, 'Content-Type': 'application/json' }),
        ),
      );
      for (const r of res) {
        assert.equal(r.status, 201, r.text);
        acked.push(r.json.timestamp as bigint);
      }
    }
    const stats = await api(srv.url, 'GET', '/api/stores/plant/stats', undefined, { 'X-API-Key': key });
    assert.equal(stats.status, 200, stats.text);
    assert.equal(stats.json.forwardLagRecords, 2000);
    assert.equal(stats.json.forwardState, 'waiting_uplink');

    await nats.resume();
    const nc = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    const count = async (): Promise<number> => (await jsm.streams.info('KILL', { subjects_filter: 'kill.plant' })).state.subjects?.['kill.plant'] ?? 0;
    const mid = await until('forwarding to start', async () => {
      const n = await count().catch(() => 0);
      return n > 0 ? n : undefined;
    });
    srv.child.kill('SIGKILL');
    await srv.exited;
    const atKill = await count();
    assert.ok(mid > 0 && atKill < 2000, `killed mid-forward (${atKill} of 2000 forwarded)`);

    srv = await spawnServer(args, env);
    try {
      await until('forwarding to finish after the restart', async () => ((await count()) >= 2000 ? true : undefined));
      const after = await until('lag 0', async () => {
        const s = await api(srv.url, 'GET', '/api/stores/plant/stats', undefined, { 'X-API-Key': key });
        return s.json.forwardLagRecords === 0 && s.json.forwardState === 'idle' ? s.json : undefined;
      });
      assert.equal(after.forwardLostRecords, 0);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await count(), 2000);
    } finally {
      srv.child.kill('SIGTERM');
      await srv.exited;
      await nc.close();
    }
    assertExactlyOnce(await streamTimestamps(nats.url, 'KILL', 'kill.plant'), acked);
  });
});

describe('blockfile_forward options', () => {
  it('sample.yaml is a valid config; forward.servers is required', async () => {
    const { problems, pipelines } = await checkConfig({ file: path.join(ROOT, 'plugins/sinks/blockfile_forward/sample.yaml'), env: {} });
    assert.deepEqual(problems, []);
    assert.ok(pipelines.length >= 1);
    const { blockfileForwardSink } = await import('./index.js');
    assert.match(blockfileForwardSink.options.validate({ forward: { stream: 'X' } }).error?.message ?? '', /servers.*required/);
    assert.match(blockfileForwardSink.options.validate({}).error?.message ?? '', /forward.*required/);
  });
});
