/**
 * Creating a store the file system has no room for is refused with 507 before any byte is
 * written (#12 item 4): the free space (statfs) is checked first. The seam is
 * `BlockFileIO.freeBytes`; here the real file system with a forced low figure, and the real
 * statfs answering for a temp directory.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { isTssError } from 'tsstore/plugin';
import { BlockFileSink } from './block-file-sink.js';
import { nodeIO, type BlockFileIO } from './io.js';
import { silentLogger, storeSpec, tempDir } from './test-support.js';

const root = tempDir('free-space');
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('blockfile: free space is checked before creating a store', () => {
  it('the real statfs reports the free bytes of the data directory', async () => {
    const free = await nodeIO.freeBytes?.(root);
    assert.ok(typeof free === 'number' && free > 0, `free bytes: ${free}`);
  });

  it('refuses with TSS_ERR_DISK_FULL (507) and writes nothing when the ring does not fit', async () => {
    let writes = 0;
    let free = 1024 * 1024; // 1 MiB free
    const io: BlockFileIO = {
      ...nodeIO,
      freeBytes: async () => free,
      open: async (file, mode) => {
        const fh = await nodeIO.open(file, mode);
        const write = fh.write.bind(fh);
        fh.write = (...args) => {
          writes++;
          return write(...args);
        };
        return fh;
      },
    };
    const dataDir = path.join(root, 'low');
    const spec = storeSpec(dataDir, 's', 512, 4096); // 2 MiB ring
    fs.mkdirSync(spec.dir, { recursive: true });
    const sink = new BlockFileSink({}, { id: 'test', logger: silentLogger, dataDir }, io);
    await sink.open();
    try {
      await assert.rejects(sink.createStore(spec), (err: unknown) => {
        assert.ok(isTssError(err), String(err));
        assert.equal(err.code, 'TSS_ERR_DISK_FULL');
        assert.equal(err.status, 507);
        assert.match(err.message, /not enough free disk space to create store s: it needs \d+ bytes \(a 2097152-byte ring\).* has 1048576 bytes free/);
        return true;
      });
      assert.equal(writes, 0, 'no byte was written');
      assert.deepEqual(fs.readdirSync(spec.dir), [], 'nothing was left behind');
      // With room, the same creation succeeds.
      free = 64 * 1024 * 1024;
      await sink.createStore(spec);
      assert.ok(writes > 0);
      assert.equal(fs.statSync(path.join(spec.dir, 'blockfile.data')).size, 2 * 1024 * 1024);
    } finally {
      await sink.close();
    }
  });
});
