/**
 * A write that fails must not change what reads return: the largest timestamp leaves nothing to
 * assign (a clear rejection, not an internal error), and a batch that fails while being encoded
 * drops no block from the ring, publishes none of its records and leaves the store writable.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { MAX_TIMESTAMP, type RecordResult, type SinkRecord, type StoredRecord } from 'tsstore/plugin';
import { BlockFileSink } from './block-file-sink.js';
import { type BlockFileIO, nodeIO } from './io.js';
import { newSink, silentLogger, storeSpec, tempDir } from './test-support.js';

const root = tempDir('failed-write');
after(() => fs.rmSync(root, { recursive: true, force: true }));

const codeOf = (r: RecordResult): string => (r.ok ? 'ok' : r.code);

async function snapshot(sink: BlockFileSink, store: string): Promise<{ records: StoredRecord[]; count: number; oldest?: bigint; newest?: bigint }> {
  const records = await sink.reader.scan(store, { order: 'asc', limit: 100_000, withData: true });
  const st = await sink.stats(store);
  return { records, count: st.records, oldest: st.oldest, newest: st.newest };
}

/** A full, wrapped ring of 4 blocks of 256 bytes: every new block reclaims the oldest one. */
async function wrappedStore(name: string): Promise<{ sink: BlockFileSink; reopen: () => Promise<BlockFileSink> }> {
  const spec = storeSpec(root, name, 4, 256);
  const sink = newSink(root);
  await sink.open();
  await sink.createStore(spec);
  for (let i = 1; i <= 40; i++) {
    const [r] = await sink.write(name, [{ timestamp: BigInt(i) * 1000n, data: Buffer.alloc(60, i) }]);
    assert.ok(r.ok);
  }
  const st = await sink.stats(name);
  assert.equal(st.usedBlocks, 4, 'the ring is full');
  assert.ok((st.extra?.overwrittenRecords as number) > 0, 'and has wrapped');
  return {
    sink,
    reopen: async () => {
      const again = newSink(root);
      await again.open();
      await again.openStore(spec);
      return again;
    },
  };
}

describe('blockfile: no failed write changes what reads return', () => {
  it('a record without timestamp after 2^63-1 is TSS_ERR_TIMESTAMP_ORDER ("no timestamp left"); the oldest block stays readable', async () => {
    const { sink, reopen } = await wrappedStore('int64');
    const [max] = await sink.write('int64', [{ timestamp: MAX_TIMESTAMP, data: Buffer.alloc(100, 7) }]);
    assert.ok(max.ok);
    const before = await snapshot(sink, 'int64');
    assert.equal(before.newest, MAX_TIMESTAMP);

    const res = await sink.write('int64', [{ data: Buffer.alloc(150, 1) }, { data: Buffer.alloc(10, 2) }]);
    assert.deepEqual(res.map(codeOf), ['TSS_ERR_TIMESTAMP_ORDER', 'TSS_ERR_TIMESTAMP_ORDER']);
    assert.match((res[0] as { message?: string }).message ?? '', /no timestamp left to assign/);
    assert.deepEqual(await snapshot(sink, 'int64'), before, 'reads and stats are unchanged');

    const given = await sink.write('int64', [{ timestamp: MAX_TIMESTAMP, data: Buffer.alloc(1) }]);
    assert.equal(codeOf(given[0]), 'TSS_ERR_TIMESTAMP_ORDER');
    await sink.close();

    const again = await reopen();
    assert.deepEqual(await snapshot(again, 'int64'), before, 'and so is the store after a reopen');
    await again.close();
  });

  it('a batch that fails while being encoded publishes none of its records and drops no block', async () => {
    const { sink, reopen } = await wrappedStore('encode');
    const before = await snapshot(sink, 'encode');
    // A record whose bytes cannot be copied: encoding throws midway through the batch, after
    // the first record (which needs a new block, reclaiming the oldest) was encoded.
    const broken = {
      length: 10,
      copy: () => {
        throw new Error('unreadable record data');
      },
    } as unknown as Buffer;
    const records: SinkRecord[] = [
      { timestamp: 100_000n, data: Buffer.alloc(200, 3) },
      { timestamp: 100_001n, data: broken },
    ];
    const res = await sink.write('encode', records);
    assert.deepEqual(
      res.map((r) => r.ok),
      [false, false],
      'the whole batch is rejected, the encoded record too',
    );
    assert.deepEqual(await snapshot(sink, 'encode'), before, 'no block was dropped, nothing was published');

    const next = await sink.write('encode', [{ timestamp: 100_000n, data: Buffer.alloc(200, 4) }]);
    assert.ok(next[0].ok, 'the store still takes writes, the rejected timestamp included');
    const after = await snapshot(sink, 'encode');
    assert.equal(after.newest, 100_000n);
    assert.deepEqual(after.records.at(-1)?.data, Buffer.alloc(200, 4));
    await sink.close();

    const again = await reopen();
    assert.deepEqual(await snapshot(again, 'encode'), after);
    await again.close();
  });
});

describe('blockfile: a failed final sync is said', () => {
  it('close() rejects naming the store whose last fdatasync failed (fsync never: the data was only in the page cache)', async () => {
    let failSync = false;
    const io: BlockFileIO = {
      ...nodeIO,
      open: async (file, mode) => {
        const fh = await nodeIO.open(file, mode);
        const datasync = fh.datasync.bind(fh);
        fh.datasync = () =>
          failSync && file.endsWith('.data') ? Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) : datasync();
        return fh;
      },
    };
    const spec = storeSpec(root, 'final-sync', 4, 256);
    const sink = new BlockFileSink({ fsync: 'never', checkpoint: false }, { id: 'test', logger: silentLogger, dataDir: root }, io);
    await sink.open();
    await sink.createStore(spec);
    const [r] = await sink.write('final-sync', [{ data: Buffer.from('not yet on disk') }]);
    assert.ok(r.ok);
    failSync = true;
    await assert.rejects(sink.close(), /1 store\(s\) failed to sync and close: final-sync: EIO/);
    assert.equal(sink.isOpen(), false);
  });
});
