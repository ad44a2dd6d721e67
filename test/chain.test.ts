/**
 * Chaining edge → hub: a hub tsstore's ws_pull connection pointed at an edge tsstore's live read
 * stream pulls a store exactly once. Two real servers (child processes), the edge flooded, the
 * hub killed with -9 and then the edge killed with -9 mid-stream, both restarted: every record
 * the edge acknowledged is in the hub exactly once, in order, with its data.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { until } from './support/clients.js';
import { freePort } from './support/nats-server.js';
import { ADMIN_KEY, api, spawnServer, tempDir, writeConfig, type ChildServer } from './support/server.js';

const dirs: string[] = [];
const children: ChildServer[] = [];
after(() => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function temp(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

function config(dir: string): string {
  return writeConfig(dir, {
    // The hub dials the edge on this machine: loopback must be allowed (refused by default).
    outbound: { allow: ['127.0.0.1'] },
    pipelines: {
      main: {
        inputs: { api: { type: 'rest' }, edge: { type: 'ws_pull', backoff_min_ms: 100, backoff_max_ms: 500, persist_interval_ms: 200 } },
        stages: [{ type: 'validate' }],
        sink: { type: 'blockfile' },
        outputs: { live: { type: 'ws_read' } },
      },
    },
  });
}

async function start(dataDir: string, cfg: string, port: number): Promise<ChildServer> {
  const s = await spawnServer(['--config', cfg, '--no-socket', '--port', String(port)], { TSSTORE_DATA_PATH: dataDir });
  children.push(s);
  return s;
}

async function kill9(s: ChildServer): Promise<void> {
  s.child.kill('SIGKILL');
  await s.exited;
}

describe('edge → hub chain', () => {
  it('pulls every edge record into the hub exactly once, in order, across kill -9 of the hub and then the edge', async () => {
    const edgeData = temp('tsstore-edge-');
    const hubData = temp('tsstore-hub-');
    const cfg = config(temp('tsstore-chain-cfg-'));
    const edgePort = await freePort();
    const hubPort = await freePort();
    let edge = await start(edgeData, cfg, edgePort);
    let hub = await start(hubData, cfg, hubPort);
    const edgeKey = (
      (await api(edge.url, 'POST', '/api/stores', { name: 'plant', num_blocks: 4096 }, { 'X-Admin-Key': ADMIN_KEY })).json as { api_key: string }
    ).api_key;
    const hubKey = ((await api(hub.url, 'POST', '/api/stores', { name: 'plant', num_blocks: 4096 }, { 'X-Admin-Key': ADMIN_KEY })).json as { api_key: string })
      .api_key;
    const source = `ws://127.0.0.1:${edgePort}/api/stores/plant/ws/read?from=oldest&api_key=${edgeKey}`;
    const conn = await api(hub.url, 'POST', '/api/stores/plant/ws/connections', { mode: 'pull', url: source }, { 'X-API-Key': hubKey });
    assert.equal(conn.status, 201, conn.text);

    const acked = new Map<bigint, number>();
    let n = 0;
    let stop = false;
    const flood = (async () => {
      while (!stop) {
        const body = Array.from({ length: 200 }, () => `{"data":{"n":${n++}}}`).join('\n');
        const first = n - 200;
        try {
          const res = await api(edge.url, 'POST', '/api/stores/plant/data/batch', body, { 'X-API-Key': edgeKey, 'Content-Type': 'application/x-ndjson' });
          if (res.status !== 200) continue;
          (res.json as { results: { timestamp?: bigint }[] }).results.forEach((r, i) => {
            if (r.timestamp !== undefined) acked.set(r.timestamp, first + i);
          });
        } catch {
          await new Promise((r) => setTimeout(r, 50)); // the edge is down: keep trying
        }
      }
    })();
    const hubCount = async (): Promise<number> => {
      const r = await api(hub.url, 'GET', '/api/stores/plant/stats', undefined, { 'X-API-Key': hubKey }).catch(() => undefined);
      return r?.status === 200 ? Number((r.json as { records: number }).records) : -1;
    };
    try {
      await until(async () => acked.size >= 3000 && (await hubCount()) >= 2000, 60_000, 'the hub to pull the first records');
      await kill9(hub);
      await until(() => acked.size >= 6000, 60_000, 'more edge records while the hub is down');
      hub = await start(hubData, cfg, hubPort);
      await until(async () => (await hubCount()) >= 6000, 60_000, 'the hub to catch up after its restart');
      await kill9(edge);
      edge = await start(edgeData, cfg, edgePort);
      await until(() => acked.size >= 12_000, 60_000, 'more edge records after the edge restart');
    } finally {
      stop = true;
      await flood;
    }
    const want = [...acked.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    await until(async () => (await hubCount()) >= want.length, 60_000, `the hub to hold all ${want.length} records`);
    const got: { timestamp: bigint; data: { n: number } }[] = [];
    let after: bigint | undefined;
    for (;;) {
      const r = await api(hub.url, 'GET', `/api/stores/plant/data/range?limit=10000${after === undefined ? '' : `&after=${after}`}`, undefined, {
        'X-API-Key': hubKey,
      });
      const page = (r.json as { objects: { timestamp: bigint; data: { n: number } }[] }).objects;
      got.push(...page);
      if (page.length < 10000) break;
      after = page[page.length - 1].timestamp;
    }
    // The edge may hold records whose acknowledgement the kill cut off: the hub has those too.
    const edgeAll = (await api(edge.url, 'GET', '/api/stores/plant/stats', undefined, { 'X-API-Key': edgeKey })).json as { records: number };
    assert.equal(got.length, edgeAll.records, 'the hub holds exactly the edge records');
    const seen = new Set(got.map((r) => r.timestamp));
    assert.equal(seen.size, got.length, 'no record twice');
    for (const ts of want) assert.ok(seen.has(ts), `acknowledged edge record ${ts} is in the hub`);
    for (const r of got) if (acked.has(r.timestamp)) assert.equal(r.data.n, acked.get(r.timestamp), 'with its data');
    assert.ok(
      got.every((r, i) => i === 0 || r.timestamp > got[i - 1].timestamp),
      'in order',
    );
    const status = (await api(hub.url, 'GET', '/api/stores/plant/ws/connections', undefined, { 'X-API-Key': hubKey })).json as {
      connections: { status: string; errors: number }[];
    };
    assert.equal(status.connections.length, 1);
    await kill9(hub);
    await kill9(edge);
    assert.ok(fs.existsSync(path.join(edgeData, 'plant')));
  });
});
