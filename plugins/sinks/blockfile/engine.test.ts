/** Engine behaviour beyond the Sink contract: checksum, geometry, wrap-around, options. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { StoredRecord } from 'tsstore/plugin';
import { SMALL_RANGE, crc32, crc32Portable } from './crc32.js';
import { blockfileSink } from './index.js';
import { newSink, payloadFor, prng, sinkContext, storeSpec, tempDir } from './test-support.js';

const root = tempDir('engine');
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('crc32', () => {
  it('matches the standard check value and the native implementation', () => {
    const check = Buffer.from('123456789');
    assert.equal(crc32Portable(check, 0, check.length), 0xcbf43926);
    assert.equal(crc32(check, 0, check.length), 0xcbf43926);
    const rnd = prng(1);
    const buf = Buffer.from(Array.from({ length: 5000 }, () => Math.floor(rnd() * 256)));
    assert.equal(crc32(buf, 100, 4000, crc32(buf, 0, 100)), crc32Portable(buf, 0, 4000));
  });

  it('gives the bytewise CRC for every length and alignment on both sides of the short-range cut', () => {
    const bytewise = (b: Uint8Array, s: number, e: number, crc = 0): number => {
      let c = ~crc >>> 0;
      for (let i = s; i < e; i++) {
        c ^= b[i];
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return ~c >>> 0;
    };
    const rnd = prng(7);
    const buf = Buffer.from(Array.from({ length: 600 }, () => Math.floor(rnd() * 256)));
    for (let len = 0; len <= 2 * SMALL_RANGE + 9; len++) {
      for (const start of [0, 1, 3, 7, 8, 13]) {
        const want = bytewise(buf, start, start + len, 0x1234abcd);
        assert.equal(crc32Portable(buf, start, start + len, 0x1234abcd), want, `portable len ${len} start ${start}`);
        assert.equal(crc32(buf, start, start + len, 0x1234abcd), want, `crc32 len ${len} start ${start}`);
      }
    }
  });
});

describe('descriptor and options', () => {
  it('validates options with defaults and rejects unknown keys', () => {
    const ok = blockfileSink.options.validate({});
    assert.equal(ok.error, undefined);
    assert.equal(ok.value.fsync, 'batch');
    assert.equal(ok.value.fsync_interval_ms, 1000);
    assert.ok(blockfileSink.options.validate({ fsync: 'sometimes' }).error);
    assert.ok(blockfileSink.options.validate({ fsynk: 'batch' }).error);
    assert.equal(blockfileSink.type, 'blockfile');
    assert.equal(blockfileSink.kind, 'sink');
  });

  it('has a sample config whose sink block validates', () => {
    const sample = fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'plugins', 'sinks', 'blockfile', 'sample.yaml'), 'utf8');
    const block: Record<string, string | number> = {};
    for (const m of sample.slice(sample.indexOf('    sink:')).matchAll(/^\s{6}(\w+):\s*([^\s#]+)/gm)) block[m[1]] = /^\d+$/.test(m[2]) ? Number(m[2]) : m[2];
    assert.equal(block.type, 'blockfile');
    const { type: _type, ...options } = block;
    assert.equal(blockfileSink.options.validate(options).error, undefined);
  });

  it('refuses bad geometry with TSS_ERR_STORE_OPTIONS', async () => {
    const dir = path.join(root, 'geometry');
    fs.mkdirSync(dir);
    const sink = blockfileSink.create(blockfileSink.options.validate({}).value, sinkContext(dir));
    await sink.open();
    await assert.rejects(sink.createStore(storeSpec(dir, 'bad', 8, 100)), { code: 'TSS_ERR_STORE_OPTIONS' });
    await sink.close();
  });
});

describe('ring geometry', () => {
  it('preallocates the data file and rejects records larger than the store', async () => {
    const dir = path.join(root, 'large');
    fs.mkdirSync(dir);
    const sink = newSink(dir);
    await sink.open();
    const spec = storeSpec(dir, 's', 8, 256);
    await sink.createStore(spec);
    assert.equal(fs.statSync(path.join(spec.dir, 'blockfile.data')).size, 8 * 256);
    const max = 8 * (256 - 32) - 24;
    const res = await sink.write('s', [{ data: Buffer.alloc(max + 1, 1) }, { data: Buffer.alloc(max, 2) }]);
    assert.deepEqual(
      res.map((r) => (r.ok ? 'ok' : r.code)),
      ['TSS_ERR_RECORD_TOO_LARGE', 'ok'],
    );
    assert.ok(res[1].ok);
    assert.deepEqual((await sink.reader.get('s', res[1].timestamp, true))?.data, Buffer.alloc(max, 2));
    // The record fills the whole ring: the next one reclaims it.
    const small = await sink.write('s', [{ data: Buffer.alloc(3, 3) }]);
    assert.ok(small[0].ok);
    assert.equal(await sink.reader.get('s', res[1].timestamp, false), null);
    const st = await sink.stats('s');
    assert.equal(st.records, 1);
    assert.equal(st.extra?.overwrittenRecords, 1);
    assert.equal(fs.statSync(path.join(spec.dir, 'blockfile.data')).size, 8 * 256, 'the file never grows');
    await sink.close();
  });

  it('wraps around with tiny and multi-block records, then answers every query after reopen', async () => {
    const dir = path.join(root, 'wrap');
    fs.mkdirSync(dir);
    const BS = 256;
    const spec = storeSpec(dir, 'w', 16, BS);
    let sink = newSink(dir);
    await sink.open();
    await sink.createStore(spec);
    const written: { ts: bigint; data: Buffer }[] = [];
    let ts = 5_000n;
    for (let i = 0; i < 400; i++) {
      ts += 3n;
      const data = payloadFor(ts, BS);
      const r = (await sink.write('w', [{ timestamp: ts, data }]))[0];
      assert.ok(r.ok, `record ${i}`);
      written.push({ ts, data });
    }
    const stats = await sink.stats('w');
    assert.ok(Number(stats.extra?.overwrittenRecords) > 100, 'wrapped several times');
    assert.equal(stats.usedBlocks, 16);
    const verify = async (): Promise<void> => {
      const st = await sink.stats('w');
      const live = written.filter((w) => w.ts >= (st.oldest as bigint));
      assert.equal(st.records, live.length);
      assert.equal(st.newest, ts);
      const all = await sink.reader.scan('w', { order: 'asc', limit: 10_000, withData: true });
      assert.deepEqual(
        all.map((r) => r.timestamp),
        live.map((w) => w.ts),
      );
      all.forEach((r, i) => assert.deepEqual(r.data, live[i].data));
      const desc = await sink.reader.scan('w', { order: 'desc', limit: 10_000, withData: false });
      assert.deepEqual(
        desc.map((r) => r.timestamp),
        live.map((w) => w.ts).reverse(),
      );
      for (const w of live) assert.deepEqual((await sink.reader.get('w', w.ts, true))?.data, w.data);
      assert.equal(await sink.reader.get('w', written[0].ts, false), null, 'overwritten records are gone');
      const mid = live[Math.floor(live.length / 2)].ts;
      const window = (rs: StoredRecord[]): bigint[] => rs.map((r) => r.timestamp);
      assert.deepEqual(
        window(await sink.reader.scan('w', { order: 'asc', from: mid - 4n, to: mid + 7n, limit: 10, withData: false })),
        live.filter((w) => w.ts >= mid - 4n && w.ts <= mid + 7n).map((w) => w.ts),
      );
      assert.deepEqual(
        window(await sink.reader.scan('w', { order: 'desc', to: mid, limit: 3, withData: false })),
        live
          .filter((w) => w.ts <= mid)
          .slice(-3)
          .reverse()
          .map((w) => w.ts),
      );
    };
    await verify();
    await sink.close();
    sink = newSink(dir);
    await sink.open();
    await sink.openStore(spec);
    await verify();
    await sink.close();
  });
});

describe('block index memory', () => {
  it('costs 16 bytes per block, whatever the records, plus an entry per block with deletions', async () => {
    const dir = path.join(root, 'index-memory');
    fs.mkdirSync(dir);
    const spec = storeSpec(dir, 'm', 4096, 64);
    let sink = newSink(dir, { fsync: 'never' });
    await sink.open();
    await sink.createStore(spec);
    const before = (await sink.stats('m')).extra?.indexBytes;
    assert.equal(before, 4096 * 16);
    for (let i = 0; i < 20; i++) {
      const res = await sink.write(
        'm',
        Array.from({ length: 300 }, (_, j) => ({ data: Buffer.alloc((i + j) % 70, j) })),
      );
      assert.ok(res.every((r) => r.ok));
    }
    assert.equal((await sink.stats('m')).extra?.indexBytes, 4096 * 16, 'a full, wrapped ring costs the same');
    const some = (await sink.reader.scan('m', { order: 'desc', limit: 1, withData: false }))[0];
    assert.ok(await sink.reader.remove('m', some.timestamp));
    assert.equal((await sink.stats('m')).extra?.indexBytes, 4096 * 16 + 64);
    await sink.close();
    sink = newSink(dir);
    await sink.open();
    await sink.openStore(spec);
    assert.equal((await sink.stats('m')).extra?.indexBytes, 4096 * 16 + 64, 'the same after recovery');
    assert.equal((await sink.stats('m')).extra?.deletedRecords, 1);
    await sink.close();
  });
});
