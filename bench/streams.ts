/**
 * Streams benchmark (`node dist/bench/run.js streams`): the live read stream (`ws_read`) —
 * throughput from writes to one subscriber and the latency from a write being sent to each of its
 * records reaching the subscriber (commit and fsync included); the edge → hub chain (a hub's
 * `ws_pull` connection on an edge's `ws/read`, both servers on this box) in records/s; and an
 * outbound push connection (`ws_push`) into a local WebSocket receiver in records/s. Servers,
 * clients and receiver share the bench process (one event loop, like the pull benchmark's server).
 */
import WebSocket from 'ws';
import { api, startServer, type TestServer } from '../test/support/server.js';
import { Receiver } from '../plugins/outputs/ws_push/test-receiver.js';
import type { BenchRow } from './types.js';
import { percentile, rssMb } from './measure.js';

const T0 = 1704067200000000000n;
const LOOPBACK_ALLOWED = { outbound: { allow: ['127.0.0.1'] } };
const SINK = { type: 'blockfile', fsync: 'batch' };

function pipelines(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    main: {
      inputs: { api: { type: 'rest' }, edge: { type: 'ws_pull' } },
      stages: [{ type: 'validate' }],
      sink: SINK,
      outputs: { live: { type: 'ws_read' }, push: { type: 'ws_push', ...extra } },
    },
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

async function write(s: TestServer, store: string, key: string, from: number, n: number): Promise<void> {
  const body = Array.from({ length: n }, (_, i) => `{"timestamp":${T0 + BigInt(from + i)},"data":{"n":${from + i},"v":21.5}}`).join('\n');
  const res = await api(s.url, 'POST', `/api/stores/${store}/data/batch`, body, { 'X-API-Key': key, 'Content-Type': 'application/x-ndjson' });
  if (res.status !== 200) throw new Error(`write: ${res.status} ${res.text}`);
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A ws/read subscriber counting records; `onRecord` sees each record's `n`. */
async function subscribe(s: TestServer, store: string, key: string, from: string, onRecord: (n: number) => void): Promise<WebSocket> {
  const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}/api/stores/${store}/ws/read?from=${from}&api_key=${key}`);
  ws.on('message', (raw: Buffer) => {
    const m = /"n":(\d+)/.exec(raw.toString('latin1'));
    if (m) onRecord(Number(m[1]));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

async function liveStream(): Promise<BenchRow[]> {
  const s = await startServer({ pipelines: pipelines() as never });
  try {
    const key = await s.createStore('live', { num_blocks: 8192, data_block_size: 4096 });
    // Throughput: 100,000 records written in batches of 1,000, one subscriber.
    const total = 100_000;
    let got = 0;
    // The store is empty: from=oldest cannot miss a record written before the delivery opened.
    const ws = await subscribe(s, 'live', key, 'oldest', () => {
      got++;
    });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < total; i += 1000) await write(s, 'live', key, i, 1000);
    await until(() => got >= total, 120_000, 'the subscriber');
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    ws.close();
    // Latency: 2,000 records in batches of 10, each batch sent after the previous one's answer.
    const sentAt = new Map<number, bigint>();
    const lat: number[] = [];
    const base = total;
    const ws2 = await subscribe(s, 'live', key, String(T0 + BigInt(total - 1)), (n) => {
      const t = sentAt.get(n);
      if (t !== undefined) lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    });
    const n2 = 2000;
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < n2; i += 10) {
      const now = process.hrtime.bigint();
      for (let k = 0; k < 10; k++) sentAt.set(base + i + k, now);
      await write(s, 'live', key, base + i, 10);
    }
    await until(() => lat.length >= n2, 60_000, 'the latency records');
    const seconds2 = Number(process.hrtime.bigint() - t1) / 1e9;
    ws2.close();
    lat.sort((a, b) => a - b);
    return [
      {
        name: 'ws/read live stream: writes → 1 subscriber',
        fsync: 'batch',
        records: total,
        seconds: round(seconds, 3),
        recordsPerSec: Math.round(total / seconds),
        rssMb: rssMb(),
        note: 'REST batches of 1,000 (awaited) while the subscriber reads; from the first write to the last record received',
      },
      {
        name: 'ws/read live stream: write sent → record received',
        fsync: 'batch',
        records: n2,
        seconds: round(seconds2, 3),
        recordsPerSec: Math.round(n2 / seconds2),
        p50Ms: round(percentile(lat, 0.5), 2),
        p99Ms: round(percentile(lat, 0.99), 2),
        rssMb: rssMb(),
        note: 'REST batches of 10, one at a time; latency includes the commit (fsync) and the wake-up',
      },
    ];
  } finally {
    await s.stop();
  }
}

async function chain(): Promise<BenchRow> {
  const edge = await startServer({ pipelines: pipelines() as never });
  const hub = await startServer({ pipelines: pipelines() as never, config: LOOPBACK_ALLOWED });
  try {
    const total = 100_000;
    const ekey = await edge.createStore('plant', { num_blocks: 8192, data_block_size: 4096 });
    const hkey = await hub.createStore('plant', { num_blocks: 8192, data_block_size: 4096 });
    for (let i = 0; i < total; i += 5000) await write(edge, 'plant', ekey, i, 5000);
    const t0 = process.hrtime.bigint();
    const source = `${edge.url.replace(/^http/, 'ws')}/api/stores/plant/ws/read?from=oldest&api_key=${ekey}`;
    const res = await api(hub.url, 'POST', '/api/stores/plant/ws/connections', { mode: 'pull', url: source }, { 'X-API-Key': hkey });
    if (res.status !== 201) throw new Error(`create pull: ${res.status} ${res.text}`);
    const id = res.json.id as string;
    await until(
      async () => (await api(hub.url, 'GET', `/api/stores/plant/ws/connections/${id}`, undefined, { 'X-API-Key': hkey })).json.records_stored >= total,
      300_000,
      'the hub',
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      name: 'edge → hub chain (ws/read → ws_pull)',
      fsync: 'batch',
      records: total,
      seconds: round(seconds, 3),
      recordsPerSec: Math.round(total / seconds),
      rssMb: rssMb(),
      note: 'backlog of 100,000 on the edge; both servers in this process; until the hub stored the last record',
    };
  } finally {
    await hub.stop();
    await edge.stop();
  }
}

async function push(): Promise<BenchRow> {
  const s = await startServer({ pipelines: pipelines() as never, config: LOOPBACK_ALLOWED });
  const rx = await Receiver.start();
  try {
    const total = 100_000;
    const key = await s.createStore('out', { num_blocks: 8192, data_block_size: 4096 });
    for (let i = 0; i < total; i += 5000) await write(s, 'out', key, i, 5000);
    const t0 = process.hrtime.bigint();
    const res = await api(s.url, 'POST', '/api/stores/out/ws/connections', { mode: 'push', url: rx.url, from: 0 }, { 'X-API-Key': key });
    if (res.status !== 201) throw new Error(`create push: ${res.status} ${res.text}`);
    await until(() => rx.unique.length >= total, 300_000, 'the receiver');
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      name: 'ws_push → local WebSocket receiver',
      fsync: 'batch',
      records: total,
      seconds: round(seconds, 3),
      recordsPerSec: Math.round(total / seconds),
      rssMb: rssMb(),
      note: `backlog of 100,000; batches of 1,000 each acknowledged by ping/pong; receiver in this process (${rx.all.length - rx.unique.length} re-sent)`,
    };
  } finally {
    await s.stop();
    await rx.stop();
  }
}

export async function runStreamsBench(): Promise<BenchRow[]> {
  return [...(await liveStream()), await chain(), await push()];
}
