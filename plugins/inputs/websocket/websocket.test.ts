import assert from 'node:assert/strict';
import type http from 'node:http';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { WsClient } from '../../../test/support/clients.js';
import { api, startServer, tempDir, type TestServer } from '../../../test/support/server.js';
import { parseJsonExact } from 'tsstore/plugin';

const pipelines = (stream: Record<string, unknown> = {}) => ({
  main: {
    inputs: { api: { type: 'rest' }, stream: { type: 'websocket', max_message: 4096, ping_interval_ms: 5000, ...stream } },
    stages: [{ type: 'validate' }],
    sink: { type: 'blockfile' },
  },
});

type Frame = { type: string; timestamp?: bigint; block_num?: number; size?: number; message?: string; code?: string };
const frame = (text: string): Frame => parseJsonExact(text) as Frame;

function handshakeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error('handshake unexpectedly succeeded'));
    });
    ws.on('error', () => undefined);
  });
}

describe('websocket input', () => {
  let s: TestServer;
  let key: string;
  let wsBase: string;

  before(async () => {
    s = await startServer({ pipelines: pipelines(), config: { server: { ws_max_frame: 64 * 1024 } } });
    key = await s.createStore('sensors', { num_blocks: 4096 });
    wsBase = s.url.replace(/^http/, 'ws');
  });
  after(() => s.stop());

  const url = (store = 'sensors', query = `api_key=${key}`) => `${wsBase}/api/stores/${store}/ws/write?${query}`;

  it('acks with the exact client timestamp and stores data byte for byte', async () => {
    const exactKey = await s.createStore('exact');
    const c = await WsClient.open(url('exact', `api_key=${exactKey}`));
    c.send('{"timestamp": 1704067200000000001, "data": {"temperature": 72.5,  "room": "a"}}');
    const [ack] = await c.take(1);
    assert.equal(ack, '{"type":"ack","timestamp":1704067200000000001,"block_num":0,"size":35}'.replace('"block_num":0', `"block_num":${frame(ack).block_num}`));
    const back = await api(s.url, 'GET', '/api/stores/exact/data/time/1704067200000000001', undefined, { 'X-API-Key': exactKey });
    assert.equal(back.status, 200, back.text);
    assert.ok(back.text.endsWith(',"data":{"temperature": 72.5,  "room": "a"}}'), back.text);
    c.close();
  });

  it('takes the key from the query, X-API-Key or Authorization: Bearer', async () => {
    for (const [u, headers] of [
      [url(), {}],
      [url('sensors', ''), { 'X-API-Key': key }],
      [url('sensors', ''), { Authorization: `Bearer ${key}` }],
    ] as const) {
      const c = await WsClient.open(u, { headers });
      c.send('{"data": {"k": 1}}');
      assert.equal(frame((await c.take(1))[0]).type, 'ack');
      c.close();
    }
  });

  it('refuses bad keys, plain GETs and unknown formats before upgrading', async () => {
    assert.equal(await handshakeStatus(url('sensors', 'api_key=tsstore_00000000-0000-4000-8000-000000000000')), 401);
    assert.equal(await handshakeStatus(url('sensors', '')), 401);
    assert.equal(await handshakeStatus(url('nosuch')), 401, 'an unknown store answers like a wrong key');
    assert.equal(await handshakeStatus(url('sensors', `api_key=${key}&format=wide`)), 400);
    const plain = await api(s.url, 'GET', `/api/stores/sensors/ws/write?api_key=${key}`);
    assert.equal(plain.status, 426);
    assert.match(plain.json.error, /upgrade required/);
  });

  it('answers a handshake ws refuses with 400 and keeps serving (no handler left hanging)', async () => {
    const { port } = new URL(s.url);
    for (let i = 0; i < 20; i++) {
      const reply = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(Number(port), '127.0.0.1');
        let got = '';
        sock.on('data', (c) => {
          got += c.toString();
        });
        sock.on('close', () => resolve(got));
        sock.on('error', reject);
        sock.write(
          `GET /api/stores/sensors/ws/write?api_key=${key} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      assert.match(reply, /^HTTP\/1\.1 400/);
    }
    const c = await WsClient.open(url());
    c.send('{"data": "after bad handshakes"}');
    assert.equal(frame((await c.take(1))[0]).type, 'ack');
    c.close();
  });

  it('answers pipelined messages in order; an error never closes the connection', async () => {
    const c = await WsClient.open(url('sensors', `api_key=${key}&format=full`));
    const n = 2000;
    for (let i = 0; i < n; i++) {
      if (i % 100 === 10) c.send(`{"data": {"i": ${i}`);
      else if (i % 100 === 20) c.send(`{"timestamp": 5, "data": {"i": ${i}}}`);
      else if (i % 100 === 30) c.send(`{"timestamp": -3, "data": 1}`);
      else if (i % 100 === 40) c.send(`{"nodata": true}`);
      else c.send(`{"data": {"i": ${i}}}`);
    }
    const frames = (await c.take(n)).map(frame);
    let last = 0n;
    frames.forEach((f, i) => {
      const kind = i % 100;
      if (kind === 10) assert.match(f.message!, /^invalid JSON/);
      else if (kind === 20) assert.equal(f.message, 'timestamp must be greater than newest entry');
      else if (kind === 30) assert.match(f.message!, /^invalid timestamp/);
      else if (kind === 40) assert.equal(f.message, 'data is required');
      else {
        assert.equal(f.type, 'ack', `message ${i}: ${JSON.stringify(f.message)}`);
        assert.ok(f.timestamp! > last);
        last = f.timestamp!;
        return;
      }
      assert.equal(f.type, 'error', `message ${i}`);
    });
    c.send('{"data": "still open"}');
    assert.equal(frame((await c.take(1))[0]).type, 'ack');
    c.close();
  });

  it('answers an oversize message with an error frame and closes with 1009 above the hard frame cap', async () => {
    const c = await WsClient.open(url());
    c.send(`{"data": "${'x'.repeat(5000)}"}`);
    c.send('{"data": "small"}');
    const [big, small] = (await c.take(2)).map(frame);
    assert.equal(big.type, 'error');
    assert.match(big.message!, /^message too large: 5012 bytes, the limit is 4096$/);
    assert.equal(small.type, 'ack');
    c.send('x'.repeat(70 * 1024));
    assert.equal(await c.closed, 1009);
    const again = await WsClient.open(url());
    again.send('{"data": "server alive"}');
    assert.equal(frame((await again.take(1))[0]).type, 'ack');
    again.close();
  });

  it('serves 200 concurrent connections, each pipelining', async () => {
    const clients = await Promise.all(Array.from({ length: 200 }, () => WsClient.open(url())));
    clients.forEach((c, k) => {
      for (let i = 0; i < 10; i++) c.send(`{"data": {"c": ${k}, "i": ${i}}}`);
    });
    const all = await Promise.all(clients.map((c) => c.take(10)));
    const stamps = new Set<bigint>();
    for (const frames of all) {
      let last = 0n;
      for (const f of frames.map(frame)) {
        assert.equal(f.type, 'ack');
        assert.ok(f.timestamp! > last);
        last = f.timestamp!;
        stamps.add(f.timestamp!);
      }
    }
    assert.equal(stamps.size, 2000);
    for (const c of clients) c.close();
  });
});

describe('websocket input over TLS', () => {
  it('serves WSS on the HTTPS port, refusals included', async () => {
    const dir = tempDir('tss-tls-');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        path.join(dir, 'k.pem'),
        '-out',
        path.join(dir, 'c.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const s = await startServer({ pipelines: pipelines(), config: { server: { tls: { cert: path.join(dir, 'c.pem'), key: path.join(dir, 'k.pem') } } } });
    try {
      assert.match(s.url, /^https:/);
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
      const key = await s.createStore('sensors');
      const u = `${s.url.replace(/^https/, 'wss')}/api/stores/sensors/ws/write`;
      const c = await WsClient.open(`${u}?api_key=${key}`, { rejectUnauthorized: false });
      c.send('{"timestamp": 1704067200000000001, "data": {"secure": true}}');
      assert.equal(frame((await c.take(1))[0]).timestamp, 1704067200000000001n);
      c.close();
      const refused = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${u}?api_key=tsstore_00000000-0000-4000-8000-000000000000`, { rejectUnauthorized: false });
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          ws.terminate();
        });
        ws.on('error', () => undefined);
      });
      assert.equal(refused, 401);
    } finally {
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      await s.stop();
    }
  });
});

