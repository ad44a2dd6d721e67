/**
 * Output-side benchmarks, in process (server, client and broker share this process):
 * - `aggregate`: `GET .../data/range?agg_window=1s&...` over a 1M-record store (json records, one
 *   per millisecond: 1,000 windows), one row per function set; records/s = records scanned per
 *   second of the whole request (read from the block file, aggregate, answer).
 * - `mqtt`: an MQTT publish connection (QoS 1, every record acknowledged by PUBACK before the
 *   cursor moves) from a 100k-record store to a local aedes broker; records/s from creating the
 *   connection to the broker holding every record.
 */
import { api, startServer, type TestServer } from '../test/support/server.js';
import { startLocalBroker } from '../test/support/mqtt-broker.js';
import { rssMb } from './measure.js';
import type { BenchRow } from './types.js';

const BASE = 1704067200000000000n;
const round = (x: number, d = 0): number => Math.round(x * 10 ** d) / 10 ** d;

async function fill(srv: TestServer, store: string, key: string, count: number, stepNs: bigint): Promise<void> {
  const per = 10_000;
  for (let i = 0; i < count; i += per) {
    const n = Math.min(per, count - i);
    const body = Array.from({ length: n }, (_, j) => {
      const k = i + j;
      return `{"timestamp":${BASE + BigInt(k) * stepNs},"data":{"temp":${20 + (k % 100) / 8},"hum":${k % 97},"count":${k},"site":"s-${k % 7}"}}`;
    }).join('\n');
    const res = await api(srv.url, 'POST', `/api/stores/${store}/data/batch`, body, { 'X-API-Key': key, 'Content-Type': 'application/x-ndjson' });
    if (res.status !== 200) throw new Error(`fill: ${res.status} ${res.text.slice(0, 200)}`);
  }
}

export async function runAggregateBench(records = 1_000_000): Promise<BenchRow[]> {
  // ~100 B records in 4 KiB blocks: a ring that holds the million.
  const srv = await startServer();
  try {
    const key = await srv.createStore('agg', { num_blocks: Math.ceil(records / 30) + 1024, data_block_size: 4096 });
    await fill(srv, 'agg', key, records, 1_000_000n);
    const sets: [string, string][] = [
      ['last (default)', ''],
      ['avg', '&agg_default=avg'],
      ['avg,min,max', '&agg_default=avg,min,max'],
      ['sum,count', '&agg_default=sum,count'],
      ['all 7', '&agg_default=avg,sum,min,max,count,first,last'],
      ['per field: temp:avg+max, count:sum', '&agg_fields=temp:avg%2Bmax,count:sum'],
    ];
    const rows: BenchRow[] = [];
    for (const [name, q] of sets) {
      const t0 = process.hrtime.bigint();
      const res = await api(srv.url, 'GET', `/api/stores/agg/data/range?start_time=0&agg_window=1s&limit=100000${q}`, undefined, { 'X-API-Key': key });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (res.status !== 200) throw new Error(`aggregate ${name}: ${res.status} ${res.text.slice(0, 200)}`);
      const windows = (res.json as { count: number }).count;
      rows.push({
        name: `aggregate 1M records, ${name}`,
        records,
        seconds: round(seconds, 2),
        recordsPerSec: round(records / seconds),
        rssMb: rssMb(),
        note: `${windows} windows of 1 s`,
      });
    }
    return rows;
  } finally {
    await srv.stop();
  }
}

export async function runMqttBench(records = 100_000): Promise<BenchRow[]> {
  const broker = await startLocalBroker();
  const srv = await startServer({ config: { outbound: { allow: ['127.0.0.1'] } } });
  try {
    const key = await srv.createStore('pub', { num_blocks: Math.ceil(records / 30) + 1024, data_block_size: 4096 });
    await fill(srv, 'pub', key, records, 1000n);
    const rows: BenchRow[] = [];
    for (const includeTimestamp of [false, true]) {
      const topic = `bench/${includeTimestamp}`;
      const t0 = process.hrtime.bigint();
      const res = await api(
        srv.url,
        'POST',
        '/api/stores/pub/mqtt/connections',
        { broker_url: broker.url, topic, include_timestamp: includeTimestamp, cursor_persist_interval: 1 },
        { 'X-API-Key': key },
      );
      if (res.status !== 201) throw new Error(`mqtt connection: ${res.status} ${res.text}`);
      for (;;) {
        const got = broker.messages.reduce((n, m) => n + (m.topic === topic ? 1 : 0), 0);
        if (got >= records) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      await api(srv.url, 'DELETE', `/api/stores/pub/mqtt/connections/${(res.json as { id: string }).id}`, undefined, { 'X-API-Key': key });
      broker.messages.length = 0;
      rows.push({
        name: `MQTT publish QoS 1 to local aedes${includeTimestamp ? ', include_timestamp' : ''}`,
        records,
        seconds: round(seconds, 2),
        recordsPerSec: round(records / seconds),
        rssMb: rssMb(),
        note: 'batch 500, persisted cursor; broker in the same process',
      });
    }
    return rows;
  } finally {
    await srv.stop();
    await broker.stop();
  }
}
