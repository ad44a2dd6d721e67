/**
 * Compliance suite for Sink implementations (abstract-level style): every sink runs it with one
 * line, from its descriptor and options as a config block would give them:
 *
 *   sinkSuite(myJsonlSink, { options: { fsync: 'always' }, module: require.resolve('../src/index.js') });
 *
 * The suite builds the sink's context (id, logger with child(), dataDir), validates the options
 * with the descriptor's schema (defaults applied; a bad option fails the suite), and runs every
 * case once for a json store and once for a binary store. What runs follows the capabilities the
 * sink declares (`sink.supports`, `sink.reader`): reopen and crash cases need `permanence`, read
 * cases a `reader`, the record-size case `maxRecordBytes`. The crash case (kill -9 in the middle
 * of writes, then reopen: the store opens and every acknowledged record is there) runs the sink
 * in a child process, loaded from `module`.
 *
 * Sinks that need more than options to build (a broker address known only at run time, say) pass
 * a factory instead: `sinkSuite('name', { createSink: (dataDir) => ... })`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger, SinkDescriptor } from '../plugin/descriptor.js';
import type { ErrorCode } from '../plugin/errors.js';
import type { DataType, RecordResult } from '../plugin/record.js';
import type { Sink, SinkReader, SinkRecord, StoreSpec } from '../plugin/sink.js';

export interface SinkSuiteOptions {
  /**
   * The sink's config block without `type` (validated by the descriptor's schema, defaults
   * applied); a function gets each case's data directory. Default `{}`.
   */
  readonly options?: Record<string, unknown> | ((dataDir: string) => Record<string, unknown>);
  /** Store geometry overrides; the default is 256 blocks of 4 KiB. */
  readonly storeSpec?: Partial<Pick<StoreSpec, 'numBlocks' | 'dataBlockSize' | 'indexBlockSize'>>;
  /**
   * Path of the module exporting the descriptor (default export, `plugins` array, or the module
   * itself), e.g. `require.resolve('../index.js')`: the crash case loads the sink from it in a
   * child process. Needed for sinks with `permanence`.
   */
  readonly module?: string;
  /** Name in the test titles; default the descriptor's type. */
  readonly name?: string;
  readonly logger?: Logger;
}

/** For sinks built by hand (see the file comment). Capabilities still come from the sink. */
export interface SinkSuiteFactory {
  /** A new, unopened sink keeping its data under `dataDir` (the same dir means the same data). */
  createSink(dataDir: string): Sink | Promise<Sink>;
  /** Store geometry overrides; the default is 256 blocks of 4 KiB. */
  storeSpec?: Partial<Pick<StoreSpec, 'numBlocks' | 'dataBlockSize' | 'indexBlockSize'>>;
}

const BIG_TS = 1704067200000000001n;
const MAX_TIMESTAMP = (1n << 63n) - 1n;

function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tss-sink-${name.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** A JSON object of exactly `n` bytes (n >= 8) that differs by seed. */
function jsonBytes(n: number, seed: number): Buffer {
  const head = `{"i":${seed},"p":"`;
  const pad = Math.max(0, n - head.length - 2);
  const text = n >= head.length + 2 ? `${head}${'x'.repeat(pad)}"}` : `{"p":"${'y'.repeat(Math.max(0, n - 8))}"}`;
  return Buffer.from(text);
}

function codeOf(r: RecordResult): ErrorCode | 'ok' {
  return r.ok ? 'ok' : r.code;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => (err as { code?: string }).code === code);
}

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => silent };

/** A factory building the sink from its descriptor, with validated options and a full context. */
function descriptorFactory(descriptor: SinkDescriptor<unknown>, opts: SinkSuiteOptions): (dataDir: string) => Sink {
  const name = opts.name ?? descriptor.type;
  return (dataDir) => {
    const block = typeof opts.options === 'function' ? opts.options(dataDir) : (opts.options ?? {});
    const { value, error } = descriptor.options.validate(block, { abortEarly: false, convert: true });
    if (error) throw new Error(`sinkSuite(${name}): the options do not pass the sink's schema: ${error.message}`);
    return descriptor.create(value, { id: name, logger: (opts.logger ?? silent).child({ sink: name }), dataDir });
  };
}

