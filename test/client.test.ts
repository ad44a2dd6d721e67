/**
 * tsstore/client against real servers: the REST calls, the WebSocket and Unix-socket writers
 * (window, back-pressure, server timestamps) and reconnection through a real TCP/Unix proxy that
 * swallows the acknowledgements and then drops the connection, so the writer must re-send records
 * the server already stored — and the store must end up with each record exactly once.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TsstoreClient, TsstoreError, UnixSocketWriter, WebSocketWriter, type Pending } from '../src/client/index.js';
import { until } from './support/clients.js';
import { ADMIN_KEY, startServer, tempDir, type TestServer } from './support/server.js';

/** A byte proxy to `target` (TCP port or socket path) that can stop forwarding answers and drop every connection. */
class Proxy {
  muted = false;
  connections = 0;
  private readonly open = new Set<net.Socket>();
  private readonly server: net.Server;
  constructor(private readonly target: number | string) {
    this.server = net.createServer((client) => {
      this.connections++;
      const upstream = typeof target === 'number' ? net.connect(target, '127.0.0.1') : net.connect(target);
      this.open.add(client).add(upstream);
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => {
        if (!this.muted) client.write(d);
      });
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.open.delete(client);
        this.open.delete(upstream);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  }
  listen(at: number | string): Promise<void> {
    return new Promise((resolve) => this.server.listen(at as number, '127.0.0.1', () => resolve()));
  }
  listenPath(p: string): Promise<void> {
    return new Promise((resolve) => this.server.listen(p, () => resolve()));
  }
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }
  dropAll(): void {
    for (const s of this.open) s.destroy();
  }
  close(): Promise<void> {
    this.dropAll();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('tsstore/client', () => {
  let s: TestServer;
  let sock: string;
  let admin: TsstoreClient;

  before(async () => {
    sock = path.join(tempDir('tss-client-'), 'tsstore.sock');
    s = await startServer({ socketPath: sock });
    admin = new TsstoreClient({ url: s.url, adminKey: ADMIN_KEY });
  });
  after(async () => {
    admin.close();
    await s.stop();
  });

  it('REST: stores and keys with the admin key, insert, batch, reads and paging with after', async () => {
    const created = await admin.createStore('rest', { num_blocks: 256 });
    assert.equal(created.name, 'rest');
    assert.match(created.apiKey, /^tsstore_/);
    assert.ok((await admin.listStores()).includes('rest'));
    const c = new TsstoreClient({ url: s.url, apiKey: created.apiKey });
    try {
      const t0 = 1_704_067_200_000_000_001n;
      const one = await c.insert('rest', { timestamp: t0, json: '{"t": 21.50,  "big": 18446744073709551615}' });
      assert.deepEqual([one.timestamp, one.size], [t0, 42]);
      const batch = await c.insertBatch('rest', [
        { timestamp: t0 + 1n, data: { i: 1 } },
        { timestamp: t0, data: { i: 'old' } },
        ...Array.from({ length: 48 }, (_, i) => ({ timestamp: t0 + 2n + BigInt(i), data: { i: i + 2 } })),
      ]);
      assert.equal(batch.length, 50);
      assert.ok(batch[0].ok && batch[0].timestamp === t0 + 1n);
      assert.ok(!batch[1].ok && batch[1].code === 'TSS_ERR_TIMESTAMP_ORDER');
      const got = await c.get('rest', t0);
      assert.equal(got?.json, '{"t": 21.50,  "big": 18446744073709551615}');
      assert.equal(await c.get('rest', t0 + 1000n), undefined);
      assert.deepEqual(
        (await c.newest('rest', { limit: 2 })).map((r) => r.timestamp),
        [t0 + 49n, t0 + 48n],
      );
      assert.deepEqual(
        (await c.oldest('rest', { limit: 2 })).map((r) => (r.data as { t?: number; i?: number }).t ?? (r.data as { i: number }).i),
        [21.5, 1],
      );
      assert.deepEqual(
        (await c.range('rest', { after: t0 + 10n, end: t0 + 12n })).map((r) => r.timestamp),
        [t0 + 11n, t0 + 12n],
      );
      const all: bigint[] = [];
      for await (const r of c.scan('rest', { pageSize: 7 })) all.push(r.timestamp);
      assert.deepEqual(
        all,
        Array.from({ length: 50 }, (_, i) => t0 + BigInt(i)),
      );
      const some: bigint[] = [];
      for await (const r of c.scan('rest', { pageSize: 4, start: t0 + 5n, limit: 9, includeData: false })) {
        assert.equal(r.json, undefined);
        some.push(r.timestamp);
      }
      assert.deepEqual(
        some,
        Array.from({ length: 9 }, (_, i) => t0 + 5n + BigInt(i)),
      );
      const stats = await c.stats('rest');
      assert.deepEqual([stats.records, stats.oldest, stats.newest, stats.dataType], [50, t0, t0 + 49n, 'json']);
      assert.equal(await c.deleteRecord('rest', t0 + 3n), true);
      assert.equal(await c.get('rest', t0 + 3n), undefined);

      const keys = await admin.listKeys('rest');
      assert.deepEqual(
        keys.map((k) => k.keyId),
        [created.keyId],
      );
      const fresh = await admin.regenerateKey('rest');
      await assert.rejects(c.stats('rest'), (e: TsstoreError) => e.status === 401 && e.code === 'TSS_ERR_API_KEY_INVALID');
      const c2 = new TsstoreClient({ url: s.url, apiKey: fresh.apiKey });
      assert.equal((await c2.stats('rest')).records, 49);
      await admin.revokeKey('rest', fresh.keyId);
      await assert.rejects(c2.stats('rest'), (e: TsstoreError) => e.status === 401);
      c2.close();
      await assert.rejects(new TsstoreClient({ url: s.url, apiKey: fresh.apiKey }).listStores(), /needs the admin key/);
      await admin.deleteStore('rest');
      assert.ok(!(await admin.listStores()).includes('rest'));
    } finally {
      c.close();
    }
  });

  for (const transport of ['websocket', 'unix'] as const) {
    it(`${transport} writer: a bounded window, back-pressure, server timestamps in order`, async () => {
      const store = `win-${transport}`;
      const { apiKey } = await admin.createStore(store, { num_blocks: 1024 });
      const w =
        transport === 'websocket'
          ? await WebSocketWriter.open({ url: s.url, store, apiKey, window: 8 })
          : await UnixSocketWriter.open({ path: sock, store, apiKey, window: 8 });
      const pending: Pending[] = [];
      let maxInFlight = 0;
      for (let i = 0; i < 500; i++) {
        pending.push(await w.write({ data: { i } }));
        maxInFlight = Math.max(maxInFlight, w.inFlight);
      }
      assert.equal(maxInFlight, 8, 'the window fills and never overflows');
      const acks = await Promise.all(pending.map((p) => p.acked));
      acks.forEach((ts, i) => assert.equal(ts, pending[i].timestamp, `record ${i} keeps its client timestamp`));
      for (let i = 1; i < acks.length; i++) assert.ok(acks[i] > acks[i - 1]);
      const refused = await w.write({ timestamp: 1n, data: { old: true } });
      await assert.rejects(refused.acked, (e: TsstoreError) => /timestamp must be greater than newest entry/.test(e.message));
      assert.ok((await w.writeAndWait({ data: 'after an error' })) > acks[499]);
      await w.close();
      await assert.rejects(w.write({ data: 1 }), /closed/);
      assert.equal((await admin.stats(store)).records, 501);
    });

    it(`${transport} writer: re-sends what was not acknowledged after a drop, without duplicates`, async () => {
      const store = `resend-${transport}`;
      const { apiKey } = await admin.createStore(store, { num_blocks: 1024 });
      const rest = new TsstoreClient({ url: s.url, apiKey });
      const proxy = new Proxy(transport === 'websocket' ? Number(new URL(s.url).port) : sock);
      const reconnects: number[] = [];
      const opts = { window: 64, reconnect: { minMs: 20, maxMs: 200 }, onReconnect: (i: { attempt: number }) => reconnects.push(i.attempt) };
      let w: WebSocketWriter | UnixSocketWriter;
      if (transport === 'websocket') {
        await proxy.listen(0);
        w = await WebSocketWriter.open({ url: `http://127.0.0.1:${proxy.port}`, store, apiKey, ...opts }, rest);
      } else {
        const p = path.join(tempDir('tss-proxy-'), 'proxy.sock');
        await proxy.listenPath(p);
        w = await UnixSocketWriter.open({ path: p, store, apiKey, confirm: rest, ...opts });
      }
      try {
        const first = await Promise.all(Array.from({ length: 10 }, async (_, i) => (await w.write({ data: { i } })).acked));
        assert.equal(first.length, 10);
        proxy.muted = true; // the server stores the next records; their acks never reach the writer
        const second: Pending[] = [];
        for (let i = 10; i < 30; i++) second.push(await w.write({ data: { i } }));
        await until(async () => (await rest.stats(store)).records === 30, 20_000, 'the server stored all 30');
        assert.equal(w.inFlight, 20);
        proxy.muted = false;
        proxy.dropAll();
        const acks = await Promise.all(second.map((p) => p.acked));
        acks.forEach((ts, i) => assert.equal(ts, second[i].timestamp));
        assert.equal(w.reconnects, 1);
        assert.equal(w.resent, 20);
        assert.ok(reconnects.length >= 1);
        // After the reconnect the stream carries on normally.
        const later = await Promise.all(Array.from({ length: 5 }, async (_, i) => (await w.write({ data: { i: 30 + i } })).acked));
        assert.equal(later.length, 5);
        await w.close();
        const seen: number[] = [];
        for await (const r of rest.scan(store)) seen.push((r.data as { i: number }).i);
        assert.deepEqual(
          seen,
          Array.from({ length: 35 }, (_, i) => i),
          'each record exactly once, in order',
        );
      } finally {
        w.destroy();
        rest.close();
        await proxy.close();
      }
    });
  }

  it('refuses at once a writer whose key or store is wrong (no endless redial)', async () => {
    const { apiKey } = await admin.createStore('refuse');
    await assert.rejects(
      WebSocketWriter.open({ url: s.url, store: 'nope', apiKey }),
      (e: TsstoreError) => e.status === 401,
      'an unknown store answers like a wrong key',
    );
    await assert.rejects(UnixSocketWriter.open({ path: sock, store: 'refuse', apiKey: 'tsstore_00000000-0000-4000-8000-000000000000' }), /invalid API key/);
    const w = await UnixSocketWriter.open({ path: sock, store: 'refuse', apiKey });
    await assert.rejects(w.write({ json: '{"a":\n1}' }), /one line/);
    await w.close();
  });

  it('without envelopes (the reference Unix protocol) the server picks timestamps', async () => {
    const { apiKey } = await admin.createStore('plain');
    const w = await UnixSocketWriter.open({ path: sock, store: 'plain', apiKey, envelopes: false });
    const a = await w.writeAndWait({ json: '{"x": 1}' });
    const b = await w.writeAndWait({ json: '{"x": 2}' });
    assert.ok(b > a);
    await assert.rejects(w.write({ timestamp: 5n, data: 1 }), /server assigns timestamps/);
    await w.close();
    assert.equal((await admin.get('plain', a))?.json, '{"x": 1}');
  });
});
