/**
 * Adversarial (store-key holder): a pull connection must not make the server dial what only the
 * server can reach. With the default config, loopback, private, link-local (cloud metadata) and
 * "this network" targets are refused with 403 TSS_ERR_OUTBOUND_FORBIDDEN naming the URL, also when
 * a host name only resolves to one (checked after DNS), and also for connections restored from
 * disk; the connect itself uses only addresses that were checked (no DNS rebinding between check
 * and connect). The allow-list (`outbound.allow`) opens exactly what it names.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { OutboundPolicy, nonPublicReason, TssError } from 'tsstore/plugin';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { RemoteFeed } from '../../plugins/inputs/ws_pull/test-remote-feed.js';
import { connectionStatus, createConnection, pullPipelines, waitFor } from '../../plugins/inputs/ws_pull/test-support.js';
import { api, startServer, tempDir, writeConfig, type TestServer } from '../support/server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const post = (s: TestServer, store: string, key: string, url: string) =>
  api(s.url, 'POST', `/api/stores/${store}/ws/connections`, { mode: 'pull', url }, { 'X-API-Key': key });

describe('adversarial: outbound pull targets', () => {
  let feed: RemoteFeed;
  let s: TestServer;
  let key: string;
  before(async () => {
    feed = await RemoteFeed.start();
    s = await startServer({ pipelines: pullPipelines() });
    key = await s.createStore('ssrf');
  });
  after(async () => {
    await s?.stop();
    await feed?.stop();
  });

  it('refuses loopback, private, link-local and this-network targets with 403 naming the URL; the target is never dialled', async () => {
    const port = new URL(feed.url).port;
    const cases: [string, RegExp][] = [
      [feed.url, /127\.0\.0\.1, a loopback address/],
      [`ws://localhost:${port}/feed`, /localhost resolves to (127\.0\.0\.1|::1), a loopback address/],
      [`ws://[::ffff:127.0.0.1]:${port}/feed`, /IPv4-mapped 127\.0\.0\.1, a loopback address/],
      [`ws://[::1]:${port}/feed`, /::1, a loopback address/],
      [`ws://2130706433:${port}/feed`, /127\.0\.0\.1, a loopback address/],
      [`ws://0.0.0.0:${port}/feed`, /this network/],
      ['ws://169.254.169.254/latest/meta-data?token=secret', /link-local address \(cloud metadata/],
      ['wss://10.1.2.3/x', /private address/],
      ['ws://192.168.1.10:8080/x', /private address/],
      ['ws://[fd00:ec2::254]/', /unique local/],
      ['ws://[64:ff9b::7f00:1]/', /NAT64 127\.0\.0\.1/],
    ];
    for (const [url, reason] of cases) {
      const res = await post(s, 'ssrf', key, url);
      assert.equal(res.status, 403, `${url}: ${res.text}`);
      assert.equal(res.json.code, 'TSS_ERR_OUTBOUND_FORBIDDEN', url);
      const shown = new URL(url);
      assert.ok(res.json.error.includes(`${shown.protocol}//${shown.host}${shown.pathname}`), `names the URL: ${res.json.error}`);
      assert.match(res.json.error, reason);
      assert.match(res.json.error, /outbound\.allow/);
      assert.ok(!res.json.error.includes('secret'), 'the query (which may carry tokens) is not echoed');
    }
    const list = await api(s.url, 'GET', '/api/stores/ssrf/ws/connections', undefined, { 'X-API-Key': key });
    assert.equal(list.json.count, 0, 'no refused connection was stored');
    assert.equal(feed.handshakes, 0, 'the loopback feed was never dialled');
  });

  it('a stored connection whose target is not allowed any more is not dialled after a restart', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const open = await startServer({ dataDir, config: { outbound: { allow: ['127.0.0.1'] } }, pipelines: pullPipelines() });
    let k: string;
    let id: string;
    try {
      k = await open.createStore('restored');
      id = (await createConnection(open.url, 'restored', k, { mode: 'pull', url: feed.url })).id;
      await waitFor('connected', async () => (await connectionStatus(open.url, 'restored', k, id)).status === 'connected');
    } finally {
      await open.stop();
    }
    const before = feed.handshakes;
    const closed = await startServer({ dataDir, pipelines: pullPipelines() });
    try {
      const st = await waitFor('refused', async () => {
        const c = await connectionStatus(closed.url, 'restored', k, id);
        return c.status === 'error' && /not allowed/.test(String(c.last_error)) && c;
      });
      assert.match(String(st.last_error), /TSS_ERR_OUTBOUND_FORBIDDEN: outbound connection to ws:\/\/127\.0\.0\.1:\d+\/feed is not allowed/);
      assert.equal(feed.handshakes, before, 'the remote saw no handshake');
    } finally {
      await closed.stop();
    }
  });

  it('outbound.allow opens exactly what it names: a URL prefix at a path boundary, with allow_public false', async () => {
    const port = new URL(feed.url).port;
    const strict = await startServer({ config: { outbound: { allow: [`ws://127.0.0.1:${port}/feed`], allow_public: false } }, pipelines: pullPipelines() });
    try {
      const k = await strict.createStore('strict');
      const ok = await post(strict, 'strict', k, `${feed.url}?from=1`);
      assert.equal(ok.status, 201, ok.text);
      await waitFor('connected', async () => (await connectionStatus(strict.url, 'strict', k, ok.json.id)).status === 'connected');
      for (const url of [`ws://127.0.0.1:${port}/feedx`, `ws://127.0.0.1:${port}/other`, `wss://127.0.0.1:${port}/feed`, `ws://localhost:${port}/feed`]) {
        const res = await post(strict, 'strict', k, url);
        assert.equal(res.status, 403, `${url}: ${res.text}`);
      }
      // allow_public false: a public address needs a rule too.
      const pub = await post(strict, 'strict', k, 'ws://93.184.216.34/feed');
      assert.equal(pub.status, 403);
      assert.match(pub.json.error, /not in outbound\.allow \(outbound\.allow_public is false\)/);
    } finally {
      await strict.stop();
    }
  });
});

describe('OutboundPolicy (plugin kit)', () => {
  it('matches CIDRs, host names and wildcards; judges embedded IPv4', async () => {
    const fixed = (map: Record<string, string[]>) => async (h: string) => {
      if (!map[h]) throw Object.assign(new Error(`ENOTFOUND ${h}`), { code: 'ENOTFOUND' });
      return map[h];
    };
    const p = OutboundPolicy.from(
      { allow: ['10.0.0.0/8', 'historian.lan', '*.plant.example', '::1'] },
      fixed({
        'historian.lan': ['192.168.7.7'],
        'a.plant.example': ['172.16.0.1'],
        'plant.example': ['172.16.0.2'],
        'mixed.example': ['93.184.216.34', '127.0.0.1'],
        'public.example': ['93.184.216.34', '2606:2800:220:1::1'],
        'ten.example': ['10.9.9.9'],
      }),
    );
    assert.equal((await p.check('ws://10.2.3.4/')).allowedBy, '10.0.0.0/8');
    assert.equal((await p.check('ws://[::ffff:10.2.3.4]/')).allowedBy, '10.0.0.0/8');
    assert.equal((await p.check('ws://[::1]:9/')).allowedBy, '::1');
    assert.equal((await p.check('ws://historian.lan/')).allowedBy, 'historian.lan');
    assert.equal((await p.check('ws://a.plant.example/')).allowedBy, '*.plant.example');
    assert.equal((await p.check('ws://ten.example/')).allowedBy, '10.0.0.0/8');
    assert.equal((await p.check('ws://public.example/')).allowedBy, 'public');
    await assert.rejects(p.check('ws://plant.example/'), /plant\.example resolves to 172\.16\.0\.2, a private address/);
    await assert.rejects(p.check('ws://mixed.example/'), /mixed\.example resolves to 127\.0\.0\.1/, 'every resolved address must be allowed');
    await assert.rejects(p.check('ws://127.0.0.1/'), (err: unknown) => err instanceof TssError && err.status === 403);
    assert.equal((await p.check('ws://nowhere.invalid/')).allowedBy, 'unresolved');
    for (const [a, want] of [
      ['8.8.8.8', undefined],
      ['100.100.100.200', /shared/],
      ['255.255.255.255', /broadcast/],
      ['224.0.0.1', /multicast/],
      ['::', /unspecified/],
      ['fe80::1', /link-local/],
      ['2002:7f00:1::', /6to4 127\.0\.0\.1/],
      ['2002:808:808::', undefined],
      ['2606:4700::1111', undefined],
    ] as const) {
      const r = nonPublicReason(a);
      if (want === undefined) assert.equal(r, undefined, a);
      else assert.match(String(r), want, a);
    }
    for (const bad of ['ws://', 'not a host!', '10.0.0.0/33', 'ws://u:p@h/', 'ws://h/?q=1']) {
      assert.throws(() => OutboundPolicy.from({ allow: [bad] }), new RegExp(bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    }
  });

  it('pins the connect to checked addresses: a name that resolves elsewhere after the check is refused at connect', async () => {
    const feed = await RemoteFeed.start();
    try {
      const port = new URL(feed.url).port;
      let answers = 0;
      // First answer (the check): a public address; second (the connect's lookup): loopback.
      const p = OutboundPolicy.from({}, async () => (answers++ === 0 ? ['93.184.216.34'] : ['127.0.0.1']));
      const url = `ws://rebind.example:${port}/feed`;
      assert.equal((await p.check(url)).allowedBy, 'public');
      const ws = new WebSocket(url, { lookup: p.lookupFor(url) });
      const err = await new Promise<Error>((resolve) => ws.on('error', resolve));
      assert.ok(err instanceof TssError && err.code === 'TSS_ERR_OUTBOUND_FORBIDDEN', String(err));
      assert.match(err.message, /rebind\.example resolves to 127\.0\.0\.1, a loopback address/);
      assert.equal(feed.handshakes, 0);
      // The same lookup with an allowed answer connects (and only to what it checked).
      const ok = OutboundPolicy.from({ allow: ['127.0.0.1'] }, async () => ['127.0.0.1']);
      const ws2 = new WebSocket(url, { lookup: ok.lookupFor(url) });
      await new Promise<void>((resolve, reject) => {
        ws2.on('open', resolve);
        ws2.on('error', reject);
      });
      ws2.close();
      await waitFor('handshake', () => feed.handshakes === 1);
    } finally {
      await feed.stop();
    }
  });

  it('config: bad rules are config errors naming the entry; TSSTORE_OUTBOUND_ALLOW replaces the list', async () => {
    const dir = tempDir('tss-outbound-cfg-');
    dirs.push(dir);
    const file = writeConfig(dir, { outbound: { allow: ['10.0.0.0/8', 'bad host!'] } });
    await assert.rejects(
      loadConfig({ file, env: {} }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.path === 'outbound.allow' && p.message.includes('"bad host!"')),
    );
    const good = writeConfig(dir, { outbound: { allow: ['10.0.0.0/8'] } }, 'good.json');
    assert.deepEqual((await loadConfig({ file: good, env: {} })).outbound, { allow: ['10.0.0.0/8'], allow_public: true });
    const env = { TSSTORE_OUTBOUND_ALLOW: '127.0.0.1, ws://feeds.lan:8080/', TSSTORE_OUTBOUND_ALLOW_PUBLIC: 'false' };
    assert.deepEqual((await loadConfig({ file: good, env })).outbound, { allow: ['127.0.0.1', 'ws://feeds.lan:8080/'], allow_public: false });
    assert.deepEqual((await loadConfig({ file: writeConfig(dir, {}, 'none.json'), env: {} })).outbound, { allow: [], allow_public: true });
  });
});
