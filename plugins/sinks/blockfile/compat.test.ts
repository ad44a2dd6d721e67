/**
 * Stores written by the released engine open with the current one and read identically
 * (fixtures/README.md says how the fixture was made).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { newSink, storeSpec, tempDir } from './test-support.js';

const FIXTURE = path.join(__dirname, '..', '..', '..', '..', 'plugins', 'sinks', 'blockfile', 'fixtures', 'v1-store');

interface Expected {
  geometry: { numBlocks: number; blockSize: number };
  deleted: string;
  stats: { records: number; bytes: number; oldest: string; newest: string; usedBlocks: number; deletedRecords: number; generation: number };
  records: { timestamp: string; blockNum: number; size: number; data: string }[];
}

const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
const root = tempDir('compat');
after(() => fs.rmSync(root, { recursive: true, force: true }));

function copyFixture(name: string): string {
  const dataDir = path.join(root, name);
  const dir = path.join(dataDir, 'v1');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['blockfile.data', 'blockfile.meta']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  return dataDir;
}

async function readBack(dataDir: string): Promise<{ records: Expected['records']; stats: Expected['stats']; deletedGone: boolean; openedFrom: unknown }> {
  const { numBlocks, blockSize } = expected.geometry;
  const sink = newSink(dataDir);
  await sink.open();
  try {
    await sink.openStore(storeSpec(dataDir, 'v1', numBlocks, blockSize));
    const all = await sink.reader.scan('v1', { order: 'asc', limit: 1000, withData: true });
    const st = await sink.stats('v1');
    for (const r of expected.records) {
      const got = await sink.reader.get('v1', BigInt(r.timestamp), true);
      assert.equal(got?.data?.toString('base64'), r.data, `get ${r.timestamp}`);
    }
    const desc = await sink.reader.scan('v1', { order: 'desc', limit: 1000, withData: false });
    assert.deepEqual(
      desc.map((r) => String(r.timestamp)),
      expected.records.map((r) => r.timestamp).reverse(),
    );
    return {
      records: all.map((r) => ({ timestamp: String(r.timestamp), blockNum: Number(r.blockNum), size: r.size, data: (r.data as Buffer).toString('base64') })),
      stats: {
        records: st.records,
        bytes: st.bytes,
        oldest: String(st.oldest),
        newest: String(st.newest),
        usedBlocks: Number(st.usedBlocks),
        deletedRecords: Number(st.extra?.deletedRecords),
        generation: Number(st.extra?.generation),
      },
      deletedGone: (await sink.reader.get('v1', BigInt(expected.deleted), false)) === null,
      openedFrom: st.extra?.openedFrom,
    };
  } finally {
    await sink.close();
  }
}

describe('blockfile compatibility with stores of the released format', () => {
  it('opens the fixture store and reads it identically, then gets a checkpoint and reads the same from it', async () => {
    const dataDir = copyFixture('twice');
    const checkpoint = path.join(dataDir, 'v1', CHECKPOINT_FILE);
    assert.equal(fs.existsSync(checkpoint), false);
    for (let round = 0; round < 2; round++) {
      const got = await readBack(dataDir);
      assert.equal(got.openedFrom, round === 0 ? 'scan' : 'checkpoint', `round ${round}: opened from`);
      assert.ok(fs.existsSync(checkpoint), `round ${round}: the store has a checkpoint`);
      assert.deepEqual(got.records, expected.records, `round ${round}: records`);
      assert.deepEqual(got.stats, expected.stats, `round ${round}: stats`);
      assert.ok(got.deletedGone, 'the soft-deleted record stays deleted');
    }
  });

  it("appends after the fixture's newest record and keeps the older ones", async () => {
    const dataDir = copyFixture('append');
    const { numBlocks, blockSize } = expected.geometry;
    const sink = newSink(dataDir);
    await sink.open();
    try {
      await sink.openStore(storeSpec(dataDir, 'v1', numBlocks, blockSize));
      const res = await sink.write('v1', [{ data: Buffer.from('after') }]);
      assert.ok(res[0].ok && res[0].timestamp > BigInt(expected.stats.newest));
      const all = await sink.reader.scan('v1', { order: 'asc', limit: 1000, withData: true });
      assert.equal(all.at(-1)?.data?.toString(), 'after');
      const before = all.slice(0, -1).map((r) => String(r.timestamp));
      assert.deepEqual(before, expected.records.map((r) => r.timestamp).slice(-before.length));
    } finally {
      await sink.close();
    }
  });
});
