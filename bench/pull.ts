/**
 * Pull benchmark: records/s that the ws_pull input takes from a fast local remote (a real
 * WebSocket server in a worker thread streaming `{"timestamp","data":{"n"}}` envelopes as fast
 * as its socket drains) into a store, from the connection's creation until the last record is
 * acknowledged by the sink. Run: `node dist/bench/pull.js [records]`.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { api, startServer } from '../test/support/server.js';
import { LOOPBACK_ALLOWED, pullPipelines } from '../plugins/inputs/ws_pull/test-support.js';
import type { BenchRow } from './types.js';

interface Variant {
  readonly name: string;
  readonly sink: Record<string, unknown>;
  readonly fsync?: string;
}

const VARIANTS: readonly Variant[] = [
  { name: 'ws_pull → blockfile', sink: { type: 'blockfile', fsync: 'batch' }, fsync: 'batch' },
  { name: 'ws_pull → blockfile', sink: { type: 'blockfile', fsync: 'never' }, fsync: 'never' },
  { name: 'ws_pull → memory', sink: { type: 'memory', max_records: 2_000_000 } },
];

/** The shipped defaults (the test helpers shorten them). */
const PRODUCTION_TIMERS = {
  backoff_min_ms: 1000,
  backoff_max_ms: 60_000,
  ping_interval_ms: 30_000,
  pong_timeout_ms: 10_000,
  handshake_timeout_ms: 10_000,
  persist_interval_ms: 1000,
};

async function runOne(v: Variant, records: number): Promise<BenchRow> {
  const worker = new Worker(path.join(__dirname, 'pull-remote-worker.js'), { workerData: { records } });
  const feedUrl = await new Promise<string>((resolve, reject) => {
    worker.once('message', (m: { url: string }) => resolve(m.url));
    worker.once('error', reject);
  });
  const s = await startServer({ config: LOOPBACK_ALLOWED, pipelines: pullPipelines(v.sink, PRODUCTION_TIMERS) });
  try {
    const key = await s.createStore('bench', { num_blocks: 8192, data_block_size: 4096 });
    const t0 = process.hrtime.bigint();
    const res = await api(s.url, 'POST', '/api/stores/bench/ws/connections', { mode: 'pull', url: feedUrl }, { 'X-API-Key': key });
    if (res.status !== 201) throw new Error(`create connection: ${res.status} ${res.text}`);
    const id = res.json.id as string;
    let batches = 0;
    for (;;) {
      const st = await api(s.url, 'GET', `/api/stores/bench/ws/connections/${id}`, undefined, { 'X-API-Key': key });
      if (st.json.records_stored >= records) {
        batches = st.json.batches;
        break;
      }
      if (st.json.errors > 0 && st.json.last_error && !/remote closed/.test(st.json.last_error)) throw new Error(`pull failed: ${st.json.last_error}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      name: v.name,
      records,
      seconds: round(seconds, 3),
      recordsPerSec: Math.round(records / seconds),
      rssMb: round(process.memoryUsage().rss / 2 ** 20, 1),
      fsync: v.fsync,
      note: `~50-byte envelopes, ${batches} emits (avg ${Math.round(records / batches)}/batch); remote in a worker thread`,
    };
  } finally {
    await s.stop();
    worker.postMessage('stop');
    await new Promise((r) => worker.once('exit', r));
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export async function runPullBench(records = 200_000): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const v of VARIANTS) rows.push(await runOne(v, records));
  return rows;
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 200_000);
  runPullBench(n).then(
    (rows) => {
      console.log('| name | fsync | records | seconds | records/s | RSS MB | note |');
      console.log('|---|---|---|---|---|---|---|');
      for (const r of rows) console.log(`| ${r.name} | ${r.fsync ?? '-'} | ${r.records} | ${r.seconds} | ${r.recordsPerSec} | ${r.rssMb} | ${r.note ?? ''} |`);
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
