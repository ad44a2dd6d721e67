/**
 * Adversarial: one HTTP/1.1 connection pipelines POST .../data requests faster than the sink
 * commits and never waits for the answers. The server must stop reading that connection once a
 * bounded number of its requests are unanswered (like the WebSocket and Unix inputs), then answer
 * every request in order once the sink moves again.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sinkState } from '../fixtures/gated-sink.js';
import { until } from '../support/clients.js';
import { metricValue, parseMetrics } from '../support/prometheus.js';
import { ADMIN_KEY, api, startServer, type TestServer } from '../support/server.js';

/** Times the HTTP server stopped reading a connection for too many unanswered requests. */
async function pauses(url: string): Promise<number> {
  const m = parseMetrics((await api(url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY })).text);
  return metricValue(m, 'tsstore_http_reads_paused_total', {});
}

describe('adversarial: REST pipelining', () => {
  let s: TestServer;
  let key: string;

  before(async () => {
    s = await startServer({
      config: { plugins: [path.join(__dirname, '..', 'fixtures', 'gated-sink.js')] },
      pipelines: { main: { inputs: { api: { type: 'rest' } }, stages: [{ type: 'validate' }], sink: { type: 'gated_memory' } } },
    });
    key = await s.createStore('pipe');
  });
  after(async () => {
    sinkState.release();
    await s.stop();
  });

  it('stops reading a connection whose responses are pending, then answers every request in order', async () => {
    sinkState.reset();
    sinkState.hold();
    const { port } = new URL(s.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    let answers = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      answers += d;
    });
    const total = 10_000;
    const requests: string[] = [];
    for (let i = 0; i < total; i++) {
      const body = `{"data":{"seq":${i}}}`;
      requests.push(
        `POST /api/stores/pipe/data HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
    }
    try {
      const before = await pauses(s.url);
      socket.write(requests.join(''));
      await until(async () => (await pauses(s.url)) > before, 20_000, 'the HTTP server to stop reading the connection');
      const received = sinkState.received;
      assert.ok(received > 0, 'the server read some requests');
      assert.ok(received < total / 4, `the server kept reading a connection with ${received} unanswered requests`);
      assert.ok(socket.writableLength > 0 || received < total, 'the client still has unsent requests');
      sinkState.release();
      await until(() => (answers.match(/HTTP\/1\.1 /g) ?? []).length === total, 60_000, `${total} answers`);
      const statuses = answers.match(/HTTP\/1\.1 \d+/g) ?? [];
      assert.ok(
        statuses.every((x) => x === 'HTTP/1.1 201'),
        `statuses: ${[...new Set(statuses)].join(',')}`,
      );
      const seqs = [...answers.matchAll(/"timestamp":(\d+)/g)].map((m) => BigInt(m[1]));
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], 'answers come in request order');
      assert.equal(sinkState.received, total);
    } finally {
      socket.destroy();
    }
  });
});
