/**
 * Big rings (part of the `scale` suite): for 1 GiB and 8 GiB rings of 4 KiB blocks filled with
 * 1 KB records, in process: fill rate, clean reopen time (from the checkpoint) and RSS after it,
 * reopen after kill -9 in the middle of a flood (a crash-writer child, default checkpoint options),
 * a forced full scan for the ratio, and newest-10 / range-100 / get-by-time p50 and p99.
 * TSSTORE_BENCH_RING_GIB ("1,8" by default) picks the sizes; a size the disk has no room for is
 * skipped with a row saying so.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SinkRecord } from '../src/plugin/sink.js';
import { BlockFileSink } from '../plugins/sinks/blockfile/block-file-sink.js';
import type { BlockFileOptions } from '../plugins/sinks/blockfile/options.js';
import { ms, percentile, quietLogger, rssMb } from './measure.js';
import type { BenchRow } from './types.js';

const BLOCK = 4096;
const RECORD = 1024;
const SIZES = (process.env.TSSTORE_BENCH_RING_GIB ?? '1,8')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const WRITER = path.resolve(__dirname, '../plugins/sinks/blockfile/crash-writer.js');

function sink(dataDir: string, options: Partial<BlockFileOptions> = {}): BlockFileSink {
  return new BlockFileSink({ fsync: 'batch', ...options }, { id: 'bench', logger: quietLogger, dataDir });
}

function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

async function timedOpen(
  dataDir: string,
  spec: Parameters<BlockFileSink['openStore']>[0],
  options: Partial<BlockFileOptions> = {},
): Promise<{ sink: BlockFileSink; ms: number; rss: number; from: unknown }> {
  global.gc?.();
  const t = process.hrtime.bigint();
  const s = sink(dataDir, options);
  await s.open();
  await s.openStore(spec);
  const took = ms(t);
  global.gc?.();
  return { sink: s, ms: took, rss: rssMb(), from: (await s.stats(spec.name)).extra?.openedFrom };
}

function killMidFlood(dataDir: string, name: string, numBlocks: number, runMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dataDir, name, String(numBlocks), String(BLOCK), 'batch', '7'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = 0;
    let armed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      acked += (d.match(/^\d+$/gm) ?? []).length;
      if (!armed && acked > 0) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), runMs);
      }
    });
    child.on('error', reject);
    child.on('close', () => resolve(acked));
  });
}

async function ringRows(root: string, gib: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const numBlocks = (gib * 2 ** 30) / BLOCK;
  const label = `${gib} GiB ring`;
  const need = gib * 2 ** 30 * 1.05;
  if (freeBytes(root) < need) {
    return [
      {
        name: `${label}: skipped`,
        records: 0,
        seconds: 0,
        recordsPerSec: 0,
        rssMb: rssMb(),
        note: `needs ${Math.ceil(need / 2 ** 30)} GiB free on ${root}, has ${(freeBytes(root) / 2 ** 30).toFixed(1)} GiB`,
      },
    ];
  }
  const dataDir = path.join(root, `ring-${gib}`);
  const dir = path.join(dataDir, 'ring');
  fs.mkdirSync(dir, { recursive: true });
  const spec = { name: 'ring', dir, dataType: 'binary' as const, numBlocks, dataBlockSize: BLOCK, indexBlockSize: BLOCK };
  try {
    let s = sink(dataDir);
    await s.open();
    await s.createStore(spec);
    // Fill one lap: 3 records of 1 KB per 4 KiB block.
    const total = numBlocks * 3;
    let ts = 1_704_067_200_000_000_000n;
    const step = 1_000_000n;
    const fillStart = process.hrtime.bigint();
    for (let written = 0; written < total;) {
      const calls: Promise<unknown>[] = [];
      for (let w = 0; w < 8 && written < total; w++) {
        const n = Math.min(256, total - written);
        const batch: SinkRecord[] = Array.from({ length: n }, (_, i) => ({ timestamp: (ts += step), data: Buffer.alloc(RECORD, (written + i) & 0xff) }));
        written += n;
        calls.push(s.write('ring', batch));
      }
      await Promise.all(calls);
    }
    const fillS = ms(fillStart) / 1000;
    rows.push({
      name: `${label}: fill 1 KB records`,
      records: total,
      seconds: Number(fillS.toFixed(2)),
      recordsPerSec: Math.round(total / fillS),
      rssMb: rssMb(),
      fsync: 'batch',
      note: `${((gib * 1024) / fillS).toFixed(0)} MiB/s; 8 writers x 256 records per call`,
    });
    await s.close();

    const clean = await timedOpen(dataDir, spec);
    s = clean.sink;
    const stats = await s.stats('ring');
    rows.push({
      name: `${label}: clean reopen`,
      records: stats.records,
      seconds: Number((clean.ms / 1000).toFixed(3)),
      recordsPerSec: 0,
      rssMb: clean.rss,
      note: `opened from ${String(clean.from)}; index ${Math.round(Number(stats.extra?.indexBytes) / 2 ** 20)} MiB; RSS of the bench process after open (GC run)`,
    });

    const oldest = stats.oldest as bigint;
    const span = Number(((stats.newest as bigint) - oldest) / step);
    const randomTs = (): bigint => oldest + BigInt(Math.floor(Math.random() * span)) * step;
    const measure = async (name: string, q: () => Promise<number>, note: string): Promise<void> => {
      const lat: number[] = [];
      let n = 0;
      const start = process.hrtime.bigint();
      for (let i = 0; i < 2000; i++) {
        const t = process.hrtime.bigint();
        n += await q();
        lat.push(ms(t));
      }
      const seconds = ms(start) / 1000;
      lat.sort((a, b) => a - b);
      rows.push({
        name: `${label}: ${name}`,
        records: n,
        seconds: Number(seconds.toFixed(2)),
        recordsPerSec: Math.round(n / seconds),
        p50Ms: percentile(lat, 0.5),
        p99Ms: percentile(lat, 0.99),
        rssMb: rssMb(),
        note,
      });
    };
    await measure(
      'query newest 10',
      async () => (await s.reader.scan('ring', { order: 'desc', limit: 10, withData: true })).length,
      'desc, limit 10, with data',
    );
    await measure(
      'query range 100',
      async () => (await s.reader.scan('ring', { order: 'asc', from: randomTs(), limit: 100, withData: true })).length,
      'random start, asc, limit 100, with data',
    );
    await measure('query get by time', async () => ((await s.reader.get('ring', randomTs(), true)) ? 1 : 0), 'random existing timestamp');
    await s.close();

    const full = await timedOpen(dataDir, spec, { checkpoint: false });
    rows.push({
      name: `${label}: forced full scan (checkpoint: false)`,
      records: (await full.sink.stats('ring')).records,
      seconds: Number((full.ms / 1000).toFixed(3)),
      recordsPerSec: 0,
      rssMb: full.rss,
      note: `same run, for the ratio: clean reopen is ${(full.ms / clean.ms).toFixed(0)}x faster`,
    });
    await full.sink.close(); // checkpoint: false removed the checkpoint; the next open (writer child) rebuilds it

    const acked = await killMidFlood(dataDir, 'ring', numBlocks, 3000);
    const crashed = await timedOpen(dataDir, spec);
    rows.push({
      name: `${label}: reopen after kill -9 mid-flood`,
      records: (await crashed.sink.stats('ring')).records,
      seconds: Number((crashed.ms / 1000).toFixed(3)),
      recordsPerSec: 0,
      rssMb: crashed.rss,
      note: `opened from ${String(crashed.from)}; the killed writer had ${acked} acknowledged records over 3 s (default checkpoint options)`,
    });
    await crashed.sink.close();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

export async function runScaleRingsBench(): Promise<BenchRow[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-bench-rings-'));
  const rows: BenchRow[] = [];
  try {
    for (const gib of SIZES) rows.push(...(await ringRows(root, gib)));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