describe('websocket input liveness and shutdown', () => {
  it("is not taken for a stalled HTTP request by node's request timeouts after it has talked", async () => {
    // Node's timeout check runs every 20 ms here instead of every 30 s.
    const s = await startServer({ pipelines: pipelines({ ping_interval_ms: 0 }), nodeTimeouts: { connectionsCheckingInterval: 20 } });
    try {
      const key = await s.createStore('sensors');
      const c = await WsClient.open(`${s.url.replace(/^http/, 'ws')}/api/stores/sensors/ws/write?api_key=${key}`);
      c.send('{"data": 1}');
      await c.take(1);
      // Limits far below the WebSocket's quiet time from here on (set after the setup requests,
      // which must not meet them).
      const srv = (s.server.http as unknown as { server: http.Server }).server;
      srv.headersTimeout = 50;
      srv.requestTimeout = 100;
      // A request that never finishes its headers, opened after the WebSocket went quiet: once
      // node has answered it 408 for its headers timeout, the check has also judged the WebSocket.
      const { port } = new URL(s.url);
      const stalled = net.connect(Number(port), '127.0.0.1');
      stalled.on('error', () => undefined);
      stalled.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      const answer = await new Promise<string>((resolve) => {
        stalled.once('data', (d: Buffer) => resolve(d.toString()));
        stalled.once('close', () => resolve(''));
      });
      stalled.destroy();
      assert.match(answer, /^HTTP\/1\.1 408/);
      assert.equal(c.ws.readyState, WebSocket.OPEN);
      c.send('{"data": 2}');
      assert.equal(frame((await c.take(1))[0]).type, 'ack');
      c.close();
    } finally {
      await s.stop();
    }
  });

  it('keeps an idle client that answers pings, and drops a peer that does not', async () => {
    const s = await startServer({ pipelines: pipelines({ ping_interval_ms: 400 }) });
    const key = await s.createStore('sensors');
    const u = `${s.url.replace(/^http/, 'ws')}/api/stores/sensors/ws/write?api_key=${key}`;
    const idle = await WsClient.open(u);
    const threePings = new Promise<void>((resolve) => {
      let pings = 0;
      idle.ws.on('ping', () => {
        if (++pings === 3) resolve();
      });
    });
    const dead = await WsClient.open(u, { autoPong: false });
    assert.equal(await dead.closed, 1006);
    await threePings; // three ping periods idle, longer than the one that dropped the dead peer
    assert.equal(idle.ws.readyState, WebSocket.OPEN);
    idle.send('{"data": "after idling"}');
    assert.equal(frame((await idle.take(1))[0]).type, 'ack');
    idle.close();
    await s.stop();
  });

  it('acks what it received, then closes clients with 1001', async () => {
    const s = await startServer({ pipelines: pipelines() });
    const key = await s.createStore('sensors');
    const c = await WsClient.open(`${s.url.replace(/^http/, 'ws')}/api/stores/sensors/ws/write?api_key=${key}`);
    for (let i = 0; i < 500; i++) c.send(`{"data": {"i": ${i}}}`);
    await c.take(1);
    const stopped = s.stop();
    const code = await c.closed;
    await stopped;
    assert.equal(code, 1001);
    const acked = c.frames.length + 1;
    assert.ok(c.frames.every((f) => frame(f).type === 'ack'));
    assert.ok(acked <= 500);
  });
});
