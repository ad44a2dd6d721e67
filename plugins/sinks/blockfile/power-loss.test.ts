/**
 * Simulated power loss: for each fsync policy, many runs of group-committed writes on a tiny
 * ring in a simulated disk (power-loss-io.ts) that loses power at a random operation; the store
 * is reopened from what survived (from the checkpoint, as by default, or by the full scan) and
 * checked against what was acknowledged.
 *
 * Every cut must reopen to records that were written, byte for byte, with increasing timestamps,
 * agreeing between scans, stats and point reads, and the store must take writes again. On top,
 * per policy: `always` and `batch` lose no acknowledged record still in the ring; `interval`
 * loses only records acknowledged within `fsync_interval_ms` before the cut; `never` loses only
 * records acknowledged after the last sync (a clean close).
 *
 * TSS_POWER_SEED=<n> replays a whole test run; TSS_POWER_RUN=<run seed> replays one failed run
 * (printing what it did); TSS_POWER_CUTS=<n> sets the cuts per policy (default 1000 with the
 * checkpoint, a quarter of it with checkpoint: false); TSS_POWER_CKPT_DEFAULT=1 keeps the default
 * checkpoint_bytes in every run.
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { SinkContext, SinkStoreStats, StoreSpec } from 'tsstore/plugin';
import { BlockFileSink } from './block-file-sink.js';
import type { FsyncPolicy } from './options.js';
import { PowerLossDisk } from './power-loss-io.js';
import { prng, silentLogger } from './test-support.js';

const CUTS = Number(process.env.TSS_POWER_CUTS ?? 1000);
const BASE_SEED = process.env.TSS_POWER_SEED !== undefined ? Number(process.env.TSS_POWER_SEED) : Math.floor(Math.random() * 2 ** 31);
/** Virtual milliseconds between two rounds of writes. */
const STEP_MS = 10;
const STORE = 's';
const REPLAY = process.env.TSS_POWER_RUN !== undefined ? Number(process.env.TSS_POWER_RUN) : undefined;
const trace = (...args: unknown[]): void => {
  if (REPLAY !== undefined) console.error(...args);
};

interface Figures {
  cuts: number;
  written: number;
  acked: number;
  /** Acknowledged records still in the ring at the cut that did not survive it. */
  lostAcked: number;
  /** Records written but never acknowledged (in flight at the cut) that survived it. */
  survivedUnacked: number;
  /** Largest time between a lost record's acknowledgement and the cut (virtual ms). */
  maxLossWindowMs: number;
  cutsDuringCreate: number;
  cutsAtRest: number;
  /** Reopens after the cut that used the checkpoint (the others fell back to the full scan). */
  openedFromCheckpoint: number;
}

function emptyFigures(): Figures {
  return { cuts: 0, written: 0, acked: 0, lostAcked: 0, survivedUnacked: 0, maxLossWindowMs: 0, cutsDuringCreate: 0, cutsAtRest: 0, openedFromCheckpoint: 0 };
}

