import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Context } from 'koa';
import WebSocket from 'ws';
import { ADMIN_KEY, runCli, spawnServer, startServer, tempDir, type TestServer } from './support/server.js';
import { httpsRequest, makeSelfSignedCert, type TestCert } from './support/tls.js';

describe('TLS: HTTPS and WSS on the same port', () => {
  let cert: TestCert;
  let s: TestServer;
  before(async () => {
    cert = makeSelfSignedCert();
    s = await startServer({ config: { server: { tls: { cert: cert.certFile, key: cert.keyFile } } } });
    // A WebSocket route through the server's own koa app (the streaming inputs add theirs the same way).
    s.server.http.router.get('/test/echo', async (ctx: Context & { ws?: () => Promise<WebSocket> }) => {
      if (!ctx.ws) {
        ctx.status = 426;
        ctx.body = 'upgrade required';
        return;
      }
      const ws = await ctx.ws();
      ws.on('error', () => undefined);
      ws.on('message', (m) => ws.send(`echo ${m.toString()}`));
    });
  });
  after(() => s.stop());

  it('serves the REST API over HTTPS with a verified certificate', async () => {
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const created = await httpsRequest(
      `${s.url}/api/stores`,
      'POST',
      '{"name":"secure"}',
      { 'X-Admin-Key': ADMIN_KEY, 'Content-Type': 'application/json' },
      cert.cert,
    );
    assert.equal(created.status, 201, created.text);
    assert.equal(created.authorized, true, 'the client verified the server certificate');
    const key = (JSON.parse(created.text) as { api_key: string }).api_key;
    const insert = await httpsRequest(
      `${s.url}/api/stores/secure/data`,
      'POST',
      '{"timestamp":1704067200000000001,"data":{"t":1}}',
      { 'X-API-Key': key, 'Content-Type': 'application/json' },
      cert.cert,
    );
    assert.equal(insert.status, 201, insert.text);
    assert.equal(insert.text, '{"timestamp":1704067200000000001,"block_num":0,"size":7}');
    const back = await httpsRequest(`${s.url}/api/stores/secure/data/time/1704067200000000001`, 'GET', undefined, { 'X-API-Key': key }, cert.cert);
    assert.equal(back.text, '{"timestamp":1704067200000000001,"block_num":0,"size":7,"data":{"t":1}}');
    const health = await httpsRequest(`${s.url}/health`, 'GET', undefined, {}, cert.cert);
    assert.equal(health.status, 200);
  });

  it('refuses plain HTTP clients and untrusting TLS clients on that port', async () => {
    await assert.rejects(fetch(s.url.replace('https:', 'http:') + '/health'));
    await assert.rejects(httpsRequest(`${s.url}/health`, 'GET', undefined, {}, Buffer.from('')), /self-signed|certificate/i);
  });

  it('upgrades WebSockets over TLS (wss://) on the same port', async () => {
    const ws = new WebSocket(`${s.url.replace('https:', 'wss:')}/test/echo`, { ca: cert.cert });
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const reply = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
    ws.send('hello');
    assert.equal(await reply, 'echo hello');
    ws.close();
  });
});

describe('TLS from the command line', () => {
  it('serve --tls-cert/--tls-key serves HTTPS', async () => {
    const cert = makeSelfSignedCert();
    const dataDir = tempDir();
    const srv = await spawnServer(['--no-socket', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile], { TSSTORE_DATA_PATH: dataDir });
    try {
      assert.match(srv.url, /^https:/);
      const res = await httpsRequest(`${srv.url}/ready`, 'GET', undefined, {}, cert.cert);
      assert.equal(res.status, 200, res.text);
      // The CLI finds the server through the data path's lock and talks HTTPS to it.
      const env = { TSSTORE_DATA_PATH: dataDir, TSSTORE_ADMIN_KEY: ADMIN_KEY };
      assert.equal((await runCli(['create', 'tls'], { env })).code, 0);
      const file = path.join(tempDir(), 'in.ndjson');
      const records = '{"timestamp":1704067200000000001,"data":{"a":1}}\n{"timestamp":1704067200000000002,"data":[2]}\n';
      fs.writeFileSync(file, records);
      const imported = await runCli(['import', 'tls', file], { env });
      assert.match(imported.stderr, /Imported 2 records into tls via server https:/);
      assert.equal((await runCli(['export', 'tls'], { env })).stdout, records);
      const status = JSON.parse((await runCli(['status', '--json', '--interval', '0ms'], { env })).stdout) as { stores: { store: string; records: number }[] };
      assert.deepEqual(
        status.stores.map((x) => [x.store, x.records]),
        [['tls', 2]],
      );
    } finally {
      srv.child.kill('SIGTERM');
      assert.equal(await srv.exited, 0);
    }
  });

  it('refuses to start with a missing certificate file, naming it', async () => {
    const cert = makeSelfSignedCert();
    const missing = path.join(tempDir(), 'nope.pem');
    const dataDir = tempDir();
    const r = await runCli(['serve', '--no-socket', '--port', '0', '--tls-cert', missing, '--tls-key', cert.keyFile], {
      env: { TSSTORE_ADMIN_KEY: ADMIN_KEY, TSSTORE_DATA_PATH: dataDir },
    });
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(`cannot read the TLS certificate file ${missing}: ENOENT`), r.stderr);
    assert.equal(fs.existsSync(path.join(dataDir, 'tsstore.lock')), false, 'nothing was locked or started');
  });

  it('refuses a file that is not a PEM certificate, and a half TLS configuration', async () => {
    const cert = makeSelfSignedCert();
    const junk = path.join(tempDir(), 'junk.pem');
    fs.writeFileSync(junk, 'not a certificate\n');
    const env = { TSSTORE_ADMIN_KEY: ADMIN_KEY, TSSTORE_DATA_PATH: tempDir(), TSSTORE_TLS_CERT: junk, TSSTORE_TLS_KEY: cert.keyFile };
    const bad = await runCli(['serve', '--no-socket', '--port', '0'], { env });
    assert.equal(bad.code, 2, bad.stderr);
    assert.ok(bad.stderr.includes(`the certificate ${junk} and key ${cert.keyFile} are not a usable PEM pair`), bad.stderr);
    const half = await runCli(['serve', '--no-socket', '--port', '0'], { env: { ...env, TSSTORE_TLS_KEY: '' } });
    assert.equal(half.code, 2, half.stderr);
    assert.match(half.stderr, /server\.tls: needs both a certificate and a key/);
  });
});
