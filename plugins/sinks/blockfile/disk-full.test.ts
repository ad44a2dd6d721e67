/**
 * A full disk: creating a store that does not fit fails with TSS_ERR_DISK_FULL and leaves no
 * half-created files; a store created earlier keeps its data and keeps accepting writes, because
 * its ring was preallocated. Needs a small tmpfs (root); skipped with a message otherwise.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { newSink, storeSpec, tempDir } from './test-support.js';

function mountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('blockfile on a full disk', () => {
  it('fails creation with TSS_ERR_DISK_FULL and keeps earlier data readable and writable', async (t) => {
    const mnt = tempDir('diskfull');
    if (!mountTmpfs(mnt)) {
      fs.rmSync(mnt, { recursive: true, force: true });
      t.skip('cannot mount a tmpfs here (needs root); full-disk behaviour not tested');
      return;
    }
    try {
      const sink = newSink(mnt);
      await sink.open();
      const a = storeSpec(mnt, 'a', 64, 4096);
      await sink.createStore(a);
      const first = await sink.write('a', Array.from({ length: 100 }, (_, i) => ({ timestamp: BigInt(i + 1), data: Buffer.alloc(100, i) })));
      assert.ok(first.every((r) => r.ok));
      // Fill the rest of the disk.
      const filler = fs.openSync(path.join(mnt, 'filler'), 'w');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (;;) fs.writeSync(filler, chunk);
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        fs.closeSync(filler);
      }
      const b = storeSpec(mnt, 'b', 256, 4096);
      await assert.rejects(sink.createStore(b), { code: 'TSS_ERR_DISK_FULL' });
      assert.deepEqual(fs.readdirSync(b.dir), [], 'nothing half-created is left behind');
      await assert.rejects(sink.stats('b'), { code: 'TSS_ERR_STORE_NOT_FOUND' });

      // The preallocated store still takes writes on the full disk, and wraps.
      const more = await sink.write('a', Array.from({ length: 3000 }, (_, i) => ({ timestamp: BigInt(1000 + i), data: Buffer.alloc(100, i % 256) })));
      assert.ok(more.every((r) => r.ok));
      assert.deepEqual((await sink.reader.get('a', 3999n, true))?.data, Buffer.alloc(100, 2999 % 256));
      await sink.close();
      const again = newSink(mnt);
      await again.open();
      await again.openStore(a);
      assert.equal((await again.stats('a')).newest, 3999n);
      assert.deepEqual((await again.reader.get('a', 3500n, true))?.data, Buffer.alloc(100, 2500 % 256));
      await again.close();
    } finally {
      execFileSync('umount', [mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  });
});