/** Deterministic bytes for a timestamp: any record read back can be checked without a log. */
function payload(ts: bigint, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (Number(ts % 2147483647n) * 2654435761 + size) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const ctx: SinkContext = { id: 'power', logger: silentLogger, dataDir: '/sim' };

/** One run: write until the power is cut, power-cycle, reopen, check. Throws on a broken promise. */
async function run(policy: FsyncPolicy, seed: number, fig: Figures, checkpoint: boolean): Promise<void> {
  const rnd = prng(seed);
  const disk = new PowerLossDisk(rnd);
  const numBlocks = 3 + Math.floor(rnd() * 14);
  const blockSize = [256, 512, 1024, 2048][Math.floor(rnd() * 4)];
  const intervalMs = STEP_MS * (2 + Math.floor(rnd() * 9));
  // With the checkpoint (the default): a third of the runs keep the default checkpoint_bytes (a
  // window of the whole ring), the others write a checkpoint every few blocks, so that opens
  // verify a window smaller than the ring and writes reach its limit. checkpoint: false — every
  // open takes the full-scan recovery.
  const ckRnd = prng(seed ^ 0x5bd1e995); // its own stream: the runs' writes and cuts do not depend on it
  const ckBytes = process.env.TSS_POWER_CKPT_DEFAULT === '1' || ckRnd() < 1 / 3 ? undefined : 64 + Math.floor(ckRnd() * 8192);
  const options = {
    fsync: policy,
    fsync_interval_ms: intervalMs,
    max_flush_bytes: 4096 + Math.floor(rnd() * 4) * 4096,
    ...(checkpoint ? (ckBytes === undefined ? {} : { checkpoint_bytes: ckBytes }) : { checkpoint: false }),
  };
  const spec: StoreSpec = { name: STORE, dir: '/sim/s', dataType: 'binary', numBlocks, dataBlockSize: blockSize, indexBlockSize: 4096 };
  const maxRecord = Math.max(1, Math.floor((numBlocks * (blockSize - 32) - 24) / 2));

  const sizes = new Map<bigint, number>();
  const acked = new Map<bigint, number>(); // ts → virtual ack time
  let lastSyncedClose = -1n; // every record acknowledged up to this ts was synced by a clean close
  let now = 0;
  let cutTime = -1;
  let atCut: SinkStoreStats | undefined;
  let sink = new BlockFileSink(options, ctx, disk.io());
  await sink.open();
  const onCut = (): void => {
    cutTime = now;
    // stats() reads the index synchronously: the figures are those of the cut's instant.
    sink.stats(STORE).then(
      (st) => (atCut = st),
      () => undefined,
    );
  };

  const createCut = rnd() < 0.05;
  if (createCut) disk.armCut(1 + Math.floor(rnd() * 12), onCut);
  let created = true;
  try {
    await sink.createStore(spec);
  } catch {
    created = false;
  }
  if (createCut && disk.isCut) fig.cutsDuringCreate++;
  else disk.armCut(1 + Math.floor(rnd() * 80), onCut);

  let ts = BigInt(1 + Math.floor(rnd() * 1000));
  const reopenAt = rnd() < 0.3 ? Math.floor(rnd() * 15) : -1;
  for (let step = 0; step < 30 && created && !disk.isCut; step++) {
    if (step === reopenAt) {
      try {
        atCut = await sink.stats(STORE); // what is live if the cut strikes the close or the reopen
        await sink.close();
        if (disk.isCut) break; // the cut struck the close (its final fdatasync failed)
        lastSyncedClose = ts;
        sink = new BlockFileSink(options, ctx, disk.io());
        await sink.open();
        await sink.openStore(spec);
      } catch {
        break; // the cut struck the close or the reopen
      }
    }
    const calls: Promise<void>[] = [];
    for (let c = 1 + Math.floor(rnd() * 3); c > 0; c--) {
      const records = [];
      for (let n = 1 + Math.floor(rnd() * 4); n > 0; n--) {
        ts += BigInt(1 + Math.floor(rnd() * 3));
        const k = rnd();
        const size = k < 0.8 ? Math.floor(rnd() * 100) : k < 0.95 ? Math.floor(rnd() * blockSize * 2) : Math.floor(rnd() * maxRecord);
        sizes.set(ts, size);
        records.push({ timestamp: ts, data: payload(ts, size) });
      }
      const w = sink;
      calls.push(
        w.write(STORE, records).then(
          (results) =>
            results.forEach((r) => {
              if (r.ok) acked.set(r.timestamp, now);
            }),
          () => undefined,
        ),
      );
    }
    await Promise.all(calls);
    now += STEP_MS;
    if (policy === 'interval') {
      mock.timers.tick(STEP_MS);
      await new Promise((resolve) => setImmediate(resolve)); // let the timer's fdatasync finish
    }
  }
  if (!disk.isCut) fig.cutsAtRest++;
  disk.cutNow();
  await sink.close().catch(() => undefined); // stops its timer; the dead disk refuses the rest
  // The ring may have reclaimed acknowledged records before the cut (a write reclaims the oldest
  // blocks first): only those still in its index at the cut's instant are owed.
  const oldestAtCut = atCut !== undefined && atCut.records > 0 ? atCut.oldest : undefined;
  trace({
    policy,
    options,
    numBlocks,
    blockSize,
    intervalMs,
    cutTime,
    atCut,
    reopenAt,
    lastSyncedClose,
    created,
    counters: disk.counters,
    acked: [...acked.keys()].join(' '),
  });
  const stillLive = (t: bigint): boolean => oldestAtCut !== undefined && t >= oldestAtCut;
  disk.powerCycle();

  // Reopen from what survived.
  const after = new BlockFileSink(options, ctx, disk.io());
  await after.open();
  await after.openStore(spec);
  const asc = await after.reader.scan(STORE, { order: 'asc', limit: 1_000_000, withData: true });
  const desc = await after.reader.scan(STORE, { order: 'desc', limit: 1_000_000, withData: false });
  const st = await after.stats(STORE);
  trace({ recovered: asc.map((r) => r.timestamp).join(' '), stats: st });
  assert.equal(st.records, asc.length, 'stats count what scans return');
  assert.deepEqual(
    desc.map((r) => r.timestamp),
    asc.map((r) => r.timestamp).reverse(),
    'desc is asc reversed',
  );
  const present = new Set<bigint>();
  const maxAcked = [...acked.keys()].reduce((m, t) => (t > m ? t : m), -1n);
  for (let i = 0; i < asc.length; i++) {
    const r = asc[i];
    if (i > 0) assert.ok(r.timestamp > asc[i - 1].timestamp, 'timestamps increase');
    const size = sizes.get(r.timestamp);
    assert.ok(size !== undefined, `record ${r.timestamp} was never written`);
    assert.deepEqual(r.data, payload(r.timestamp, size), `record ${r.timestamp} is exact`);
    present.add(r.timestamp);
    if (!acked.has(r.timestamp)) {
      fig.survivedUnacked++;
      if (policy === 'always' || policy === 'batch') assert.ok(r.timestamp > maxAcked, `unacknowledged ${r.timestamp} survived below acknowledged ${maxAcked}`);
    }
  }
  if (asc.length > 0) {
    assert.equal(st.newest, asc[asc.length - 1].timestamp);
    assert.equal(st.oldest, asc[0].timestamp, 'the oldest record is the first a scan returns');
  }
  for (const r of asc.filter((_, i) => i % 7 === 0)) {
    assert.deepEqual((await after.reader.get(STORE, r.timestamp, true))?.data, r.data, 'point reads agree');
  }

  // Per policy: which acknowledged records the README promises.
  for (const [t, ackTime] of acked) {
    if (!stillLive(t) || present.has(t)) continue;
    fig.lostAcked++;
    const window = cutTime - ackTime;
    fig.maxLossWindowMs = Math.max(fig.maxLossWindowMs, window);
    if (policy === 'always' || policy === 'batch') assert.fail(`acknowledged record ${t} lost under fsync=${policy}`);
    if (policy === 'interval') assert.ok(window <= intervalMs, `record ${t} acknowledged ${window} ms before the cut was lost (interval ${intervalMs} ms)`);
    if (policy === 'never') assert.ok(t > lastSyncedClose, `record ${t} synced by a clean close was lost`);
  }
  if (checkpoint) fig.openedFromCheckpoint += st.extra?.openedFrom === 'checkpoint' ? 1 : 0;
  fig.cuts++;
  fig.written += sizes.size;
  fig.acked += acked.size;

  // The store goes on: a new record, and a second recovery agrees with the first.
  const next = (st.newest ?? 0n) + 1n;
  const [res] = await after.write(STORE, [{ timestamp: next, data: payload(next, 10) }]);
  assert.ok(res.ok, 'the reopened store takes writes');
  await after.close();
  const again = new BlockFileSink(options, ctx, disk.io());
  await again.open();
  await again.openStore(spec);
  const asc2 = await again.reader.scan(STORE, { order: 'asc', limit: 1_000_000, withData: false });
  const expected = asc
    .map((r) => r.timestamp)
    .concat(next)
    .slice(-asc2.length);
  assert.deepEqual(
    asc2.map((r) => r.timestamp),
    expected,
    'a second recovery keeps what the first found (less what the new record reclaimed)',
  );
  const st2 = await again.stats(STORE);
  assert.equal(st2.records, asc2.length, 'stats count what scans return after the second recovery');
  if (asc2.length > 0) assert.equal(st2.oldest, asc2[0].timestamp, 'the oldest record is the first a scan returns');
  await again.close();
}

const POLICIES = ['always', 'batch', 'interval', 'never'] as const;

describe(`blockfile under simulated power loss (seed ${BASE_SEED}, ${CUTS} cuts per policy with the checkpoint, ${Math.ceil(CUTS / 4)} without)`, () => {
  for (const [policy, checkpoint] of POLICIES.flatMap(
    (p) =>
      [
        [p, true],
        [p, false],
      ] as const,
  )) {
    const cuts = checkpoint ? CUTS : Math.ceil(CUTS / 4);
    it(`fsync=${policy}${checkpoint ? '' : ', checkpoint: false'}`, async (t) => {
      if (policy === 'interval') mock.timers.enable({ apis: ['setInterval'] });
      const fig = emptyFigures();
      try {
        for (let i = 0; i < (REPLAY === undefined ? cuts : 1); i++) {
          const seed = REPLAY ?? (BASE_SEED + i * 7919 + POLICIES.indexOf(policy) * 104729 + (checkpoint ? 0 : 15485863)) >>> 0;
          try {
            await run(policy, seed, fig, checkpoint);
          } catch (err) {
            (err as Error).message =
              `fsync=${policy}${checkpoint ? '' : ' checkpoint=false'}, cut ${i} (TSS_POWER_SEED=${BASE_SEED}; replay this run alone with TSS_POWER_RUN=${seed}): ${(err as Error).message}`;
            throw err;
          }
        }
      } finally {
        if (policy === 'interval') mock.timers.reset();
      }
      t.diagnostic(`fsync=${policy}${checkpoint ? '' : ' checkpoint=false'}: ${JSON.stringify(fig)}`);
      if (REPLAY !== undefined) return;
      assert.equal(fig.cuts, cuts);
      if (checkpoint) assert.ok(fig.openedFromCheckpoint > 0, 'some reopens used the checkpoint');
      if (policy === 'always' || policy === 'batch') assert.equal(fig.lostAcked, 0);
      assert.ok(fig.acked > 0);
    });
  }
});

describe('blockfile soft delete under power loss, with the checkpoint', () => {
  it('stats equal reads whichever operation of a soft delete the cut strikes', async () => {
    const spec: StoreSpec = { name: STORE, dir: '/sim/s', dataType: 'binary', numBlocks: 8, dataBlockSize: 512, indexBlockSize: 4096 };
    let struck = 0;
    let deletedSurvived = 0;
    for (let k = 1; k <= 12; k++) {
      const disk = new PowerLossDisk(prng(k));
      const sink = new BlockFileSink({ fsync: 'batch', checkpoint_bytes: 64 }, ctx, disk.io());
      await sink.open();
      await sink.createStore(spec);
      for (let ts = 1n; ts <= 12n; ts++) assert.ok((await sink.write(STORE, [{ timestamp: ts * 10n, data: payload(ts, 60) }]))[0].ok);
      // The operation the cut strikes: the k-th mutating one of the delete (checkpoint, mark, sync, checkpoint).
      disk.armCut(k);
      const removed = await sink.reader.remove(STORE, 50n).catch(() => false);
      if (disk.isCut) struck++;
      disk.cutNow();
      await sink.close().catch(() => undefined);
      disk.powerCycle();
      const after = new BlockFileSink({ fsync: 'batch', checkpoint_bytes: 64 }, ctx, disk.io());
      await after.open();
      await after.openStore(spec);
      const asc = await after.reader.scan(STORE, { order: 'asc', limit: 100, withData: false });
      const st = await after.stats(STORE);
      assert.equal(st.records, asc.length, `cut at operation ${k} of the delete: stats count what scans return`);
      assert.equal(st.extra?.deletedRecords, 12 - asc.length, `cut at operation ${k}: deleted records counted`);
      assert.ok(asc.length === 11 || asc.length === 12, `cut at operation ${k}: only the deleted record may be missing`);
      if (removed) assert.equal(asc.length, 11, `cut at operation ${k}: an acknowledged delete holds`);
      if (asc.length === 11) deletedSurvived++;
      await after.close();
    }
    assert.ok(struck >= 3, 'the cut struck the delete itself');
    assert.ok(deletedSurvived > 0);
  });
});
