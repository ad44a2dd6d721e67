import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ADMIN_KEY, api, startServer, type TestServer } from '../../../test/support/server.js';
import { loggableUrl } from './pull-connection.js';
import { FEED_BASE, RemoteFeed } from './test-remote-feed.js';
import {
  allRecords,
  connectionStatus,
  createConnection,
  feedProblems,
  LOOPBACK_ALLOWED,
  pullPipelines,
  waitFor,
  type ConnectionStatus,
} from './test-support.js';

describe('ws_pull: resume, dedupe and failures against a real remote', () => {
  let s: TestServer;
  const feeds: RemoteFeed[] = [];
  const newFeed = async (): Promise<RemoteFeed> => {
    const f = await RemoteFeed.start();
    feeds.push(f);
    return f;
  };
  before(async () => {
    s = await startServer({ config: LOOPBACK_ALLOWED, pipelines: pullPipelines({ type: 'memory' }, { max_message_size: 1024 }) });
  });
  after(async () => {
    await s.stop();
    for (const f of feeds) await f.stop();
  });

  /** A store with one connection to `url`; returns a status probe. */
  async function connect(
    store: string,
    url: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ key: string; id: string; status: () => Promise<ConnectionStatus> }> {
    const key = await s.createStore(store, extra.data_type ? { data_type: extra.data_type } : {});
    const c = await createConnection(s.url, store, key, { mode: 'pull', url });
    return { key, id: c.id, status: () => connectionStatus(s.url, store, key, c.id) };
  }

  it('stores every record exactly once across several remote disconnects, resuming from the cursor', async () => {
    const feed = await newFeed();
    feed.closeAfter = 70;
    feed.produce(300);
    const c = await connect('r-once', feed.url);
    await waitFor('300 records', async () => (await c.status()).records_stored === 300);
    const rows = await allRecords(s.url, 'r-once', c.key);
    assert.equal(feedProblems(rows, 300), undefined);
    const st = await c.status();
    assert.ok(st.connects >= 5, `connects ${st.connects}`);
    assert.equal(st.cursor, FEED_BASE + 300n);
    assert.equal(st.last_timestamp, FEED_BASE + 300n);
    // Each resumed dial offered the cursor; the remote replays from it, so each replay's first
    // record is skipped as a duplicate (not an error).
    assert.equal(feed.resumeSeen[0], null);
    for (const from of feed.resumeSeen.slice(1)) assert.match(String(from), /^17040672000000\d{5}$/);
    assert.equal(st.duplicates, feed.handshakes - 1);
    assert.equal(st.records_stored + st.duplicates, st.messages_received);
    // Remote closes are visible as errors and are retried.
    assert.match(String(st.last_error), /remote closed the connection \(code 1000/);
    assert.ok(st.errors >= st.connects - 1);

    feed.closeAfter = undefined;
    feed.produce(50);
    await waitFor('350 records', async () => (await c.status()).records_stored === 350);
    assert.equal(feedProblems(await allRecords(s.url, 'r-once', c.key), 350), undefined);
  });

  it('skips everything a remote that ignores the cursor replays, counting duplicates, not errors', async () => {
    const feed = await newFeed();
    feed.honourResume = false;
    feed.produce(150);
    const c = await connect('r-replay', feed.url);
    await waitFor('150 records', async () => (await c.status()).records_stored === 150);
    const errorsBefore = (await c.status()).errors;
    await feed.stop();
    feed.produce(100);
    await feed.restart();
    await waitFor('250 records', async () => (await c.status()).records_stored === 250);
    const st = await c.status();
    assert.equal(st.duplicates, 150);
    assert.equal(feedProblems(await allRecords(s.url, 'r-replay', c.key), 250), undefined);
    assert.ok(st.errors > errorsBefore, 'the outage itself is visible');
  });

  it('publishes connection states and reconnects on /metrics, and never logs URL secrets', async () => {
    const metric = async (line: RegExp): Promise<number | undefined> => {
      const text = (await api(s.url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY })).text;
      const m = text.split('\n').find((l) => line.test(l));
      return m === undefined ? undefined : Number(m.split(' ').pop());
    };
    const feed = await newFeed();
    feed.produce(5);
    const c = await connect('r-metrics', feed.url.replace('ws://', 'ws://user:secret@') + '?token=hush');
    await waitFor('connected', async () => (await c.status()).status === 'connected');
    assert.equal(await metric(/^tsstore_input_connections\{.*store="r-metrics".*state="connected"/), 1);
    await feed.stop();
    await waitFor('down', async () => (await c.status()).status !== 'connected');
    assert.equal(await metric(/^tsstore_input_connections\{.*store="r-metrics".*state="connected"/), 0);
    await feed.restart();
    await waitFor('reconnected', async () => (await c.status()).status === 'connected');
    assert.equal(await metric(/^tsstore_input_reconnects_total\{.*store="r-metrics"/), 1);
    const logged = loggableUrl(feed.url.replace('ws://', 'ws://user:secret@') + '?token=hush');
    assert.ok(!/secret|hush|user/.test(logged), logged);
    assert.match(logged, /^ws:\/\/127\.0\.0\.1:\d+\/feed$/);
    const states = (await api(s.url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY })).text
      .split('\n')
      .filter((l) => /^tsstore_input_connections\{.*store="r-metrics"/.test(l));
    assert.equal(
      states.reduce((n, l) => n + Number(l.split(' ').pop()), 0),
      1,
      'one connection, counted in exactly one state',
    );
  });

  it('retries refused connections with backoff and catches up when the remote is back', async () => {
    const feed = await newFeed();
    feed.produce(20);
    const c = await connect('r-refused', feed.url);
    await waitFor('20 records', async () => (await c.status()).records_stored === 20);
    await feed.stop();
    const down = await waitFor('refused retries', async () => {
      const st = await c.status();
      return st.errors >= 3 && /ECONNREFUSED/.test(String(st.last_error)) && st;
    });
    assert.ok(['error', 'connecting'].includes(down.status), down.status);
    feed.produce(30);
    await feed.restart();
    await waitFor('50 records', async () => (await c.status()).records_stored === 50);
    assert.equal((await c.status()).status, 'connected');
    assert.equal(feedProblems(await allRecords(s.url, 'r-refused', c.key), 50), undefined);

    // A remote that refuses the handshake itself (HTTP 503).
    feed.setMode('refuse');
    await feed.stop();
    await feed.restart();
    const refused = await waitFor('a refused handshake', async () => {
      const st = await c.status();
      return /503/.test(String(st.last_error)) && st;
    });
    assert.equal(refused.status === 'connected', false);
    feed.setMode('stream');
    feed.produce(5);
    await waitFor('55 records', async () => (await c.status()).records_stored === 55);
  });

  it('counts and skips garbage, envelopes without data, bad timestamps and oversize messages; the connection stays', async () => {
    const feed = await newFeed();
    feed.produce(10);
    const c = await connect('r-garbage', feed.url);
    await waitFor('10 records', async () => (await c.status()).records_stored === 10);
    feed.sendRaw('this is not json');
    feed.sendRaw('[1, 2, 3]');
    feed.sendRaw('{"timestamp": "soon", "data": {"n": -1}}');
    feed.sendRaw(`{"timestamp": ${FEED_BASE + 10n}}`); // no data: ignored, never stored empty
    feed.sendRaw('{"type": "hello"}');
    feed.sendRaw(`{"timestamp": ${FEED_BASE + 11n}, "data": "${'x'.repeat(2000)}"}`); // above max_message_size (1024)
    feed.produce(10);
    await waitFor('20 records', async () => (await c.status()).records_stored === 20);
    const st = await c.status();
    assert.equal(st.errors, 4);
    assert.equal(st.ignored, 2);
    assert.equal(st.connects, 1, 'never reconnected');
    assert.equal(st.status, 'connected');
    assert.equal(feedProblems(await allRecords(s.url, 'r-garbage', c.key), 20), undefined);
  });

  it('counts records the pipeline rejects (wrong data for the store type) and keeps going', async () => {
    const feed = await newFeed();
    const c = await connect('r-text', feed.url, { data_type: 'text' });
    await waitFor('connected', async () => (await c.status()).status === 'connected');
    feed.sendRaw(`{"timestamp": ${FEED_BASE + 1n}, "data": "first line"}`);
    feed.sendRaw(`{"timestamp": ${FEED_BASE + 2n}, "data": {"not": "text"}}`);
    feed.sendRaw(`{"timestamp": ${FEED_BASE + 3n}, "data": "third line"}`);
    await waitFor('2 records', async () => (await c.status()).records_stored === 2);
    const st = await c.status();
    assert.equal(st.errors, 1);
    assert.match(String(st.last_error), /text stores take a JSON string/);
    assert.equal(st.cursor, FEED_BASE + 3n);
    const rows = await allRecords(s.url, 'r-text', c.key);
    assert.deepEqual(
      rows.map((r) => r.timestamp),
      [FEED_BASE + 1n, FEED_BASE + 3n],
    );
  });

  it('keeps a connection to a remote that stays silent far longer than the ping and pong timeouts', async () => {
    const feed = await newFeed();
    feed.setMode('silent');
    const c = await connect('r-silent', feed.url);
    await waitFor('connected', async () => (await c.status()).status === 'connected');
    const pings = feed.pings;
    await waitFor('15 pings', () => feed.pings >= pings + 15); // 15 ping intervals, 3 times the pong timeout
    const st = await c.status();
    assert.equal(st.status, 'connected');
    assert.equal(st.connects, 1);
    assert.equal(st.errors, 0);
    assert.equal(feed.handshakes, 1);
    feed.produce(25);
    feed.setMode('stream');
    await waitFor('25 records', async () => (await c.status()).records_stored === 25);
    assert.equal((await c.status()).connects, 1);
  });

  it('detects a dead peer (no pongs) and redials', async () => {
    const feed = await newFeed();
    feed.produce(5);
    const c = await connect('r-dead', feed.url);
    await waitFor('5 records', async () => (await c.status()).records_stored === 5);
    feed.freeze();
    const st = await waitFor('a redial after the dead peer', async () => {
      const x = await c.status();
      return x.connects >= 2 && x;
    });
    assert.match(String(st.last_error), /no pong/);
    feed.produce(5);
    await waitFor('10 records', async () => (await c.status()).records_stored === 10);
    assert.equal(feedProblems(await allRecords(s.url, 'r-dead', c.key), 10), undefined);
  });

  it('retries TLS failures, DNS failures and handshakes that hang, each visible in the status', async () => {
    const feed = await newFeed();
    const tls = await connect('r-tls', feed.url.replace('ws://', 'wss://'));
    const dns = await connect('r-dns', 'ws://tsstore-pull-test.invalid:9/feed');
    const hung = net.createServer(() => undefined); // accepts TCP, never answers the upgrade
    const sockets = new Set<net.Socket>();
    hung.on('connection', (sock) => {
      sockets.add(sock);
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    try {
      const hang = await connect('r-hang', `ws://127.0.0.1:${(hung.address() as net.AddressInfo).port}/feed`);
      for (const [what, c] of [
        ['tls', tls],
        ['dns', dns],
        ['hang', hang],
      ] as const) {
        const st = await waitFor(`${what} retried`, async () => {
          const x = await c.status();
          return x.errors >= 2 && x;
        });
        assert.ok(['error', 'connecting'].includes(st.status), `${what}: ${st.status}`);
        assert.equal(st.connects, 0);
        assert.ok(st.last_error && st.last_error.length > 0, what);
      }
      assert.match(String((await hang.status()).last_error), /handshake did not complete within 1000 ms/);
      assert.equal(feed.handshakes, 0, 'a TLS client never reached the plain remote as a WebSocket');
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => hung.close(() => r()));
    }
  });

  it('commits a fast stream in batches', async () => {
    const feed = await newFeed();
    feed.produce(5000);
    const c = await connect('r-fast', feed.url);
    await waitFor('5000 records', async () => (await c.status()).records_stored === 5000, 30_000);
    const st = await c.status();
    assert.ok(st.batches < st.records_stored / 5, `batches ${st.batches} for ${st.records_stored} records`);
    assert.equal(feedProblems(await allRecords(s.url, 'r-fast', c.key), 5000), undefined);
  });
});
