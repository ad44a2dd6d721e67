/**
 * Block-file engine benchmark, in process (no HTTP): append throughput per fsync policy, record
 * size and writer count; reopen (recovery) time and query latency over a 1M-record store.
 * Bounded to well under two minutes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SinkRecord } from '../src/plugin/sink.js';
import { BlockFileSink } from '../plugins/sinks/blockfile/block-file-sink.js';
import type { FsyncPolicy } from '../plugins/sinks/blockfile/options.js';
import { ms, percentile, quietLogger, rssMb } from './measure.js';
import type { BenchRow } from './types.js';

const BATCH = 500;
const APPEND_SECONDS = 1.2;

function makeSink(dataDir: string, fsync: FsyncPolicy): BlockFileSink {
  return new BlockFileSink({ fsync }, { id: 'bench', logger: quietLogger, dataDir });
}

function spec(
  dataDir: string,
  name: string,
  numBlocks: number,
): { name: string; dir: string; dataType: 'binary'; numBlocks: number; dataBlockSize: number; indexBlockSize: number } {
  const dir = path.join(dataDir, name);
  fs.mkdirSync(dir, { recursive: true });
  return { name, dir, dataType: 'binary', numBlocks, dataBlockSize: 4096, indexBlockSize: 4096 };
}

async function appendCase(dataDir: string, fsync: FsyncPolicy, size: number, writers: number): Promise<BenchRow> {
  const sink = makeSink(dataDir, fsync);
  await sink.open();
  const name = `append-${fsync}-${size}-${writers}`;
  await sink.createStore(spec(dataDir, name, 16384));
  const batch: SinkRecord[] = Array.from({ length: BATCH }, (_, i) => ({ data: Buffer.alloc(size, i) }));
  const latencies: number[] = [];
  let records = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(APPEND_SECONDS * 1e9);
  const writer = async (): Promise<void> => {
    while (process.hrtime.bigint() < deadline) {
      const t = process.hrtime.bigint();
      const res = await sink.write(name, batch);
      latencies.push(ms(t));
      records += res.length;
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  const seconds = ms(start) / 1000;
  latencies.sort((a, b) => a - b);
  const row: BenchRow = {
    name: `append ${size} B, ${writers} writer${writers > 1 ? 's' : ''}`,
    records,
    seconds: Number(seconds.toFixed(2)),
    recordsPerSec: Math.round(records / seconds),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    rssMb: rssMb(),
    fsync,
    note: `${BATCH} records per write(); latency per write() call`,
  };
  await sink.dropStore(name);
  await sink.close();
  return row;
}

async function queryCases(dataDir: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const total = 1_000_000;
  const s = spec(dataDir, 'query', 24576);
  let sink = makeSink(dataDir, 'batch');
  await sink.open();
  await sink.createStore(s);
  const fillStart = process.hrtime.bigint();
  let ts = 1_704_067_200_000_000_000n;
  const step = 1_000_000n;
  for (let written = 0; written < total;) {
    const calls: Promise<unknown>[] = [];
    for (let w = 0; w < 8 && written < total; w++) {
      const n = Math.min(1000, total - written);
      const batch: SinkRecord[] = Array.from({ length: n }, (_, i) => ({ timestamp: (ts += step), data: Buffer.alloc(64, (written + i) & 0xff) }));
      written += n;
      calls.push(sink.write('query', batch));
    }
    await Promise.all(calls);
  }
  const fillSeconds = ms(fillStart) / 1000;
  rows.push({
    name: 'fill 1M x 64 B (8 writers x 1000/call)',
    records: total,
    seconds: Number(fillSeconds.toFixed(2)),
    recordsPerSec: Math.round(total / fillSeconds),
    rssMb: rssMb(),
    fsync: 'batch',
  });
  await sink.close();

  const reopenStart = process.hrtime.bigint();
  sink = makeSink(dataDir, 'batch');
  await sink.open();
  await sink.openStore(s);
  const reopenMs = ms(reopenStart);
  const stats = await sink.stats('query');
  rows.push({
    name: 'reopen (full recovery scan, ~96 MiB file)',
    records: stats.records,
    seconds: Number((reopenMs / 1000).toFixed(3)),
    recordsPerSec: Math.round(stats.records / (reopenMs / 1000)),
    rssMb: rssMb(),
    note: 'verifies every checksum',
  });

  const oldest = stats.oldest as bigint;
  const span = Number((stats.newest as bigint) - oldest);
  const randomTs = (): bigint => oldest + BigInt(Math.floor(Math.random() * (span / 1e6))) * step;
  const measure = async (name: string, q: () => Promise<number>, note: string): Promise<void> => {
    const lat: number[] = [];
    let records = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < 2000; i++) {
      const t = process.hrtime.bigint();
      records += await q();
      lat.push(ms(t));
    }
    const seconds = ms(start) / 1000;
    lat.sort((a, b) => a - b);
    rows.push({
      name,
      records,
      seconds: Number(seconds.toFixed(2)),
      recordsPerSec: Math.round(records / seconds),
      p50Ms: percentile(lat, 0.5),
      p99Ms: percentile(lat, 0.99),
      rssMb: rssMb(),
      note,
    });
  };
  const reader = sink.reader;
  await measure(
    'query newest 10 (1M store)',
    async () => (await reader.scan('query', { order: 'desc', limit: 10, withData: true })).length,
    'desc, limit 10, with data',
  );
  await measure(
    'query range 100 (1M store)',
    async () => (await reader.scan('query', { order: 'asc', from: randomTs(), limit: 100, withData: true })).length,
    'random start, asc, limit 100, with data',
  );
  await measure('query get by time (1M store)', async () => ((await reader.get('query', randomTs(), true)) ? 1 : 0), 'random existing timestamp');
  await sink.dropStore('query');
  await sink.close();
  return rows;
}

export async function runEngineBench(): Promise<BenchRow[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-bench-engine-'));
  const rows: BenchRow[] = [];
  try {
    for (const fsync of ['always', 'batch', 'interval', 'never'] as FsyncPolicy[]) {
      for (const size of [64, 1024]) {
        for (const writers of [1, 8]) rows.push(await appendCase(dataDir, fsync, size, writers));
      }
    }
    rows.push(...(await queryCases(dataDir)));
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}
