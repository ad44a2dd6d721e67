/**
 * Adversarial (anyone who can reach the port, or holds some store key): store names are not
 * public. /metrics needs the admin key or the scrape token (`server.metrics_token`) unless
 * `server.public_metrics` opens it, and a well-formed key on a store that does not exist is
 * answered exactly as a wrong key on one that does, on every protocol (no store probing).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { LineClient } from '../support/clients.js';
import { ADMIN_KEY, api, startServer, tempDir, writeConfig, type TestServer } from '../support/server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const TOKEN = 'scrape-token-0123456789abcdef';
const STORE = 'secret-plant';

describe('adversarial: /metrics and store probing', () => {
  let s: TestServer;
  let socketPath: string;
  before(async () => {
    const sockDir = tempDir('tss-probe-sock-');
    dirs.push(sockDir);
    socketPath = path.join(sockDir, 'tsstore.sock');
    s = await startServer({ socketPath, config: { server: { metrics_token: TOKEN } } });
    await s.createStore(STORE);
  });
  after(async () => {
    await s?.stop();
  });

  it('/metrics needs the admin key or the metrics token; without one it names no store', async () => {
    for (const headers of [
      {},
      { Authorization: 'Bearer wrong-token-0123456789abcdef' },
      { 'X-Admin-Key': 'wrong-admin-key-0123456789' },
      { 'X-Admin-Key': TOKEN },
      { Authorization: `Basic ${TOKEN}` },
    ] as Record<string, string>[]) {
      const res = await api(s.url, 'GET', '/metrics', undefined, headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.json.code, 'TSS_ERR_METRICS_UNAUTHORIZED');
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="tsstore metrics"');
      assert.ok(!res.text.includes(STORE));
    }
    const none = await api(s.url, 'GET', '/metrics');
    assert.match(none.json.error, /server\.metrics_token/);
    for (const headers of [{ Authorization: `Bearer ${TOKEN}` }, { 'X-Admin-Key': ADMIN_KEY }, { Authorization: `Bearer ${ADMIN_KEY}` }] as Record<
      string,
      string
    >[]) {
      const res = await api(s.url, 'GET', '/metrics', undefined, headers);
      assert.equal(res.status, 200, JSON.stringify(headers));
      assert.ok(res.text.includes(`store="${STORE}"`), 'the scraper sees every store');
    }
    assert.equal((await api(s.url, 'GET', '/health')).status, 200, '/health stays open');
    assert.equal((await api(s.url, 'GET', '/ready')).status, 200, '/ready stays open');
  });

  it('server.public_metrics: true serves /metrics without a key', async () => {
    const open = await startServer({ config: { server: { public_metrics: true } } });
    try {
      await open.createStore('listed');
      const res = await api(open.url, 'GET', '/metrics');
      assert.equal(res.status, 200);
      assert.ok(res.text.includes('store="listed"'));
    } finally {
      await open.stop();
    }
  });

  it('a well-formed key on an unknown store answers exactly as a wrong key on a known one, on REST, WebSocket and the Unix socket', async () => {
    const key = `tsstore_${randomUUID()}`;
    const reference = `tsstore_${'x'.repeat(40)}`;
    const answer = async (store: string, k: string): Promise<string[]> => {
      const h = { 'X-API-Key': k };
      const out: string[] = [];
      for (const [method, p, body] of [
        ['POST', `/api/stores/${store}/data`, { data: 1 }],
        ['GET', `/api/stores/${store}/data/newest`],
        ['GET', `/api/stores/${store}/stats`],
        ['GET', `/api/stores/${store}/ws/connections`],
        ['POST', `/api/stores/${store}/ws/connections`, { mode: 'pull', url: 'wss://example.com/' }],
        ['GET', `/api/stores/${store}/schema`],
        ['DELETE', `/api/stores/${store}`],
      ] as [string, string, unknown?][]) {
        const res = await api(s.url, method, p, body, h);
        out.push(`${method} ${p.replace(store, 'S')}: ${res.status} ${res.text.replaceAll(store, 'S')}`);
      }
      const ws = new WebSocket(`${s.url.replace('http', 'ws')}/api/stores/${store}/ws/write`, { headers: h });
      out.push(
        `ws: ${await new Promise<string>((resolve) => {
          ws.on('unexpected-response', (_req, res) => {
            let t = '';
            res.on('data', (c: Buffer) => {
              t += c;
            });
            res.on('end', () => resolve(`${res.statusCode} ${t.replaceAll(store, 'S')}`));
          });
          ws.on('open', () => {
            ws.close();
            resolve('open');
          });
          ws.on('error', (e) => resolve(`error ${e.message}`));
        })}`,
      );
      const c = await LineClient.connect(socketPath);
      c.send(`AUTH ${store} ${k}\n`);
      out.push(`unix: ${(await c.take(1))[0].replaceAll(store, 'S')}`);
      c.close();
      return out;
    };
    for (const k of [key, reference]) {
      const known = await answer(STORE, k);
      const unknown = await answer('no-such-store', k);
      assert.deepEqual(unknown, known);
      assert.ok(
        known.every((line) => !/404|not found/i.test(line)),
        known.join('\n'),
      );
    }
    assert.match((await answer('no-such-store', key))[0], /^POST \/api\/stores\/S\/data: 401 .*TSS_ERR_API_KEY_INVALID/);
    // The admin key (which may list stores anyway) is still told the store does not exist.
    assert.equal((await api(s.url, 'GET', '/api/stores/no-such-store/stats', undefined, { 'X-Admin-Key': ADMIN_KEY })).status, 404);
  });

  it('config: a short or blank metrics token is refused; TSSTORE_METRICS_TOKEN sets it', async () => {
    const dir = tempDir('tss-metrics-cfg-');
    dirs.push(dir);
    const short = writeConfig(dir, { server: { metrics_token: 'short' } });
    await assert.rejects(
      loadConfig({ file: short, env: {} }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.path === 'server.metrics_token' && /at least 20/.test(p.message)),
    );
    const blank = writeConfig(dir, { server: { metrics_token: '  '.repeat(12) } }, 'blank.json');
    await assert.rejects(
      loadConfig({ file: blank, env: {} }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.path === 'server.metrics_token'),
    );
    const none = writeConfig(dir, {}, 'none.json');
    const cfg = await loadConfig({ file: none, env: { TSSTORE_METRICS_TOKEN: TOKEN } });
    assert.equal(cfg.server.metrics_token, TOKEN);
    assert.equal(cfg.server.public_metrics, false);
  });
});
