/**
 * The block-index checkpoint: written at close and periodically, used at open (then only the
 * blocks after it are scanned), and never trusted when it is missing, torn, stale or corrupt:
 * every open must serve exactly what a full scan of the same files serves.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { StoreSpec } from 'tsstore/plugin';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { newSink, openCopy, payloadFor, prng, storeSpec, tempDir } from './test-support.js';

const root = tempDir('checkpoint');
after(() => fs.rmSync(root, { recursive: true, force: true }));

const BS = 256;

/** Writes `n` records of mixed sizes (spanning ones included) with increasing timestamps from `ts`. */
async function fill(sink: ReturnType<typeof newSink>, store: string, n: number, ts: bigint, perCall = 5): Promise<bigint> {
  for (let i = 0; i < n; i += perCall) {
    const batch = Array.from({ length: Math.min(perCall, n - i) }, () => {
      ts += 7n;
      return { timestamp: ts, data: payloadFor(ts, BS) };
    });
    const res = await sink.write(store, batch);
    assert.ok(res.every((r) => r.ok));
  }
  return ts;
}

/** The checkpointed open and a forced full scan of the same files serve the same. */
async function assertSameAsFullScan(dataDir: string, spec: StoreSpec, expectFrom: string, tag: string): Promise<void> {
  const viaCheckpoint = await openCopy(dataDir, spec, {}, `${tag}-ckpt`);
  const fullScan = await openCopy(dataDir, spec, { checkpoint: false }, `${tag}-scan`);
  assert.equal(viaCheckpoint.openedFrom, expectFrom, `${tag}: opened from (${viaCheckpoint.warnings.join('; ')})`);
  assert.equal(fullScan.openedFrom, 'scan');
  assert.deepEqual(viaCheckpoint.stats, fullScan.stats, `${tag}: stats`);
  assert.deepEqual(viaCheckpoint.records, fullScan.records, `${tag}: records`);
}

function ckptFile(spec: StoreSpec): string {
  return path.join(spec.dir, CHECKPOINT_FILE);
}

