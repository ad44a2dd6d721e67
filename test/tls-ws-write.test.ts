// Needs the websocket input (branch `streaming`): WSS to the real write route, answered by an ack.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ADMIN_KEY, startServer, type TestServer } from './support/server.js';
import { httpsRequest, makeSelfSignedCert, type TestCert } from './support/tls.js';

describe('TLS: WebSocket write over wss://', () => {
  let cert: TestCert;
  let s: TestServer;
  let key: string;
  before(async () => {
    cert = makeSelfSignedCert();
    s = await startServer({ config: { server: { tls: { cert: cert.certFile, key: cert.keyFile } } } });
    const created = await httpsRequest(
      `${s.url}/api/stores`,
      'POST',
      '{"name":"wss"}',
      { 'X-Admin-Key': ADMIN_KEY, 'Content-Type': 'application/json' },
      cert.cert,
    );
    key = (JSON.parse(created.text) as { api_key: string }).api_key;
  });
  after(() => s.stop());

  it('acknowledges a record written over WSS with its exact timestamp', async () => {
    const ws = new WebSocket(`${s.url.replace('https:', 'wss:')}/api/stores/wss/ws/write?api_key=${key}`, { ca: cert.cert });
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    const reply = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
    ws.send('{"timestamp":1704067200000000001,"data":{"over":"tls"}}');
    assert.equal(await reply, '{"type":"ack","timestamp":1704067200000000001,"block_num":0,"size":14}');
    ws.close();
  });
});