export function sinkSuite(descriptor: SinkDescriptor<unknown>, options?: SinkSuiteOptions): void;
export function sinkSuite(name: string, factory: SinkSuiteFactory): void;
export function sinkSuite(first: string | SinkDescriptor<unknown>, second: SinkSuiteOptions | SinkSuiteFactory = {}): void {
  if (typeof first === 'string') {
    const f = second as SinkSuiteFactory;
    runSuite(first, f.createSink, { storeSpec: f.storeSpec });
  } else {
    const o = second as SinkSuiteOptions;
    runSuite(o.name ?? first.type, descriptorFactory(first, o), o);
  }
}

interface Caps {
  readonly reader: boolean;
  readonly permanence: boolean;
  readonly dataTypes: readonly DataType[];
  readonly maxRecordBytes?: (spec: StoreSpec) => number;
}

function runSuite(name: string, createSink: (dataDir: string) => Sink | Promise<Sink>, opts: Pick<SinkSuiteOptions, 'storeSpec' | 'module' | 'options'>): void {
  const root = tempDir(name);
  let caps: Caps = { reader: false, permanence: true, dataTypes: ['json', 'binary'] };
  before(async () => {
    const probe = await createSink(path.join(root, 'probe'));
    const s = probe.supports ?? {};
    caps = {
      reader: probe.reader !== undefined,
      permanence: s.permanence !== false,
      dataTypes: s.dataTypes ?? ['json', 'binary'],
      maxRecordBytes: s.maxRecordBytes?.bind(s),
    };
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  describe(`sink compliance: ${name}`, () => {
    for (const dataType of ['json', 'binary'] as const) {
      describe(`${dataType} store`, () => cases(name, dataType, root, createSink, opts, () => caps));
    }
  });
}

function cases(
  name: string,
  dataType: 'json' | 'binary',
  root: string,
  createSink: (dataDir: string) => Sink | Promise<Sink>,
  opts: Pick<SinkSuiteOptions, 'storeSpec' | 'module' | 'options'>,
  capsOf: () => Caps,
): void {
  const factory = { createSink, storeSpec: opts.storeSpec };
  let counter = 0;
  const spec = (dataDir: string, storeName: string): StoreSpec => {
    const dir = path.join(dataDir, storeName);
    fs.mkdirSync(dir, { recursive: true });
    return { name: storeName, dir, dataType, numBlocks: 256, dataBlockSize: 4096, indexBlockSize: 4096, ...factory.storeSpec };
  };
  /** A fresh data dir, an opened sink and one created store. */
  const setup = async (): Promise<{ dataDir: string; sink: Sink; s: StoreSpec; reopen: () => Promise<Sink> }> => {
    const dataDir = path.join(root, `${dataType}-${++counter}`);
    fs.mkdirSync(dataDir);
    const sink = await factory.createSink(dataDir);
    await sink.open();
    const s = spec(dataDir, 'st');
    await sink.createStore(s);
    const reopen = async (): Promise<Sink> => {
      const next = await factory.createSink(dataDir);
      await next.open();
      await next.openStore(s);
      return next;
    };
    return { dataDir, sink, s, reopen };
  };
  const data = (i: number, n = 32): Buffer => (dataType === 'json' ? jsonBytes(n, i) : bytes(n, i));
  const recs = (n: number, ts?: (i: number) => bigint | undefined): SinkRecord[] =>
    Array.from({ length: n }, (_, i) => ({ timestamp: ts?.(i), data: data(i) }));
  /** `it`, skipped unless the sink holds this data type (and has what `needs` asks). */
  const caseIt = (title: string, needs: (c: Caps) => string | undefined, fn: () => Promise<void>): void => {
    it(title, async (t) => {
      const c = capsOf();
      const why = !c.dataTypes.includes(dataType) ? `sink does not hold ${dataType} stores` : needs(c);
      if (why) {
        t.skip(why);
        return;
      }
      await fn();
    });
  };
  const always = (): undefined => undefined;
  const permanent = (c: Caps): string | undefined => (c.permanence ? undefined : 'sink does not declare permanence');
  const readIt = (title: string, fn: (r: SinkReader, ctx: Awaited<ReturnType<typeof setup>>) => Promise<void>): void => {
    caseIt(
      title,
      (c) => (c.reader ? undefined : 'sink has no reader'),
      async () => {
        const ctx = await setup();
        try {
          await fn(ctx.sink.reader as SinkReader, ctx);
        } finally {
          await ctx.sink.close();
        }
      },
    );
  };
  void name;

  {
    describe('stores', () => {
      caseIt('creates, writes, drops; unknown stores are TSS_ERR_STORE_NOT_FOUND', always, async () => {
        const { sink, s } = await setup();
        const res = await sink.write('st', recs(3));
        assert.deepEqual(res.map(codeOf), ['ok', 'ok', 'ok']);
        await rejectsWith(sink.write('nope', recs(1)), 'TSS_ERR_STORE_NOT_FOUND');
        await rejectsWith(sink.stats('nope'), 'TSS_ERR_STORE_NOT_FOUND');
        await sink.dropStore(s.name);
        await rejectsWith(sink.write('st', recs(1)), 'TSS_ERR_STORE_NOT_FOUND');
        await sink.close();
      });

      caseIt('reopens a store with its records and its newest timestamp', permanent, async () => {
        const { sink, reopen } = await setup();
        const res = await sink.write('st', recs(50));
        const last = res[49];
        assert.ok(last.ok);
        await sink.close();
        const again = await reopen();
        const st = await again.stats('st');
        assert.equal(st.records, 50);
        assert.equal(st.newest, last.timestamp);
        const stale = await again.write('st', [{ timestamp: last.timestamp, data: data(1) }]);
        assert.equal(codeOf(stale[0]), 'TSS_ERR_TIMESTAMP_ORDER');
        if (again.reader) {
          const all = await again.reader.scan('st', { order: 'asc', limit: 1000, withData: true });
          assert.equal(all.length, 50);
          all.forEach((r, i) => assert.deepEqual(r.data, data(i)));
        }
        await again.close();
      });

      caseIt('closeStore detaches a store and keeps its data; openStore attaches it again, many times', always, async () => {
        const { sink, dataDir, s } = await setup();
        const other = spec(dataDir, 'other');
        await sink.createStore(other);
        let written = 0;
        let newest: bigint | undefined;
        for (let round = 0; round < 5; round++) {
          const res = await sink.write('st', recs(10));
          assert.ok(res.every((r) => r.ok));
          written += 10;
          newest = (res[9] as { timestamp: bigint }).timestamp;
          await sink.closeStore('st');
          await rejectsWith(sink.write('st', recs(1)), 'TSS_ERR_STORE_NOT_FOUND');
          await rejectsWith(sink.stats('st'), 'TSS_ERR_STORE_NOT_FOUND');
          if (sink.reader) await rejectsWith(sink.reader.scan('st', { order: 'asc', limit: 1, withData: false }), 'TSS_ERR_STORE_NOT_FOUND');
          assert.ok(
            (await sink.write('other', recs(2))).every((r) => r.ok),
            'other stores keep serving while one is closed',
          );
          await sink.openStore(s);
        }
        const st = await sink.stats('st');
        assert.equal(st.records, written);
        assert.equal(st.newest, newest);
        const stale = await sink.write('st', [{ timestamp: newest, data: data(1) }]);
        assert.equal(codeOf(stale[0]), 'TSS_ERR_TIMESTAMP_ORDER', 'the newest timestamp survives a close');
        if (sink.reader) {
          const all = await sink.reader.scan('st', { order: 'asc', limit: 1000, withData: true });
          assert.equal(all.length, written);
          all.forEach((r, i) => assert.deepEqual(r.data, data(i % 10)));
        }
        await rejectsWith(sink.closeStore('nope'), 'TSS_ERR_STORE_NOT_FOUND');
        await sink.closeStore('other');
        await sink.dropStore('st');
        await sink.close();
      });

      caseIt('closes and opens stores concurrently with writes to other stores', always, async () => {
        const { sink, dataDir } = await setup();
        const specs = Array.from({ length: 6 }, (_, i) => spec(dataDir, `c${i}`));
        for (const sp of specs) await sink.createStore(sp);
        await Promise.all(
          specs.map(async (sp, i) => {
            for (let round = 0; round < 3; round++) {
              const res = await sink.write(
                sp.name,
                recs(5, (j) => BigInt(1 + round * 100 + j)),
              );
              assert.ok(res.every((r) => r.ok));
              if (i % 2 === 0) {
                await sink.closeStore(sp.name);
                await sink.openStore(sp);
              }
            }
          }),
        );
        for (const sp of specs) assert.equal((await sink.stats(sp.name)).records, 15);
        await sink.close();
      });

      caseIt('reset empties the store, also after close and reopen', always, async () => {
        const { sink, reopen } = await setup();
        await sink.write('st', recs(40));
        await sink.resetStore('st');
        let st = await sink.stats('st');
        assert.equal(st.records, 0);
        assert.equal(st.newest, undefined);
        const after1 = await sink.write('st', [{ timestamp: 5n, data: data(99) }]);
        assert.equal(codeOf(after1[0]), 'ok', 'old timestamps are free again after a reset');
        if (sink.reader) assert.equal((await sink.reader.scan('st', { order: 'asc', limit: 100, withData: false })).length, 1);
        await sink.close();
        if (!capsOf().permanence) return;
        const again = await reopen();
        st = await again.stats('st');
        assert.equal(st.records, 1);
        if (again.reader) {
          const all = await again.reader.scan('st', { order: 'asc', limit: 100, withData: true });
          assert.deepEqual(
            all.map((r) => r.timestamp),
            [5n],
          );
          assert.deepEqual(all[0].data, data(99));
        }
        await again.resetStore('st');
        await again.close();
        const third = await reopen();
        assert.equal((await third.stats('st')).records, 0);
        if (third.reader) assert.equal((await third.reader.scan('st', { order: 'desc', limit: 100, withData: false })).length, 0);
        await third.close();
      });

      caseIt('reports stats', always, async () => {
        const { sink } = await setup();
        const res = await sink.write('st', [
          { timestamp: 100n, data: data(1, 10) },
          { timestamp: 200n, data: data(2, 20) },
        ]);
        assert.deepEqual(res.map(codeOf), ['ok', 'ok']);
        const st = await sink.stats('st');
        assert.equal(st.records, 2);
        assert.equal(st.bytes, 30);
        assert.equal(st.oldest, 100n);
        assert.equal(st.newest, 200n);
        await sink.close();
      });
    });

    describe('writes', () => {
      caseIt('returns one result per record, aligned with the input', always, async () => {
        const { sink } = await setup();
        const res = await sink.write('st', [
          { timestamp: 10n, data: data(1) },
          { timestamp: 10n, data: data(2) },
          { timestamp: 20n, data: data(3) },
          { timestamp: 15n, data: data(4) },
          { data: data(5) },
        ]);
        assert.deepEqual(res.map(codeOf), ['ok', 'TSS_ERR_TIMESTAMP_ORDER', 'ok', 'TSS_ERR_TIMESTAMP_ORDER', 'ok']);
        assert.equal(res[0].ok && res[0].timestamp, 10n);
        assert.equal(res[2].ok && res[2].timestamp, 20n);
        assert.ok(res[4].ok && res[4].timestamp > 20n);
        assert.ok(res[0].ok && res[0].size === 32);
        assert.deepEqual(await sink.write('st', []), []);
        await sink.close();
      });

      caseIt('assigns strictly increasing timestamps under many concurrent write() calls', always, async () => {
        const { sink } = await setup();
        const calls = Array.from({ length: 64 }, () => sink.write('st', recs(25)));
        const all = (await Promise.all(calls)).flat();
        assert.equal(all.length, 64 * 25);
        const ts = all.map((r) => {
          assert.ok(r.ok);
          return r.timestamp;
        });
        const sorted = [...ts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i] > sorted[i - 1], 'duplicate timestamp');
        for (const call of await Promise.all(calls)) {
          for (let i = 1; i < call.length; i++) assert.ok((call[i] as { timestamp: bigint }).timestamp > (call[i - 1] as { timestamp: bigint }).timestamp);
        }
        await sink.close();
      });

      caseIt('rejects a client timestamp <= the true newest, across concurrent calls', always, async () => {
        const { sink } = await setup();
        await sink.write('st', [
          { timestamp: 1000n, data: data(1) },
          { timestamp: 1001n, data: data(2) },
          { timestamp: 1002n, data: data(3) },
        ]);
        const mid = await sink.write('st', [{ timestamp: 1001n, data: data(4) }]);
        assert.equal(codeOf(mid[0]), 'TSS_ERR_TIMESTAMP_ORDER', 'compared with the newest, not the first record of a block');
        const same = await Promise.all(Array.from({ length: 20 }, (_, i) => sink.write('st', [{ timestamp: 5000n, data: data(i) }])));
        assert.equal(same.filter((r) => r[0].ok).length, 1, 'exactly one of the concurrent writers wins');
        const rejected = same.find((r) => !r[0].ok)?.[0];
        assert.ok(rejected && !rejected.ok && rejected.message.length > 0);
        const server = await sink.write('st', [{ data: data(7) }]);
        assert.ok(server[0].ok);
        const equal = await sink.write('st', [{ timestamp: server[0].timestamp, data: data(8) }]);
        assert.equal(codeOf(equal[0]), 'TSS_ERR_TIMESTAMP_ORDER');
        await sink.close();
      });

      caseIt('keeps timestamps above 2^53 exact', always, async () => {
        const { sink } = await setup();
        const res = await sink.write('st', [{ timestamp: BIG_TS, data: data(1) }]);
        assert.ok(res[0].ok);
        assert.equal(res[0].timestamp, BIG_TS);
        const next = await sink.write('st', [{ data: data(2) }, { timestamp: BIG_TS + 1_000_000_000_000n, data: data(3) }]);
        assert.ok(next[0].ok && next[0].timestamp > BIG_TS);
        assert.equal((await sink.stats('st')).oldest, BIG_TS);
        if (sink.reader) {
          const got = await sink.reader.get('st', BIG_TS, true);
          assert.equal(got?.timestamp, BIG_TS);
          assert.equal(await sink.reader.get('st', BIG_TS - 1n, false), null);
        }
        await sink.close();
      });
    });

    describe('limits', () => {
      caseIt('refuses timestamps outside 0..2^63-1 per record, keeping the others', always, async () => {
        const { sink } = await setup();
        const res = await sink.write('st', [
          { timestamp: -1n, data: data(1) },
          { timestamp: 10n, data: data(2) },
          { timestamp: MAX_TIMESTAMP + 1n, data: data(3) },
          { timestamp: MAX_TIMESTAMP, data: data(4) },
        ]);
        assert.deepEqual(res.map(codeOf), ['TSS_ERR_TIMESTAMP_INVALID', 'ok', 'TSS_ERR_TIMESTAMP_INVALID', 'ok']);
        assert.equal((await sink.stats('st')).newest, MAX_TIMESTAMP);
        await sink.close();
      });

      caseIt('a record without timestamp after 2^63-1 is TSS_ERR_TIMESTAMP_ORDER (nothing left to assign) and changes no read', always, async () => {
        const { sink } = await setup();
        assert.ok((await sink.write('st', [...recs(3), { timestamp: MAX_TIMESTAMP, data: data(9) }])).every((r) => r.ok));
        const before = sink.reader ? await sink.reader.scan('st', { order: 'asc', limit: 100, withData: true }) : undefined;
        const res = await sink.write('st', [{ data: data(1) }, { data: data(2) }]);
        assert.deepEqual(res.map(codeOf), ['TSS_ERR_TIMESTAMP_ORDER', 'TSS_ERR_TIMESTAMP_ORDER']);
        const st = await sink.stats('st');
        assert.equal(st.records, 4);
        assert.equal(st.newest, MAX_TIMESTAMP);
        if (sink.reader) assert.deepEqual(await sink.reader.scan('st', { order: 'asc', limit: 100, withData: true }), before);
        await sink.close();
      });

      caseIt(
        'refuses a record larger than the store can hold with TSS_ERR_RECORD_TOO_LARGE',
        (c) => (c.maxRecordBytes ? undefined : 'sink declares no maxRecordBytes'),
        async () => {
          const { sink, s } = await setup();
          const max = (capsOf().maxRecordBytes as (spec: StoreSpec) => number)(s);
          const res = await sink.write('st', [{ data: data(1, max + 1) }, { data: data(2, max) }, { data: data(3) }]);
          assert.deepEqual(res.map(codeOf), ['TSS_ERR_RECORD_TOO_LARGE', 'ok', 'ok']);
          await sink.close();
        },
      );

      caseIt('createStore of a store it holds already is TSS_ERR_STORE_EXISTS', always, async () => {
        const { sink, s } = await setup();
        await sink.write('st', recs(2));
        await rejectsWith(sink.createStore(s), 'TSS_ERR_STORE_EXISTS');
        assert.equal((await sink.stats('st')).records, 2, 'the store is untouched');
        await sink.close();
      });
    });

    describe('reads', () => {
      readIt('returns data bytes exactly (small, multi-KiB, every byte value or UTF-8)', async (reader, { sink }) => {
        const payloads =
          dataType === 'json'
            ? ['{}', '[]', '"é\\u0000"', '{"a":1}\n', '18446744073709551616', jsonBytes(9000, 7).toString(), jsonBytes(4096, 3).toString()].map((t) =>
                Buffer.from(t, 'utf8'),
              )
            : [Buffer.alloc(0), Buffer.from([0, 255, 0, 10, 13, 0]), bytes(9000, 7), Buffer.from('{"a":1}\n', 'utf8'), bytes(4096, 3)];
        const res = await sink.write(
          'st',
          payloads.map((d) => ({ data: d })),
        );
        for (let i = 0; i < payloads.length; i++) {
          const r = res[i];
          assert.ok(r.ok);
          assert.equal(r.size, payloads[i].length);
          const got = await reader.get('st', r.timestamp, true);
          assert.deepEqual(got?.data, payloads[i]);
          assert.equal(got?.size, payloads[i].length);
          const bare = await reader.get('st', r.timestamp, false);
          assert.equal(bare?.data, undefined);
        }
      });

      readIt('get finds exact timestamps only', async (reader, { sink }) => {
        await sink.write(
          'st',
          recs(100, (i) => BigInt(1000 + i * 10)),
        );
        assert.equal((await reader.get('st', 1500n, true))?.timestamp, 1500n);
        assert.deepEqual((await reader.get('st', 1500n, true))?.data, data(50));
        assert.equal(await reader.get('st', 1505n, true), null);
        assert.equal(await reader.get('st', 999n, true), null);
        assert.equal(await reader.get('st', 99999n, true), null);
      });

      readIt('scans asc/desc with from, to, limit, match and withData', async (reader, { sink }) => {
        await sink.write(
          'st',
          recs(300, (i) => BigInt(1000 + i * 10)),
        );
        const ts = (rs: { timestamp: bigint }[]): bigint[] => rs.map((r) => r.timestamp);
        const asc = await reader.scan('st', { order: 'asc', limit: 1000, withData: false });
        assert.equal(asc.length, 300);
        assert.equal(asc[0].data, undefined);
        assert.deepEqual(ts(await reader.scan('st', { order: 'asc', limit: 3, withData: false })), [1000n, 1010n, 1020n]);
        assert.deepEqual(ts(await reader.scan('st', { order: 'desc', limit: 3, withData: false })), [3990n, 3980n, 3970n]);
        assert.deepEqual(ts(await reader.scan('st', { order: 'asc', from: 1995n, to: 2030n, limit: 100, withData: false })), [2000n, 2010n, 2020n, 2030n]);
        assert.deepEqual(ts(await reader.scan('st', { order: 'desc', from: 2000n, to: 2030n, limit: 100, withData: false })), [2030n, 2020n, 2010n, 2000n]);
        assert.deepEqual(ts(await reader.scan('st', { order: 'desc', to: 2035n, limit: 2, withData: false })), [2030n, 2020n]);
        assert.deepEqual(ts(await reader.scan('st', { order: 'asc', from: 3985n, limit: 10, withData: false })), [3990n]);
        assert.deepEqual(await reader.scan('st', { order: 'asc', from: 5000n, limit: 10, withData: false }), []);
        assert.deepEqual(await reader.scan('st', { order: 'desc', to: 999n, limit: 10, withData: false }), []);
        const withData = await reader.scan('st', { order: 'asc', from: 1100n, limit: 2, withData: true });
        assert.deepEqual(
          withData.map((r) => r.data),
          [data(10), data(11)],
        );
        const target = data(123);
        const matched = await reader.scan('st', { order: 'desc', limit: 5, withData: false, match: (d) => d.equals(target) });
        assert.deepEqual(ts(matched), [1000n + 123n * 10n]);
        assert.equal(matched[0].data, undefined);
        const even = (d: Buffer): boolean => d.reduce((sum, c) => sum + c, 0) % 2 === 0;
        const matching = await reader.scan('st', { order: 'asc', limit: 4, withData: true, match: even });
        assert.equal(matching.length, 4);
        for (const r of matching) assert.ok(even(r.data as Buffer));
      });

      readIt('remove is a soft delete hidden from every read, also after reopen', async (reader, { sink, reopen }) => {
        await sink.write(
          'st',
          recs(20, (i) => BigInt(100 + i)),
        );
        assert.equal(await reader.remove('st', 105n), true);
        assert.equal(await reader.remove('st', 105n), false);
        assert.equal(await reader.remove('st', 999n), false);
        assert.equal(await reader.get('st', 105n, true), null);
        const check = async (r: SinkReader): Promise<void> => {
          const asc = await r.scan('st', { order: 'asc', limit: 100, withData: true });
          assert.equal(asc.length, 19);
          assert.ok(!asc.some((x) => x.timestamp === 105n));
          const desc = await r.scan('st', { order: 'desc', from: 104n, to: 106n, limit: 100, withData: false });
          assert.deepEqual(
            desc.map((x) => x.timestamp),
            [106n, 104n],
          );
          assert.equal((await r.scan('st', { order: 'asc', limit: 100, withData: true, match: (d) => d.equals(data(5)) })).length, 0);
        };
        await check(reader);
        assert.equal((await sink.stats('st')).records, 19);
        await sink.close();
        if (!capsOf().permanence) return;
        const again = await reopen();
        await check(again.reader as SinkReader);
        assert.equal(await (again.reader as SinkReader).get('st', 105n, false), null);
        assert.equal((await again.stats('st')).records, 19);
        await again.close();
      });

      readIt('reads concurrent with writes see only whole, acknowledged records', async (reader, { sink }) => {
        const writes = Array.from({ length: 20 }, (_, k) =>
          sink.write(
            'st',
            Array.from({ length: 50 }, (_, i) => ({ data: data(k * 50 + i, 64) })),
          ),
        );
        const seen: number[] = [];
        for (let i = 0; i < 20; i++) {
          const rs = await reader.scan('st', { order: 'desc', limit: 50, withData: true });
          for (const r of rs) assert.equal(r.data?.length, 64);
          seen.push(rs.length);
        }
        await Promise.all(writes);
        assert.equal((await reader.scan('st', { order: 'asc', limit: 5000, withData: false })).length, 1000);
      });
    });

    describe('close', () => {
      caseIt('resolves in-flight writes, then rejects every call with TSS_ERR_SINK_CLOSED', always, async () => {
        const { sink, s } = await setup();
        const inflight = Array.from({ length: 10 }, (_, i) =>
          sink.write(
            'st',
            recs(20, (j) => BigInt(1 + i * 100 + j)),
          ),
        );
        const closing = sink.close();
        const results = (await Promise.all(inflight)).flat();
        await closing;
        assert.equal(results.length, 200);
        assert.ok(results.every((r) => r.ok));
        await sink.close();
        await rejectsWith(sink.write('st', recs(1)), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.stats('st'), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.createStore(spec(path.dirname(s.dir), 'other')), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.openStore(s), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.closeStore('st'), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.resetStore('st'), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.dropStore('st'), 'TSS_ERR_SINK_CLOSED');
        if (sink.reader) {
          await rejectsWith(sink.reader.get('st', 1n, false), 'TSS_ERR_SINK_CLOSED');
          await rejectsWith(sink.reader.scan('st', { order: 'asc', limit: 1, withData: false }), 'TSS_ERR_SINK_CLOSED');
          await rejectsWith(sink.reader.remove('st', 1n), 'TSS_ERR_SINK_CLOSED');
        }
      });

      caseIt('rejects every call before open(); isOpen() tells open from closed', always, async () => {
        const dataDir = path.join(root, `${dataType}-${++counter}`);
        fs.mkdirSync(dataDir);
        const sink = await factory.createSink(dataDir);
        const s = spec(dataDir, 'st');
        if (sink.isOpen) assert.equal(sink.isOpen(), false, 'isOpen() before open()');
        await rejectsWith(sink.write('st', recs(1)), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.stats('st'), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.createStore(s), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.openStore(s), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.resetStore('st'), 'TSS_ERR_SINK_CLOSED');
        await rejectsWith(sink.dropStore('st'), 'TSS_ERR_SINK_CLOSED');
        if (sink.reader) await rejectsWith(sink.reader.scan('st', { order: 'asc', limit: 1, withData: false }), 'TSS_ERR_SINK_CLOSED');
        await sink.open();
        if (sink.isOpen) assert.equal(sink.isOpen(), true, 'isOpen() after open()');
        await sink.close();
        if (sink.isOpen) assert.equal(sink.isOpen(), false, 'isOpen() after close()');
      });
    });

    describe('crash', () => {
      caseIt(
        'kill -9 in the middle of writes: the store opens and every acknowledged record is there',
        (c) => {
          if (!c.permanence) return 'sink does not declare permanence';
          return opts.module ? undefined : "pass `module` (the descriptor's module path) to run the crash case";
        },
        async () => {
          const dataDir = path.join(root, `${dataType}-${++counter}`);
          fs.mkdirSync(dataDir);
          const s = spec(dataDir, 'st');
          const first = await factory.createSink(dataDir);
          await first.open();
          await first.createStore(s);
          await first.close();
          const block = typeof opts.options === 'function' ? opts.options(dataDir) : (opts.options ?? {});
          const acked = await crashWriter(opts.module as string, block, dataDir, s, 300);
          const again = await factory.createSink(dataDir);
          await again.open();
          try {
            await again.openStore(s);
            const st = await again.stats('st');
            assert.ok(st.records >= acked.length, `${st.records} records after the crash, ${acked.length} were acknowledged`);
            const newest = acked[acked.length - 1].timestamp;
            assert.ok(st.newest !== undefined && st.newest >= newest, 'newest covers every acknowledged record');
            if (again.reader) {
              for (const a of acked.filter((_, i) => i % 17 === 0 || i === acked.length - 1)) {
                assert.deepEqual(
                  (await again.reader.get('st', a.timestamp, true))?.data,
                  data(a.i, 48),
                  `acknowledged record ${a.timestamp} is readable, byte for byte`,
                );
              }
            }
            const next = await again.write('st', [{ data: data(1) }, { timestamp: newest, data: data(2) }]);
            assert.ok(next[0].ok && next[0].timestamp > newest, 'writes go on after the newest acknowledged record');
            assert.equal(codeOf(next[1]), 'TSS_ERR_TIMESTAMP_ORDER');
          } finally {
            await again.close();
          }
        },
      );
    });
  }
}

/**
 * Runs the sink in a child process that writes batches until it is killed -9 after `minAcked`
 * acknowledgements (more writes are in flight then); returns what was acknowledged.
 */
async function crashWriter(
  module: string,
  options: Record<string, unknown>,
  dataDir: string,
  s: StoreSpec,
  minAcked: number,
): Promise<{ timestamp: bigint; i: number }[]> {
  const child = spawn(process.execPath, [path.join(__dirname, 'sink-crash-child.js'), module, JSON.stringify(options), dataDir, JSON.stringify(s)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked: { timestamp: bigint; i: number }[] = [];
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let rest = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      const lines = (rest + c.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const [i, ts] = line.split(' ');
        acked.push({ i: Number(i), timestamp: BigInt(ts) });
      }
      if (acked.length >= minAcked) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`the crash writer exited before it was killed (${acked.length} acknowledged): ${stderr.trim()}`)));
  }).catch(async (err: unknown) => {
    await exited;
    throw err;
  });
  await exited;
  return acked;
}
