/**
 * Damage at random places of a full, wrapped data file (zeros, garbage, flipped bytes): the store
 * must open, return only exact records, and keep every record the damage did not touch.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { RecordLayout } from './block-file-store.js';
import { newSink, payloadFor, prng, storeSpec, tempDir } from './test-support.js';

const NUM_BLOCKS = 48;
const BLOCK_SIZE = 512;

function touches(layout: RecordLayout, from: number, to: number): boolean {
  return layout.ranges.some(([s, e]) => from < e && to > s);
}

describe('blockfile torn and damaged writes', () => {
  const root = tempDir('torn');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('opens after damage anywhere and keeps every untouched record', async () => {
    const pristine = path.join(root, 'pristine');
    fs.mkdirSync(pristine);
    const sink = newSink(pristine);
    await sink.open();
    await sink.createStore(storeSpec(pristine, 's', NUM_BLOCKS, BLOCK_SIZE));
    let ts = 1_000_000n;
    for (let i = 0; i < 60; i++) {
      const batch = Array.from({ length: 5 }, () => {
        ts += 7n;
        return { timestamp: ts, data: payloadFor(ts, BLOCK_SIZE) };
      });
      const res = await sink.write('s', batch);
      assert.ok(res.every((r) => r.ok));
    }
    assert.ok(Number((await sink.stats('s')).extra?.overwrittenRecords) > 0, 'the ring wrapped');
    const layout = await sink.layout('s');
    await sink.close();
    assert.ok(layout.length > 20);

    const rnd = prng(77);
    const fileSize = NUM_BLOCKS * BLOCK_SIZE;
    for (let round = 0; round < 40; round++) {
      const work = path.join(root, `round-${round}`);
      fs.cpSync(pristine, work, { recursive: true });
      const file = path.join(work, 's', 'blockfile.data');
      const from = Math.floor(rnd() * fileSize);
      const length = Math.min(fileSize - from, 1 + Math.floor(rnd() * (rnd() < 0.5 ? 8 : 600)));
      const fd = fs.openSync(file, 'r+');
      const buf = Buffer.alloc(length);
      fs.readSync(fd, buf, 0, length, from);
      const mode = round % 3;
      for (let i = 0; i < length; i++) buf[i] = mode === 0 ? 0 : mode === 1 ? Math.floor(rnd() * 256) : buf[i] ^ (1 << Math.floor(rnd() * 8));
      fs.writeSync(fd, buf, 0, length, from);
      fs.closeSync(fd);

      const damaged = newSink(work);
      await damaged.open();
      await damaged.openStore(storeSpec(work, 's', NUM_BLOCKS, BLOCK_SIZE));
      const check = async (): Promise<void> => {
        const all = await damaged.reader.scan('s', { order: 'asc', limit: 100_000, withData: true });
        for (let i = 0; i < all.length; i++) {
          if (i > 0) assert.ok(all[i].timestamp > all[i - 1].timestamp);
          assert.deepEqual(all[i].data, payloadFor(all[i].timestamp, BLOCK_SIZE), 'no damaged record is ever returned');
        }
        const present = new Set(all.map((r) => r.timestamp));
        const lost = layout.filter((l) => !touches(l, from, from + length) && !present.has(l.timestamp));
        assert.deepEqual(
          lost.map((l) => l.timestamp),
          [],
          `round ${round}: damage [${from}, ${from + length}) mode ${mode}`,
        );
      };
      await check();
      // The store keeps working after recovery, and a second recovery agrees.
      ts += 1000n;
      const res = await damaged.write('s', [{ timestamp: ts, data: payloadFor(ts, BLOCK_SIZE) }]);
      assert.ok(res[0].ok);
      assert.deepEqual((await damaged.reader.get('s', ts, true))?.data, payloadFor(ts, BLOCK_SIZE));
      await damaged.close();
      const again = newSink(work);
      await again.open();
      await again.openStore(storeSpec(work, 's', NUM_BLOCKS, BLOCK_SIZE));
      assert.deepEqual((await again.reader.get('s', ts, true))?.data, payloadFor(ts, BLOCK_SIZE));
      await again.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
