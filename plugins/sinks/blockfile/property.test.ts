/**
 * Seeded random sequences of appends (tiny to multi-block, valid and out-of-order timestamps,
 * concurrent calls), soft deletes, reopens and resets, checked after every step against a plain
 * in-memory model. The ring may drop the oldest records, so the model keeps what is at or after
 * the engine's oldest record and checks the drop count against stats.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { RecordResult, SinkRecord, StoreSpec } from 'tsstore/plugin';
import type { BlockFileSink } from './block-file-sink.js';
import { newSink, prng, storeSpec, tempDir } from './test-support.js';

interface ModelRecord {
  ts: bigint;
  data: Buffer;
  deleted: boolean;
}

const root = tempDir('property');
after(() => fs.rmSync(root, { recursive: true, force: true }));

async function runSeed(seed: number, steps: number): Promise<void> {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const blockSize = [64, 128, 256, 512][int(4)];
  const numBlocks = 3 + int(20);
  const dir = path.join(root, `seed-${seed}`);
  fs.mkdirSync(dir);
  const spec: StoreSpec = storeSpec(dir, 'p', numBlocks, blockSize);
  const payload = blockSize - 32;
  const maxData = numBlocks * payload - 24;
  let sink: BlockFileSink = newSink(dir, { fsync: (['batch', 'never', 'always'] as const)[int(3)] });
  await sink.open();
  await sink.createStore(spec);
  let model: ModelRecord[] = [];
  let newest: bigint | undefined;
  let droppedSinceOpen = 0;

  const randomData = (): Buffer => {
    const k = rnd();
    const size = k < 0.6 ? int(Math.max(1, payload - 24)) : k < 0.9 ? int(payload * 3) : k < 0.97 ? int(maxData + 1) : maxData + 1 + int(50);
    return Buffer.from(Array.from({ length: size }, () => int(256)));
  };

  const check = async (step: string): Promise<void> => {
    const st = await sink.stats('p');
    if (st.oldest === undefined) assert.equal(model.length, 0, `${step}: engine empty, model not`);
    else {
      const cut = st.oldest;
      const dropped = model.filter((m) => m.ts < cut).length;
      droppedSinceOpen += dropped;
      model = model.filter((m) => m.ts >= cut);
      assert.ok(model.length > 0 && model[0].ts === cut, `${step}: oldest ${cut} is a model record`);
    }
    assert.equal(st.extra?.overwrittenRecords, droppedSinceOpen, `${step}: overwritten count`);
    const live = model.filter((m) => !m.deleted);
    assert.equal(st.records, live.length, `${step}: record count`);
    assert.equal(
      st.bytes,
      live.reduce((a, m) => a + m.data.length, 0),
      `${step}: bytes`,
    );
    assert.equal(st.newest, newest, `${step}: newest`);
    const all = await sink.reader.scan('p', { order: 'asc', limit: 1_000_000, withData: true });
    assert.deepEqual(
      all.map((r) => r.timestamp),
      live.map((m) => m.ts),
      `${step}: full scan`,
    );
    all.forEach((r, i) => assert.ok(r.data?.equals(live[i].data), `${step}: bytes of ${r.timestamp}`));
    if (model.length === 0) return;
    for (let k = 0; k < 3; k++) {
      const m = model[int(model.length)];
      const got = await sink.reader.get('p', m.ts, rnd() < 0.5);
      if (m.deleted) assert.equal(got, null);
      else assert.equal(got?.timestamp, m.ts);
      assert.equal((await sink.reader.get('p', m.ts + 1n, false)) === null, !model.some((x) => x.ts === m.ts + 1n && !x.deleted));
    }
    const lo = model[int(model.length)].ts - BigInt(int(3));
    const hi = lo + BigInt(int(4000));
    const limit = 1 + int(20);
    const order = rnd() < 0.5 ? 'asc' : 'desc';
    const expect = live.filter((m) => m.ts >= lo && m.ts <= hi).map((m) => m.ts);
    if (order === 'desc') expect.reverse();
    const got = await sink.reader.scan('p', { order, from: lo, to: hi, limit, withData: false });
    assert.deepEqual(
      got.map((r) => r.timestamp),
      expect.slice(0, limit),
      `${step}: scan ${order} [${lo}, ${hi}] limit ${limit}`,
    );
  };

  for (let i = 0; i < steps; i++) {
    const op = rnd();
    if (op < 0.65) {
      const calls: SinkRecord[][] = Array.from({ length: 1 + int(3) }, () =>
        Array.from({ length: 1 + int(6) }, () => {
          const t = rnd();
          const base = newest ?? 0n;
          const timestamp = t < 0.6 ? undefined : t < 0.9 ? base + 1n + BigInt(int(500)) : base - BigInt(int(3));
          return { timestamp: timestamp !== undefined && timestamp < 0n ? 0n : timestamp, data: randomData() };
        }),
      );
      const results: RecordResult[][] = await Promise.all(calls.map((c) => sink.write('p', c)));
      calls.forEach((c, ci) =>
        c.forEach((rec, ri) => {
          const r = results[ci][ri];
          const blocks = 24 + rec.data.length <= payload ? 1 : Math.ceil((24 + rec.data.length) / payload);
          if (blocks > numBlocks) return assert.equal(r.ok ? 'ok' : r.code, 'TSS_ERR_RECORD_TOO_LARGE');
          if (rec.timestamp !== undefined && newest !== undefined && rec.timestamp <= newest)
            return assert.equal(r.ok ? 'ok' : r.code, 'TSS_ERR_TIMESTAMP_ORDER');
          assert.ok(r.ok, `step ${i}: accepted`);
          if (rec.timestamp !== undefined) assert.equal(r.timestamp, rec.timestamp);
          assert.ok(newest === undefined || r.timestamp > newest);
          newest = r.timestamp;
          model.push({ ts: r.timestamp, data: rec.data, deleted: false });
        }),
      );
    } else if (op < 0.8 && model.length > 0) {
      const m = model[int(model.length)];
      assert.equal(await sink.reader.remove('p', m.ts), !m.deleted);
      m.deleted = true;
    } else if (op < 0.95) {
      await sink.close();
      sink = newSink(dir);
      await sink.open();
      await sink.openStore(spec);
      droppedSinceOpen = 0;
    } else {
      await sink.resetStore('p');
      model = [];
      newest = undefined;
    }
    await check(`seed ${seed} step ${i}`);
  }
  await sink.close();
}

describe('blockfile property tests (seeded)', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`random appends, deletes, reopens and resets match the model (seed ${seed})`, async () => {
      await runSeed(seed, 120);
    });
  }
});
