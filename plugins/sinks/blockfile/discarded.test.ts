/**
 * Data lost to damage is counted and reported, never silent (#13 item 7): blocks an open had to
 * discard or cut short are in stats (discardedBlocksAtOpen, damagedBlocksAtOpen, hence /metrics
 * as tsstore_store_sink_figure) and in a warning naming the store; a block an open from the
 * checkpoint trusted and a read then found damaged leaves the index (discardedBlocksAtRead), so
 * stats keep counting exactly what reads return.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StoreSpec } from 'tsstore/plugin';
import { BlockFileSink } from './block-file-sink.js';
import type { BlockFileOptions } from './options.js';
import { newSink, prng, recordingLogger, storeSpec, tempDir } from './test-support.js';

const BS = 512;
const BLOCKS = 40;
const RECORDS = 150;

const root = tempDir('discarded');
after(() => fs.rmSync(root, { recursive: true, force: true }));

function dataFile(dir: string): string {
  return path.join(dir, 's', 'blockfile.data');
}

async function openDamaged(pristine: string, tag: string, damage: (fd: number) => void, options: Partial<BlockFileOptions>) {
  const dir = path.join(root, tag);
  fs.cpSync(pristine, dir, { recursive: true });
  const fd = fs.openSync(dataFile(dir), 'r+');
  try {
    damage(fd);
  } finally {
    fs.closeSync(fd);
  }
  const logger = recordingLogger();
  const sink = new BlockFileSink(options, { id: 'test', logger, dataDir: dir });
  await sink.open();
  const spec: StoreSpec = storeSpec(dir, 's', BLOCKS, BS);
  await sink.openStore(spec);
  return { sink, logger, spec, dir };
}

async function scanAll(sink: BlockFileSink): Promise<bigint[]> {
  return (await sink.reader.scan('s', { order: 'asc', limit: 100_000, withData: true })).map((r) => r.timestamp);
}

describe('blockfile: data discarded at open is counted and reported', () => {
  const pristine = path.join(root, 'pristine');

  before(async () => {
    fs.mkdirSync(pristine, { recursive: true });
    const sink = newSink(pristine);
    await sink.open();
    await sink.createStore(storeSpec(pristine, 's', BLOCKS, BS));
    const rnd = prng(7);
    for (let i = 1; i <= RECORDS; i++) {
      const ts = BigInt(i) * 10n;
      const [r] = await sink.write('s', [{ timestamp: ts, data: Buffer.alloc(40 + Math.floor(rnd() * 30), i) }]);
      assert.ok(r.ok);
    }
    assert.equal((await sink.stats('s')).usedBlocks, 27, 'the records fill 27 of 40 blocks (no wrap)');
    await sink.close();
  });

  it('the full scan counts blocks whose header random bytes destroyed, and warns naming the store', async () => {
    const junk = Buffer.alloc(4 * BS);
    const rnd = prng(3);
    for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rnd() * 256);
    const { sink, logger } = await openDamaged(pristine, 'random-scan', (fd) => fs.writeSync(fd, junk, 0, junk.length, 10 * BS), { checkpoint: false });
    try {
      const got = await scanAll(sink);
      const st = await sink.stats('s');
      assert.ok(got.length < RECORDS, 'records were lost');
      assert.equal(st.records, got.length, 'stats count what reads return');
      assert.equal(st.extra?.discardedBlocksAtOpen, 4, 'the four overwritten blocks are counted');
      assert.equal(st.extra?.damagedBlocksAtOpen, 0);
      assert.ok(
        logger.warnings.some((w) => w.includes('store s') && w.includes('4 whole block')),
        logger.warnings.join('\n'),
      );
    } finally {
      await sink.close();
    }
  });

  it('the full scan counts a block cut short by two flipped bytes inside a record', async () => {
    // Block 5: flip two bytes in the middle of its data (after the first record).
    const { sink, logger } = await openDamaged(
      pristine,
      'flip-scan',
      (fd) => {
        const b = Buffer.alloc(2);
        fs.readSync(fd, b, 0, 2, 5 * BS + 300);
        b[0] ^= 0xff;
        b[1] ^= 0x5a;
        fs.writeSync(fd, b, 0, 2, 5 * BS + 300);
      },
      { checkpoint: false },
    );
    try {
      const got = await scanAll(sink);
      const st = await sink.stats('s');
      assert.ok(got.length < RECORDS && got.length > RECORDS - 8, `records after the damage in that block are lost (${got.length})`);
      assert.equal(st.records, got.length);
      assert.equal(st.extra?.damagedBlocksAtOpen, 1);
      assert.equal(st.extra?.discardedBlocksAtOpen, 0);
      assert.ok(
        logger.warnings.some((w) => w.includes('store s') && w.includes('1 block(s) were cut short')),
        logger.warnings.join('\n'),
      );
    } finally {
      await sink.close();
    }
  });

  it('an open from the checkpoint drops a damaged block it trusted once a read finds it, and counts it', async () => {
    const junk = Buffer.alloc(2 * BS, 0x77);
    const { sink, logger, spec, dir } = await openDamaged(pristine, 'random-ckpt', (fd) => fs.writeSync(fd, junk, 0, junk.length, 10 * BS), {});
    try {
      assert.equal((await sink.stats('s')).extra?.openedFrom, 'checkpoint');
      const got = await scanAll(sink);
      assert.ok(got.length < RECORDS);
      // The blocks leave the index behind the work queued before: wait for it.
      const deadline = Date.now() + 10_000;
      let st = await sink.stats('s');
      while (st.records !== got.length && Date.now() < deadline) {
        await new Promise((resolve) => setImmediate(resolve));
        st = await sink.stats('s');
      }
      assert.equal(st.records, got.length, 'stats count what reads return');
      assert.equal(st.extra?.discardedBlocksAtRead, 2);
      assert.ok(
        logger.warnings.some((w) => w.includes('store s') && w.includes('no longer counted')),
        logger.warnings.join('\n'),
      );
      await sink.close();
      // The next checkpoint (at close) records it: the next open agrees at once.
      const again = new BlockFileSink({}, { id: 'test', logger: recordingLogger(), dataDir: dir });
      await again.open();
      await again.openStore(spec);
      try {
        assert.equal((await again.stats('s')).extra?.openedFrom, 'checkpoint');
        assert.equal((await again.stats('s')).records, got.length);
        assert.deepEqual(await scanAll(again), got);
      } finally {
        await again.close();
      }
    } finally {
      await sink.close();
    }
  });
});
