/**
 * The live read stream on a real server: stored records then new ones, exact timestamps in the
 * ws_pull envelope, from=oldest|now|<ts>, filter, schema formats, errors at the handshake, a
 * reader that stops reading (bounded: it is told what it missed, never skipped silently), and a
 * store deleted under a reader.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { parseJsonExact } from 'tsstore/plugin';
import { until, WsClient } from '../../../test/support/clients.js';
import { ADMIN_KEY, api, startServer, type TestServer } from '../../../test/support/server.js';

const T1 = 1704067200000000001n;

async function post(srv: TestServer, store: string, key: string, body: string): Promise<bigint[]> {
  const res = await api(srv.url, 'POST', `/api/stores/${store}/data/batch`, body, { 'X-API-Key': key, 'Content-Type': 'application/x-ndjson' });
  assert.equal(res.status, 200, res.text);
  return (res.json as { results: { timestamp: bigint }[] }).results.map((r) => r.timestamp);
}

function wsUrl(srv: TestServer, store: string, query: string): string {
  return `${srv.url.replace(/^http/, 'ws')}/api/stores/${store}/ws/read?${query}`;
}

type Msg = { timestamp: bigint; data: unknown } | { type: 'missed'; count: number };
const parse = (frames: string[]): Msg[] => frames.map((f) => parseJsonExact(f) as Msg);

describe('ws_read output (live read stream)', () => {
  let srv: TestServer;
  let key: string;
  before(async () => {
    srv = await startServer();
    key = await srv.createStore('live');
  });
  after(() => srv.stop());

  it('sends the stored records after `from`, then each new record once durable, exactly', async () => {
    await post(srv, 'live', key, `{"timestamp":${T1},"data":{"v":1}}\n{"timestamp":${T1 + 1n},"data":{"v":"two"}}`);
    const c = await WsClient.open(wsUrl(srv, 'live', `from=oldest&api_key=${key}`));
    const first = await c.take(2);
    assert.deepEqual(first, [`{"timestamp":${T1},"data":{"v":1}}`, `{"timestamp":${T1 + 1n},"data":{"v":"two"}}`]);
    const tail = await WsClient.open(wsUrl(srv, 'live', 'from=now'), { headers: { 'X-API-Key': key } });
    const after1 = await WsClient.open(wsUrl(srv, 'live', `from=${T1}&api_key=${key}`));
    assert.deepEqual(await after1.take(1), [`{"timestamp":${T1 + 1n},"data":{"v":"two"}}`]);
    const more = await post(srv, 'live', key, Array.from({ length: 300 }, (_, i) => `{"data":{"n":${i}}}`).join('\n'));
    for (const client of [c, tail, after1]) {
      const got = parse(await client.take(300)) as { timestamp: bigint; data: { n: number } }[];
      assert.deepEqual(
        got.map((m) => m.timestamp),
        more,
      );
      assert.deepEqual(
        got.map((m) => m.data.n),
        Array.from({ length: 300 }, (_, i) => i),
      );
    }
    for (const client of [c, tail, after1]) client.close();
  });

  it('filters on the rendered data and renders schema stores full or compact', async () => {
    const skey = await srv.createStore('sch', { data_type: 'schema' });
    const put = await api(
      srv.url,
      'PUT',
      '/api/stores/sch/schema',
      {
        fields: [
          { index: 1, name: 'temp', type: 'float64' },
          { index: 2, name: 'room', type: 'string' },
        ],
      },
      { 'X-API-Key': skey },
    );
    assert.equal(put.status, 200, put.text);
    const full = await WsClient.open(wsUrl(srv, 'sch', `from=oldest&filter=KITCHEN&filter_ignore_case=true&api_key=${skey}`));
    const compact = await WsClient.open(wsUrl(srv, 'sch', `from=oldest&format=compact&api_key=${skey}`));
    const ts = await post(srv, 'sch', skey, '{"data":{"temp":20.5,"room":"hall"}}\n{"data":{"temp":21,"room":"kitchen"}}');
    assert.deepEqual(await full.take(1), [`{"timestamp":${ts[1]},"data":{"temp":21,"room":"kitchen"}}`]);
    assert.deepEqual(await compact.take(2), [`{"timestamp":${ts[0]},"data":{"1":20.5,"2":"hall"}}`, `{"timestamp":${ts[1]},"data":{"1":21,"2":"kitchen"}}`]);
    full.close();
    compact.close();
  });

  it('refuses a bad key, a bad `from` and a plain HTTP request with clear errors', async () => {
    const status = (url: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          ws.terminate();
        });
        ws.on('open', () => {
          ws.close();
          reject(new Error('opened'));
        });
        ws.on('error', () => undefined);
      });
    assert.equal(await status(wsUrl(srv, 'live', 'api_key=tsstore_00000000-0000-4000-8000-000000000000')), 401);
    assert.equal(await status(wsUrl(srv, 'live', `from=yesterday&api_key=${key}`)), 400);
    assert.equal(await status(wsUrl(srv, 'nope', `api_key=${key}`)), 401);
    const plain = await api(srv.url, 'GET', `/api/stores/live/ws/read?api_key=${key}`);
    assert.equal(plain.status, 426, plain.text);
  });

  it('a reader that stops reading pauses only itself and is told exactly how many records it missed', async () => {
    const res = await api(srv.url, 'POST', '/api/stores', { name: 'ring', num_blocks: 64, data_block_size: 65536 }, { 'X-Admin-Key': ADMIN_KEY });
    assert.equal(res.status, 201, res.text);
    const rkey = (res.json as { api_key: string }).api_key;
    const slow = await WsClient.open(wsUrl(srv, 'ring', `from=oldest&api_key=${rkey}`));
    slow.ws.pause();
    const fast = await WsClient.open(wsUrl(srv, 'ring', `from=now&api_key=${rkey}`));
    const pad = 'x'.repeat(1000);
    const written: bigint[] = [];
    for (let i = 0; i < 30; i++) {
      written.push(...(await post(srv, 'ring', rkey, Array.from({ length: 1000 }, (_, k) => `{"data":{"n":${i * 1000 + k},"pad":"${pad}"}}`).join('\n'))));
      // The fast reader keeps up while the slow one is stalled.
      const got = parse(await fast.take(1000)) as { timestamp: bigint }[];
      assert.deepEqual(
        got.map((m) => m.timestamp),
        written.slice(i * 1000),
      );
    }
    slow.ws.resume();
    let received: bigint[] = [];
    let missed = 0;
    await until(
      () => {
        for (const m of parse(slow.frames.splice(0))) {
          if ('type' in m) missed += m.count;
          else received.push(m.timestamp);
        }
        return received.length + missed >= written.length;
      },
      60_000,
      'the slow reader to get every record or a notice for it',
    );
    assert.ok(missed > 0, 'the ring overwrote records the stalled reader had not taken');
    assert.equal(received.length + missed, written.length);
    assert.ok(
      received.every((t, i) => i === 0 || t > received[i - 1]),
      'in order',
    );
    assert.deepEqual(received.slice(-100), written.slice(-100));
    received = [];
    slow.close();
    fast.close();
  });

  it('closes readers of a deleted store', async () => {
    const dkey = await srv.createStore('gone');
    const c = await WsClient.open(wsUrl(srv, 'gone', `api_key=${dkey}`));
    assert.equal((await api(srv.url, 'DELETE', '/api/stores/gone', undefined, { 'X-API-Key': dkey })).status, 200);
    assert.equal(await c.closed, 1001);
  });
});
