/**
 * Migration rate: a 1M-record Go ts-store store (written by the fixture writer) migrated into a
 * tsstore data path in process, through the same code as `tsstore migrate`: records/s and MB/s
 * of record data, read + plan pass and write pass together.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load-config.js';
import { openLocalDataPath } from '../src/cli/local-data-path.js';
import { GoStoreWriter } from '../src/migrate/go-writer.js';
import { Migration } from '../src/migrate/migrate.js';
import { rssMb } from './measure.js';
import type { BenchRow } from './types.js';

const RECORDS = 1_000_000;
const BASE = 1704067200000000001n;

function buildSource(dir: string, layout: 'circular' | 'partitioned'): number {
  // ~70-byte JSON records, 4 KiB blocks, a ring just large enough to hold them all.
  const w = new GoStoreWriter('bench', { dataType: 'json', numBlocks: 24_000, dataBlockSize: 4096, layout, numPartitions: 4 });
  let bytes = 0;
  for (let i = 0; i < RECORDS; i++) {
    const data = Buffer.from(`{"sensor":"s-${i % 64}","temp":${(i % 1000) / 10},"seq":${i}}`);
    bytes += data.length;
    w.put(BASE + BigInt(i), data);
  }
  w.writeTo(dir);
  return bytes;
}

async function migrateCase(layout: 'circular' | 'partitioned'): Promise<BenchRow> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsstore-bench-migrate-'));
  try {
    const source = path.join(work, 'go');
    const into = path.join(work, 'tsstore');
    buildSource(source, layout);
    const config = await loadConfig({ env: { TSSTORE_DATA_PATH: into }, cwd: work });
    const local = await openLocalDataPath(config, 'bench');
    const start = process.hrtime.bigint();
    let report;
    try {
      report = await new Migration(source).run({ catalog: local.catalog, pullPipelines: new Set() }, {});
    } finally {
      await local.close();
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const s = report.stores[0];
    if (s.status !== 'migrated') throw new Error(`bench migration ${s.status}: ${s.reason}`);
    return {
      name: `migrate 1M-record Go store (${layout === 'circular' ? 'ring' : '4 partitions'})`,
      records: s.records,
      seconds: Number(seconds.toFixed(2)),
      recordsPerSec: Math.round(s.records / seconds),
      rssMb: rssMb(),
      fsync: 'batch',
      note: `${(s.bytes / 2 ** 20 / seconds).toFixed(1)} MB/s of record data (${(s.bytes / 2 ** 20).toFixed(1)} MB), read twice (plan + write)`,
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export async function runMigrateBench(): Promise<BenchRow[]> {
  return [await migrateCase('circular'), await migrateCase('partitioned')];
}
