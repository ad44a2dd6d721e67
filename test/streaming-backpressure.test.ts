/**
 * Acknowledgement, group commit and back-pressure across the streaming inputs, against a sink
 * whose writes wait while the test holds a gate (test/fixtures/gated-sink.ts).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sinkState } from './fixtures/gated-sink.js';
import { LineClient, until, WsClient } from './support/clients.js';
import { metricValue, parseMetrics } from './support/prometheus.js';
import { ADMIN_KEY, api, startServer, tempDir, type TestServer } from './support/server.js';

/** Times the input paused reading from a connection of store `bp` (the server's own back-pressure signal). */
async function pauses(url: string, input: 'local' | 'stream'): Promise<number> {
  const m = parseMetrics((await api(url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY })).text);
  return metricValue(m, 'tsstore_input_reads_paused_total', { input, store: 'bp' });
}

describe('streaming inputs against a gated sink', () => {
  let s: TestServer;
  let key: string;
  let sock: string;
  let wsUrl: string;

  before(async () => {
    sock = path.join(tempDir('tss-bp-'), 'bp.sock');
    s = await startServer({
      socketPath: sock,
      config: { plugins: [path.join(__dirname, 'fixtures', 'gated-sink.js')] },
      pipelines: {
        main: {
          inputs: { api: { type: 'rest' }, stream: { type: 'websocket', max_in_flight: 64 }, local: { type: 'unix_socket', max_in_flight: 64 } },
          stages: [{ type: 'validate' }],
          sink: { type: 'gated_memory' },
        },
      },
    });
    key = await s.createStore('bp');
    wsUrl = `${s.url.replace(/^http/, 'ws')}/api/stores/bp/ws/write?api_key=${key}`;
  });
  after(async () => {
    sinkState.release();
    await s.stop();
  });
  beforeEach(() => {
    sinkState.release();
    sinkState.reset();
  });

  it('acknowledges nothing before the sink has written it', async () => {
    sinkState.hold();
    const line = await LineClient.auth(sock, 'bp', key);
    const ws = await WsClient.open(wsUrl);
    line.send('{"via":"socket"}\n');
    ws.send('{"data":{"via":"ws"}}');
    const rest = api(s.url, 'POST', '/api/stores/bp/data', '{"data":{"via":"rest"}}', { 'X-API-Key': key, 'Content-Type': 'application/json' });
    await until(() => sinkState.received === 3, 5000, 'the sink to receive 3 records');
    // Round trips after the sink got all three: an early acknowledgement would have been written
    // before these answers (the WebSocket's pong comes after its earlier frames; the server is one
    // process, so the Unix socket's bytes are in by the time a later HTTP answer is).
    await ws.barrier();
    assert.equal((await api(s.url, 'GET', '/health')).status, 200);
    assert.equal(line.lines.length, 0);
    assert.equal(ws.frames.length, 0);
    sinkState.release();
    assert.match((await line.take(1))[0], /^OK \d+$/);
    assert.match((await ws.take(1))[0], /^\{"type":"ack"/);
    assert.equal((await rest).status, 201);
    line.close();
    ws.close();
  });

  it('commits records of many connections together: one write for many records', async () => {
    sinkState.hold();
    const lines = await Promise.all(Array.from({ length: 20 }, () => LineClient.auth(sock, 'bp', key)));
    const wss = await Promise.all(Array.from({ length: 5 }, () => WsClient.open(wsUrl)));
    lines.forEach((c, k) => c.send(Array.from({ length: 10 }, (_, i) => `{"c":${k},"i":${i}}\n`).join('')));
    wss.forEach((c, k) => {
      for (let i = 0; i < 10; i++) c.send(`{"data":{"w":${k},"i":${i}}}`);
    });
    await until(() => sinkState.received === 250, 5000, 'all 250 records to reach the sink');
    sinkState.release();
    await Promise.all([...lines.map((c) => c.take(10)), ...wss.map((c) => c.take(10))]);
    assert.ok(sinkState.writes.length < 25, `writes: ${sinkState.writes.join(',')}`);
    assert.ok(Math.max(...sinkState.writes) > 10, `writes: ${sinkState.writes.join(',')}`);
    for (const c of lines) c.close();
    for (const c of wss) c.close();

    sinkState.reset();
    const batch = Array.from({ length: 1000 }, (_, i) => `{"data":{"i":${i}}}`).join('\n');
    const res = await api(s.url, 'POST', '/api/stores/bp/data/batch', batch, { 'X-API-Key': key, 'Content-Type': 'application/x-ndjson' });
    assert.equal(res.json.accepted, 1000);
    assert.deepEqual(sinkState.writes, [1000]);
  });

  it('Unix socket: stops reading a client that floods faster than the sink commits, loses nothing', async () => {
    sinkState.hold();
    const c = await LineClient.auth(sock, 'bp', key);
    const total = 100_000;
    const before = await pauses(s.url, 'local');
    c.send(Array.from({ length: total }, (_, i) => `{"seq":${i}}\n`).join(''));
    await until(async () => (await pauses(s.url, 'local')) > before, 20_000, 'the Unix-socket input to pause reading');
    const received = sinkState.received;
    assert.ok(received < total / 4, `the server kept reading: ${received} records reached the sink`);
    assert.ok(c.socket.writableLength > 0, 'the client still has unsent bytes: the server stopped reading');
    const m = parseMetrics((await api(s.url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY })).text);
    assert.equal(metricValue(m, 'tsstore_input_open_connections', { input: 'local', store: 'bp' }), 1);
    sinkState.release();
    const replies = await c.take(total, 60_000);
    assert.ok(replies.every((r) => r.startsWith('OK ')));
    assert.equal(sinkState.received, total);
    c.close();
  });

  it('Unix socket: stops reading a client that does not read its replies', async () => {
    const c = await LineClient.auth(sock, 'bp', key);
    c.socket.pause();
    const total = 200_000;
    const before = await pauses(s.url, 'local');
    c.send(Array.from({ length: total }, (_, i) => `{"seq":${i}}\n`).join(''));
    await until(async () => (await pauses(s.url, 'local')) > before, 20_000, 'the Unix-socket input to pause reading');
    const received = sinkState.received;
    assert.ok(received < total, `the server kept reading: ${received} records`);
    c.socket.resume();
    const replies = await c.take(total, 60_000);
    assert.ok(replies.every((r) => r.startsWith('OK ')));
    assert.equal(sinkState.received, total);
    c.close();
  });

  it('WebSocket: stops reading a flooding client and one that does not read its acks, loses nothing', async () => {
    sinkState.hold();
    const c = await WsClient.open(wsUrl);
    const total = 30_000;
    const before = await pauses(s.url, 'stream');
    for (let i = 0; i < total; i++) c.send(`{"data":{"seq":${i}}}`);
    await until(async () => (await pauses(s.url, 'stream')) > before, 20_000, 'the WebSocket input to pause reading');
    const received = sinkState.received;
    assert.ok(received < total / 4, `the server kept reading: ${received} records reached the sink`);
    const m = parseMetrics((await api(s.url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY })).text);
    assert.equal(metricValue(m, 'tsstore_input_open_connections', { input: 'stream', store: 'bp' }), 1);
    sinkState.release();
    const frames = await c.take(total, 60_000);
    assert.ok(frames.every((f) => f.startsWith('{"type":"ack"')));
    assert.equal(sinkState.received, total);

    sinkState.reset();
    c.ws.pause(); // the client stops reading its acknowledgements
    const more = 150_000;
    const paused = await pauses(s.url, 'stream');
    for (let i = 0; i < more; i++) c.send(`{"data":{"more":${i}}}`);
    await until(async () => (await pauses(s.url, 'stream')) > paused, 20_000, 'the WebSocket input to pause reading');
    const got = sinkState.received;
    assert.ok(got < more, `the server kept reading: ${got} records`);
    c.ws.resume();
    const acks = await c.take(more, 60_000);
    assert.ok(acks.every((f) => f.startsWith('{"type":"ack"')));
    assert.equal(sinkState.received, more);
    c.close();
  });
});
