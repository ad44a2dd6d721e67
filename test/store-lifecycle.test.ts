/**
 * Lazy opening, the `max_open` bound and summaries of closed stores, through the catalog with a
 * memory sink that counts opens and closes and can hold writes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../src/core/logger.js';
import type { RecordResult } from '../src/plugin/record.js';
import type { SinkRecord, StoreSpec } from '../src/plugin/sink.js';
import { StoreCatalog } from '../src/stores/store-catalog.js';
import { SUMMARY_FILE } from '../src/stores/store-summary.js';
import { MemorySink } from '../plugins/sinks/memory/memory-sink.js';
import { tempDir } from './support/server.js';

class CountingSink extends MemorySink {
  attachedNow = new Set<string>();
  opens = 0;
  closes = 0;
  maxOpen = 0;
  hold: Promise<void> | undefined;

  constructor() {
    super(1_000_000);
  }
  private attached(name: string): void {
    this.attachedNow.add(name);
    this.maxOpen = Math.max(this.maxOpen, this.attachedNow.size);
  }
  override async createStore(spec: StoreSpec): Promise<void> {
    await super.createStore(spec);
    this.attached(spec.name);
  }
  override async openStore(spec: StoreSpec): Promise<void> {
    this.opens++;
    await new Promise((r) => setImmediate(r)); // let concurrent callers pile up
    await super.openStore(spec);
    this.attached(spec.name);
  }
  override async closeStore(name: string): Promise<void> {
    assert.ok(this.attachedNow.has(name), `close of a store that is not open: ${name}`);
    this.closes++;
    this.attachedNow.delete(name);
    await super.closeStore(name);
  }
  override async write(store: string, records: readonly SinkRecord[]): Promise<RecordResult[]> {
    assert.ok(this.attachedNow.has(store), `write to a closed store: ${store}`);
    const res = super.write(store, records); // assigned before waiting: order is the call order
    if (this.hold) await this.hold;
    assert.ok(this.attachedNow.has(store), `store ${store} was closed under a write`);
    return res;
  }
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function catalogWith(
  maxOpen: number,
  sink = new CountingSink(),
  dataDir = tempDir('tsstore-lru-'),
): Promise<{ catalog: StoreCatalog; sink: CountingSink; dataDir: string }> {
  dirs.push(dataDir);
  await sink.open();
  const catalog = new StoreCatalog(dataDir, sink, silentLogger(), undefined, { maxOpen });
  await catalog.load();
  return { catalog, sink, dataDir };
}

const rec = (n: number): SinkRecord[] => Array.from({ length: n }, (_, i) => ({ data: Buffer.from(`{"i":${i}}`) }));

describe('store lifecycle', () => {
  it('keeps at most max_open stores open, closing the least recently used idle one', async () => {
    const { catalog, sink } = await catalogWith(3);
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const n of names) await catalog.create(n);
    assert.equal(sink.maxOpen, 3, 'creating stores respects the bound too');
    await catalog.closeAll();
    const w = async (n: string): Promise<void> => {
      const res = await catalog.sinkOf(n).write(n, rec(3));
      assert.ok(res.every((r) => r.ok));
      assert.ok(sink.attachedNow.has(n), 'the store just used is open');
    };
    for (let round = 0; round < 3; round++) for (const n of names) await w(n);
    assert.equal(sink.maxOpen, 3);
    // Least recently used first: a, b, c. Filling the last slot starts closing the oldest idle one.
    await w('a');
    await w('b');
    await w('c');
    await catalog.stats('a'); // stats of an open store count as a use: a is now the most recent
    const opens = sink.opens;
    await w('d'); // opens d; b is the least recently used idle store and closes
    await new Promise((r) => setImmediate(r));
    assert.equal(sink.opens, opens + 1);
    assert.ok(!sink.attachedNow.has('b'), 'b (least recently used) closed');
    assert.ok(sink.attachedNow.has('a') && sink.attachedNow.has('d'));
    await w('a');
    assert.equal(sink.opens, opens + 1, 'an open store is not reopened');
    for (const n of names) assert.equal((await catalog.stats(n)).records, n === 'a' ? 15 : n === 'e' ? 9 : 12);
    assert.ok(sink.maxOpen <= 3);
    await catalog.closeAll();
    await sink.close();
  });

  it('opens a closed store once for many concurrent first requests', async () => {
    const { catalog, sink } = await catalogWith(4);
    await catalog.create('x');
    await catalog.closeAll();
    const before = sink.opens;
    const results = await Promise.all(Array.from({ length: 20 }, () => catalog.sinkOf('x').write('x', rec(2))));
    assert.equal(sink.opens - before, 1);
    assert.equal(results.flat().filter((r) => r.ok).length, 40);
    await sink.close();
  });

  it('never closes a store under a request: a new store waits for a slot instead', async () => {
    const { catalog, sink } = await catalogWith(1);
    await catalog.create('busy');
    await catalog.create('next'); // closes `busy` (idle) to take its slot
    await catalog.sinkOf('busy').write('busy', rec(1)); // and back
    let release!: () => void;
    sink.hold = new Promise((r) => {
      release = r;
    });
    const slow = catalog.sinkOf('busy').write('busy', rec(5));
    await new Promise((r) => setImmediate(r));
    let nextDone = false;
    const next = catalog
      .sinkOf('next')
      .write('next', rec(1))
      .then((r) => {
        nextDone = true;
        return r;
      });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(nextDone, false, 'waits while the only slot is busy');
    assert.ok(sink.attachedNow.has('busy'));
    sink.hold = undefined;
    release();
    assert.ok((await slow).every((r) => r.ok));
    assert.ok((await next).every((r) => r.ok));
    assert.deepEqual([...sink.attachedNow], ['next']);
    assert.equal(sink.maxOpen, 1);
    await sink.close();
  });

  it('answers stats of closed stores from their summary without opening them; opening removes it', async () => {
    const { catalog, sink, dataDir } = await catalogWith(8);
    await catalog.create('s1');
    await catalog.sinkOf('s1').write('s1', [{ timestamp: 2n ** 62n + 7n, data: Buffer.from('{"a":1}') }]);
    const live = await catalog.stats('s1');
    await catalog.closeAll();
    assert.ok(fs.existsSync(path.join(dataDir, 's1', SUMMARY_FILE)));

    // A new catalog (a restart) over the same sink and directory.
    const again = new StoreCatalog(dataDir, sink, silentLogger(), undefined, { maxOpen: 8 });
    await again.load();
    const opens = sink.opens;
    const closed = await again.stats('s1');
    assert.deepEqual(closed, live, 'the same figures, bigint timestamps exact');
    assert.equal(sink.opens, opens, 'stats of a closed store do not open it');
    assert.deepEqual(await again.knownStats('s1'), live);

    await again.sinkOf('s1').write('s1', rec(1));
    assert.equal(sink.opens, opens + 1);
    assert.equal(fs.existsSync(path.join(dataDir, 's1', SUMMARY_FILE)), false, 'an open store has no summary');

    // As after kill -9: nothing closed the store, so there is no summary and stats open it.
    sink.attachedNow.delete('s1');
    await sink.closeStore('s1').catch(() => undefined);
    const third = new StoreCatalog(dataDir, sink, silentLogger(), undefined, { maxOpen: 8 });
    await third.load();
    assert.equal(await third.knownStats('s1'), undefined, 'unknown without opening');
    assert.equal((await third.stats('s1')).records, 2, 'stats open the store to answer');
    assert.equal(sink.opens, opens + 2);
    await third.closeAll();
    await sink.close();
  });

  it('a garbage summary counts as absent', async () => {
    const { catalog, sink, dataDir } = await catalogWith(8);
    await catalog.create('g');
    await catalog.sinkOf('g').write('g', rec(4));
    await catalog.closeAll();
    fs.writeFileSync(path.join(dataDir, 'g', SUMMARY_FILE), '{"format":1,"stats":{"records":"many"}}');
    const again = new StoreCatalog(dataDir, sink, silentLogger(), undefined, { maxOpen: 8 });
    await again.load();
    assert.equal(await again.knownStats('g'), undefined);
    assert.equal((await again.stats('g')).records, 4);
    await sink.close();
  });

  it('drops and resets closed stores', async () => {
    const { catalog, sink, dataDir } = await catalogWith(1);
    await catalog.create('d1');
    await catalog.sinkOf('d1').write('d1', rec(3));
    await catalog.create('d2'); // d1 closes
    assert.ok(!sink.attachedNow.has('d1'));
    await catalog.reset('d1');
    assert.equal((await catalog.stats('d1')).records, 0);
    await catalog.sinkOf('d2').write('d2', rec(1)); // d1 closes again
    await catalog.drop('d1');
    assert.equal(fs.existsSync(path.join(dataDir, 'd1')), false);
    await assert.rejects(catalog.sinkOf('d2').write('d1', rec(1)), /store not found/);
    await catalog.create('d1');
    assert.equal((await catalog.stats('d1')).records, 0, 'a new store of the same name starts empty');
    assert.equal(sink.maxOpen, 1);
    await sink.close();
  });
});
