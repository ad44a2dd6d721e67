/**
 * Child process for the crash tests: appends records with client timestamps from several
 * concurrent writers and prints each acknowledged timestamp on its own line, until killed.
 * Usage: node crash-writer.js <dataDir> <store> <numBlocks> <blockSize> <fsync> <seed> [checkpointBytes]
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SinkRecord } from 'tsstore/plugin';
import type { FsyncPolicy } from './options.js';
import { newSink, payloadFor, prng, storeSpec } from './test-support.js';

async function main(): Promise<void> {
  const [dataDir, store, numBlocks, blockSize, fsync, seed, checkpointBytes] = process.argv.slice(2);
  const checkpoint = checkpointBytes ? { checkpoint_bytes: Number(checkpointBytes), checkpoint_interval_ms: 20 } : {};
  const sink = newSink(dataDir, { fsync: fsync as FsyncPolicy, fsync_interval_ms: 50, ...checkpoint });
  await sink.open();
  const spec = storeSpec(dataDir, store, Number(numBlocks), Number(blockSize));
  if (fs.existsSync(path.join(spec.dir, 'blockfile.meta'))) await sink.openStore(spec);
  else await sink.createStore(spec);
  const rnd = prng(Number(seed));
  let next = ((await sink.stats(store)).newest ?? 0n) + 1n;
  const writer = async (): Promise<void> => {
    for (;;) {
      const batch: SinkRecord[] = [];
      const n = 1 + Math.floor(rnd() * 8);
      for (let i = 0; i < n; i++) {
        next += 1n + BigInt(Math.floor(rnd() * 1000));
        batch.push({ timestamp: next, data: payloadFor(next, spec.dataBlockSize) });
      }
      const results = await sink.write(store, batch);
      let out = '';
      for (const r of results) {
        if (r.ok) out += `${r.timestamp}\n`;
        else out += `E ${r.code}\n`;
      }
      process.stdout.write(out);
    }
  };
  process.stdout.write('READY\n');
  await Promise.all([writer(), writer(), writer(), writer()]);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
