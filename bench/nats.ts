/**
 * JetStream benchmark, in process against a local nats-server (JetStream on its own temp dir):
 * records/s into JetStream with the `nats_jetstream` sink (acked after the PubAck) and with
 * `blockfile_forward` (acked locally; forwarded behind), plus the forwarder's drain rate after
 * an outage. Skips with a note when nats-server is not on PATH.
 * `node dist/bench/nats.js` runs it alone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Sink, SinkRecord, StoreSpec } from '../src/plugin/sink.js';
import { BlockFileForwardSink } from '../plugins/sinks/blockfile_forward/forwarding-sink.js';
import { DEFAULT_OPTIONS } from '../plugins/sinks/blockfile/options.js';
import { NatsJetStreamSink } from '../plugins/sinks/nats_jetstream/nats-jetstream-sink.js';
import { jetStreamTestOptions, NATS_SERVER_BIN, NatsServer } from '../test/support/nats-server.js';
import { ms, percentile, quietLogger, rssMb } from './measure.js';
import type { BenchRow } from './types.js';

const RECORDS = 60_000;
const BATCH = 100;
const WRITERS = 8;
const SIZE = 100;

function spec(dataDir: string, name: string): StoreSpec {
  const dir = path.join(dataDir, name);
  fs.mkdirSync(dir, { recursive: true });
  return { name, dir, dataType: 'binary', numBlocks: 8192, dataBlockSize: 4096, indexBlockSize: 4096 };
}

/** WRITERS concurrent writers, BATCH records per write(), RECORDS in all. */
async function flood(sink: Sink, store: string): Promise<{ seconds: number; latencies: number[] }> {
  const batch: SinkRecord[] = Array.from({ length: BATCH }, (_, i) => ({ data: Buffer.alloc(SIZE, i) }));
  const latencies: number[] = [];
  let left = RECORDS / BATCH;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (left-- > 0) {
        const t = process.hrtime.bigint();
        const res = await sink.write(store, batch);
        latencies.push(ms(t));
        if (!res.every((r) => r.ok)) throw new Error(`bench write rejected: ${JSON.stringify(res.find((r) => !r.ok))}`);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { seconds: ms(start) / 1000, latencies };
}

async function lagZero(sink: Sink, store: string): Promise<void> {
  for (;;) {
    const x = (await sink.stats(store)).extra ?? {};
    if (x.forwardLagRecords === 0 && x.forwardState === 'idle') return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function row(name: string, records: number, seconds: number, note: string, latencies?: number[], fsync?: string): BenchRow {
  return {
    name,
    records,
    seconds: Number(seconds.toFixed(2)),
    recordsPerSec: Math.round(records / seconds),
    ...(latencies ? { p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) } : {}),
    rssMb: rssMb(),
    ...(fsync ? { fsync } : {}),
    note,
  };
}

export async function runNatsBench(): Promise<BenchRow[]> {
  if (!NATS_SERVER_BIN) {
    return [{ name: 'JetStream sinks', records: 0, seconds: 0, recordsPerSec: 0, rssMb: rssMb(), note: 'SKIPPED: nats-server not on PATH' }];
  }
  const rows: BenchRow[] = [];
  const nats = await NatsServer.start();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-bench-nats-'));
  const shape = `${SIZE} B records, ${BATCH} per write(), ${WRITERS} writers`;
  try {
    const direct = new NatsJetStreamSink(jetStreamTestOptions(nats.url, { stream: 'BDIRECT', subject: 'bdirect.<store>', ack_timeout: '10s' }), {
      id: 'bench',
      logger: quietLogger,
      dataDir,
    });
    await direct.open();
    await direct.createStore(spec(dataDir, 'direct'));
    const d = await flood(direct, 'direct');
    rows.push(row('nats_jetstream: acked after PubAck', RECORDS, d.seconds, `${shape}; window 1024; latency per write()`, d.latencies));
    await direct.close();

    const fwdOpts = (stream: string): ConstructorParameters<typeof BlockFileForwardSink>[0] => ({
      ...DEFAULT_OPTIONS,
      forward: { batch: 1000, ...jetStreamTestOptions(nats.url, { stream, subject: `${stream.toLowerCase()}.<store>`, ack_timeout: '10s' }) },
    });
    const fwd = new BlockFileForwardSink(fwdOpts('BFWD'), { id: 'bench', logger: quietLogger, dataDir });
    await fwd.open();
    await fwd.createStore(spec(dataDir, 'fwd'));
    const start = process.hrtime.bigint();
    const f = await flood(fwd, 'fwd');
    rows.push(row('blockfile_forward: acked locally', RECORDS, f.seconds, `${shape}; forwarding runs meanwhile`, f.latencies, 'batch'));
    await lagZero(fwd, 'fwd');
    rows.push(
      row('blockfile_forward: ack to in JetStream', RECORDS, ms(start) / 1000, 'from the first write until the forwarder lag is 0', undefined, 'batch'),
    );
    await fwd.close();

    // Backlog built while the uplink is down, then drained.
    await nats.stop();
    const backlog = new BlockFileForwardSink(fwdOpts('BDRAIN'), { id: 'bench', logger: quietLogger, dataDir });
    await backlog.open();
    await backlog.createStore(spec(dataDir, 'drain'));
    await flood(backlog, 'drain');
    await nats.resume();
    const drainStart = process.hrtime.bigint();
    await lagZero(backlog, 'drain');
    rows.push(
      row(
        'blockfile_forward: backlog drain after outage',
        RECORDS,
        ms(drainStart) / 1000,
        'forward batch 1000, window 1024; includes reconnect (up to 1 s)',
        undefined,
        'batch',
      ),
    );
    await backlog.close();
  } finally {
    await nats.dispose();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

if (require.main === module) {
  runNatsBench()
    .then((rows) => {
      for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
      process.exit(1);
    });
}