describe('blockfile checkpoint', () => {
  it('is written at close and used by the next open, which serves what a full scan serves', async () => {
    const dataDir = path.join(root, 'close');
    const spec = storeSpec(dataDir, 's', 40, BS);
    const sink = newSink(dataDir);
    await sink.open();
    await sink.createStore(spec);
    const ts = await fill(sink, 's', 120, 1000n);
    const some = await sink.reader.scan('s', { order: 'desc', limit: 3, withData: false });
    for (const r of some) assert.ok(await sink.reader.remove('s', r.timestamp));
    await sink.close();
    assert.ok(fs.existsSync(ckptFile(spec)));
    await assertSameAsFullScan(dataDir, spec, 'checkpoint', 'close');

    // Reopen, append without a checkpoint after it, and leave without closing (the files as a
    // crash leaves them): the open uses the checkpoint and scans only what came after.
    const again = newSink(dataDir, { checkpoint_bytes: 1 << 30 });
    await again.open();
    await again.openStore(spec);
    assert.equal((await again.stats('s')).extra?.openedFrom, 'checkpoint');
    await fill(again, 's', 9, ts);
    await assertSameAsFullScan(dataDir, spec, 'checkpoint', 'tail');
    await again.close();
  });

  it('is written every checkpoint_bytes and every checkpoint_interval_ms while writing', async () => {
    const dataDir = path.join(root, 'periodic');
    const spec = storeSpec(dataDir, 's', 64, BS);
    let sink = newSink(dataDir, { checkpoint_bytes: 2048, checkpoint_interval_ms: 1_000_000 });
    await sink.open();
    await sink.createStore(spec);
    const c0 = Number((await sink.stats('s')).extra?.checkpoints);
    const ts = await fill(sink, 's', 60, 1000n, 1);
    const c1 = Number((await sink.stats('s')).extra?.checkpoints);
    assert.ok(c1 - c0 >= 3, `byte trigger: ${c1 - c0} checkpoints`);
    await sink.close();

    sink = newSink(dataDir, { checkpoint_bytes: 1 << 30, checkpoint_interval_ms: 20 });
    await sink.open();
    await sink.openStore(spec);
    const before = Number((await sink.stats('s')).extra?.checkpoints);
    await fill(sink, 's', 1, ts);
    for (let i = 0; i < 500 && Number((await sink.stats('s')).extra?.checkpoints) === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(Number((await sink.stats('s')).extra?.checkpoints) > before, 'time trigger');
    await assertSameAsFullScan(dataDir, spec, 'checkpoint', 'interval');
    await sink.close();
  });

  it('falls back to a full scan, with a warning, when missing, corrupt, truncated or stale', async () => {
    const dataDir = path.join(root, 'fallback');
    const spec = storeSpec(dataDir, 's', 32, BS);
    let sink = newSink(dataDir, { checkpoint_bytes: 1024 });
    await sink.open();
    await sink.createStore(spec);
    let ts = await fill(sink, 's', 50, 1000n);
    await sink.close();
    const good = fs.readFileSync(ckptFile(spec));
    const rnd = prng(77);
    const variants: [string, (b: Buffer) => Buffer | null][] = [
      ['missing', () => null],
      ['empty', () => Buffer.alloc(0)],
      ['garbage', (b) => Buffer.alloc(b.length, 0x5a)],
    ];
    for (let i = 0; i < 12; i++) variants.push([`truncated-${i}`, (b) => b.subarray(0, Math.floor(rnd() * b.length))]);
    for (let i = 0; i < 12; i++) {
      variants.push([
        `flipped-${i}`,
        (b) => {
          const c = Buffer.from(b);
          c[Math.floor(rnd() * c.length)] ^= 1 + Math.floor(rnd() * 255);
          return c;
        },
      ]);
    }
    let fellBack = 0;
    for (const [name, damage] of variants) {
      const d = damage(good);
      if (d === null) fs.rmSync(ckptFile(spec));
      else fs.writeFileSync(ckptFile(spec), d);
      const via = await openCopy(dataDir, spec, {}, name);
      const scan = await openCopy(dataDir, spec, { checkpoint: false }, `${name}-scan`);
      assert.deepEqual(
        via.records.map((r) => r.split(':')[0]),
        scan.records.map((r) => r.split(':')[0]),
        `${name}: nothing lost (${via.openedFrom} ${via.warnings.join('; ')})`,
      );
      assert.deepEqual(via.records, scan.records, `${name}: nothing lost`);
      assert.deepEqual(via.stats, scan.stats, `${name}: stats`);
      if (via.openedFrom === 'scan') {
        fellBack++;
        assert.ok(
          via.warnings.some((w) => w.includes('checkpoint not used')),
          `${name}: warned`,
        );
      }
    }
    assert.ok(fellBack >= 3, 'missing, empty and garbage fall back');

    // Stale: an old checkpoint kept while the data moved on more than a whole lap.
    fs.writeFileSync(ckptFile(spec), good);
    sink = newSink(dataDir);
    await sink.open();
    await sink.openStore(spec);
    ts = await fill(sink, 's', 120, ts);
    await sink.close();
    fs.writeFileSync(ckptFile(spec), good);
    const stale = await openCopy(dataDir, spec, {}, 'stale');
    const scan = await openCopy(dataDir, spec, { checkpoint: false }, 'stale-scan');
    assert.equal(stale.openedFrom, 'scan');
    assert.ok(stale.warnings.some((w) => w.includes('checkpoint not used')));
    assert.deepEqual(stale.records, scan.records);
    assert.equal(scan.stats.newest, ts);
  });

  it('is invalidated by reset and removed by drop; the fixture-era store without one gets one', async () => {
    const dataDir = path.join(root, 'reset');
    const spec = storeSpec(dataDir, 's', 16, BS);
    const sink = newSink(dataDir);
    await sink.open();
    await sink.createStore(spec);
    await fill(sink, 's', 30, 1000n);
    const old = fs.readFileSync(ckptFile(spec));
    await sink.resetStore('s');
    assert.notDeepEqual(fs.readFileSync(ckptFile(spec)), old, 'reset replaced the checkpoint');
    const afterReset = await openCopy(dataDir, spec, {}, 'after-reset');
    assert.deepEqual(afterReset.records, []);
    assert.equal(afterReset.openedFrom, 'checkpoint');
    // An old checkpoint put back after a reset belongs to another generation: not used.
    fs.writeFileSync(ckptFile(spec), old);
    const restored = await openCopy(dataDir, spec, {}, 'old-generation');
    assert.equal(restored.openedFrom, 'scan');
    assert.deepEqual(restored.records, []);
    await sink.dropStore('s');
    assert.deepEqual(fs.readdirSync(spec.dir), []);
    await sink.close();
  });
});
