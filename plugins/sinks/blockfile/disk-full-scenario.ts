/**
 * The full-disk scenario shared by disk-full.test.ts: run in process on a small tmpfs that
 * `fillDisk` fills up, or in a child process under a file-size limit (`ulimit -f`), where writes
 * past the limit fail with EFBIG exactly like a full disk fails with ENOSPC.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { newSink, storeSpec } from './test-support.js';

/** Store `a` (256 KiB) fits the space left; store `b` (1 MiB) does not. */
export async function fullDiskScenario(dir: string, fillDisk: () => void): Promise<void> {
  const sink = newSink(dir);
  await sink.open();
  const a = storeSpec(dir, 'a', 64, 4096);
  await sink.createStore(a);
  const first = await sink.write(
    'a',
    Array.from({ length: 100 }, (_, i) => ({ timestamp: BigInt(i + 1), data: Buffer.alloc(100, i) })),
  );
  assert.ok(first.every((r) => r.ok));
  fillDisk();
  const b = storeSpec(dir, 'b', 256, 4096);
  await assert.rejects(sink.createStore(b), { code: 'TSS_ERR_DISK_FULL' });
  assert.deepEqual(fs.readdirSync(b.dir), [], 'nothing half-created is left behind');
  await assert.rejects(sink.stats('b'), { code: 'TSS_ERR_STORE_NOT_FOUND' });

  // The preallocated store still takes writes on the full disk, and wraps.
  const more = await sink.write(
    'a',
    Array.from({ length: 3000 }, (_, i) => ({ timestamp: BigInt(1000 + i), data: Buffer.alloc(100, i % 256) })),
  );
  assert.ok(more.every((r) => r.ok));
  assert.deepEqual((await sink.reader.get('a', 3999n, true))?.data, Buffer.alloc(100, 2999 % 256));
  await sink.close();
  const again = newSink(dir);
  await again.open();
  await again.openStore(a);
  assert.equal((await again.stats('a')).newest, 3999n);
  assert.deepEqual((await again.reader.get('a', 3500n, true))?.data, Buffer.alloc(100, 2500 % 256));
  await again.close();
}

if (require.main === module) {
  fullDiskScenario(process.argv[2], () => undefined).then(
    () => process.stdout.write('scenario passed\n'),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
