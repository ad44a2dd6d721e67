/**
 * `tsstore migrate` end to end: Go-format data directories written by the fixture writer (a
 * wrapped ring, spanning records, timestamps above 2^53, soft deletes, schema evolution, every
 * data type, several keys, both layouts) and hand-damaged copies, migrated by the real CLI, then
 * compared record by record through a real server's read API.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseObjects } from '../src/cli/store-data.js';
import {
  BLOCK_HEADER_SIZE,
  DATA_FILE,
  INDEX_FILE,
  META_FILE,
  OBJECT_HEADER_SIZE,
  decodeBlockHeader,
  decodeMetaV1,
  decodeObjectHeader,
  encodeObjectHeader,
  OBJ_LAST_IN_BLOCK,
} from '../src/migrate/go-format.js';
import { GoStoreWriter, writeGoConnections, writeGoKeys, writeGoSchema } from '../src/migrate/go-writer.js';
import { ADMIN_KEY, api, runCli, startServer, tempDir, type TestServer } from './support/server.js';

const BASE = 1704067200000000001n; // above 2^53: every digit must survive
const hash = (key: string): string => crypto.createHash('sha256').update(key).digest('hex');
const KEY_A = `tsstore_${crypto.randomUUID()}`;
/** The reference accepts operator-supplied keys: `tsstore_` and 36+ characters, not a UUID. */
const KEY_B = 'tsstore_edge-gateway-7-provisioned-by-vault-2024';
const KEY_LOGS = `tsstore_${crypto.randomUUID()}`;
const KEY_BLOBS = `tsstore_${crypto.randomUUID()}`;
const KEY_METRICS = `tsstore_${crypto.randomUUID()}`;

interface Expected {
  readonly timestamp: bigint;
  readonly data: Buffer;
}
interface Fixture {
  readonly dir: string;
  readonly expected: Map<string, Expected[]>;
  readonly deleted: bigint[];
}

function jsonRecord(i: number): Buffer {
  // Big records span blocks; 696 bytes is a whole number of 232-byte block payloads, which the
  // reference resumes after correctly (see the damaged fixture for the case it does not).
  if (i % 23 === 7) return Buffer.from(`{"i":${i},"blob":"${'x'.repeat(696 - 19 - String(i).length)}"}`);
  return Buffer.from(`{"sensor":"s-${i % 5}","temp":${(20 + i / 7).toFixed(3)},"exact":18446744073709551615,"i":${i}}`);
}

/** The fixture data directory: four stores, one of each data type. */
function buildFixture(): Fixture {
  const dir = tempDir('go-data-');
  const expected = new Map<string, Expected[]>();
  const deleted: bigint[] = [];

  // json, one ring of 32 blocks of 256 bytes: wraps several times; spans; a soft delete.
  const sensors = new GoStoreWriter('sensors', { dataType: 'json', numBlocks: 32, dataBlockSize: 256, indexBlockSize: 64 });
  let ts = BASE;
  for (let i = 0; i < 400; i++) {
    ts += BigInt(1 + (i % 3));
    sensors.put(ts, jsonRecord(i));
  }
  const firsts = sensors.expected().filter((r) => r.data.length < 200);
  // A record that begins a block (the reference can only delete those).
  const victim = firsts.find((r) => sensors.softDelete(r.timestamp));
  assert.ok(victim, 'a block-first record to delete');
  deleted.push(victim.timestamp);
  const sdir = sensors.writeTo(dir);
  writeGoKeys(sdir, 'sensors', [
    { id: KEY_A.slice(8, 16), hash: hash(KEY_A), created_at: '2025-01-02T03:04:05Z', note: 'Initial key' },
    { id: hash(KEY_B).slice(0, 8), hash: hash(KEY_B), created_at: '2025-02-03T04:05:06Z' },
  ]);
  writeGoConnections(sdir, [
    {
      id: 'pull-1',
      mode: 'pull',
      url: 'ws://127.0.0.1:9/feed',
      format: 'full',
      headers: { Authorization: 'Bearer remote' },
      created_at: '2025-03-01T00:00:00Z',
    },
  ]);
  expected.set('sensors', sensors.expected());

  // text
  const logs = new GoStoreWriter('logs', { dataType: 'text', numBlocks: 64, dataBlockSize: 512 });
  ts = BASE + 10_000n;
  for (let i = 0; i < 150; i++) logs.put((ts += 1000n), Buffer.from(`line ${i}: héllo wörld ✓ ${'-'.repeat(i % 40)}`));
  writeGoKeys(logs.writeTo(dir), 'logs', [{ id: KEY_LOGS.slice(8, 16), hash: hash(KEY_LOGS), created_at: '2025-01-01T00:00:00Z' }]);
  expected.set('logs', logs.expected());

  // binary, in the partitioned layout of newer reference versions, with block checksums.
  const blobs = new GoStoreWriter('blobs', { dataType: 'binary', numBlocks: 48, dataBlockSize: 128, layout: 'partitioned', numPartitions: 4, checksums: true });
  ts = BASE + 20_000n;
  for (let i = 0; i < 160; i++)
    blobs.put(
      (ts += 7n),
      crypto
        .createHash('sha512')
        .update(String(i))
        .digest()
        .subarray(0, 8 + (i % 90)),
    );
  writeGoKeys(blobs.writeTo(dir), 'blobs', [{ id: KEY_BLOBS.slice(8, 16), hash: hash(KEY_BLOBS), created_at: '2025-01-01T00:00:00Z' }]);
  expected.set('blobs', blobs.expected());

  // schema: three versions, the last dropping a field (the reference allowed it).
  const metrics = new GoStoreWriter('metrics', { dataType: 'schema', numBlocks: 16, dataBlockSize: 1024 });
  ts = BASE + 30_000n;
  for (let i = 0; i < 60; i++) {
    const v = i < 20 ? 1 : i < 40 ? 2 : 3;
    const rec = v === 1 ? `{"1":${i}.5,"2":"room-${i}"}` : v === 2 ? `{"1":${i}.25,"2":"room-${i}","3":${i}}` : `{"1":${i},"3":${i * 2}}`;
    metrics.put((ts += 1n), Buffer.from(rec), v);
  }
  const mdir = metrics.writeTo(dir);
  writeGoSchema(mdir, [
    [
      { index: 1, name: 'temp', type: 'float64' },
      { index: 2, name: 'room', type: 'string' },
    ],
    [
      { index: 1, name: 'temp', type: 'float64' },
      { index: 2, name: 'room', type: 'string' },
      { index: 3, name: 'humidity', type: 'uint8' },
    ],
    [
      { index: 1, name: 'temp', type: 'float64' },
      { index: 3, name: 'humidity', type: 'uint8' },
    ],
  ]);
  writeGoKeys(mdir, 'metrics', [{ id: KEY_METRICS.slice(8, 16), hash: hash(KEY_METRICS), created_at: '2025-01-01T00:00:00Z' }]);
  expected.set('metrics', metrics.expected());
  return { dir, expected, deleted };
}

function treeDigest(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else
        h.update(`${path.relative(dir, p)}\0`)
          .update(fs.readFileSync(p))
          .update(String(fs.statSync(p).mtimeMs));
    }
  };
  walk(dir);
  return h.digest('hex');
}

const DATA_TEXT: Record<string, (b: Buffer) => string> = {
  sensors: (b) => b.toString('utf8'),
  metrics: (b) => b.toString('utf8'),
  logs: (b) => JSON.stringify(b.toString('utf8')),
  blobs: (b) => JSON.stringify(b.toString('base64')),
};

async function readAll(s: TestServer, store: string, key: string): Promise<{ timestamp: bigint; dataJson: string }[]> {
  const res = await fetch(new URL(`/api/stores/${store}/data/oldest?limit=100000&format=compact`, s.url), { headers: { 'X-API-Key': key } });
  assert.equal(res.status, 200, store);
  return parseObjects(Buffer.from(await res.arrayBuffer()));
}

async function assertSame(s: TestServer, store: string, key: string, expected: readonly Expected[]): Promise<void> {
  const got = await readAll(s, store, key);
  assert.equal(got.length, expected.length, `${store}: record count`);
  got.forEach((g, i) => {
    assert.equal(g.timestamp, expected[i].timestamp, `${store}[${i}] timestamp`);
    assert.equal(g.dataJson, DATA_TEXT[store](expected[i].data), `${store}[${i}] data`);
  });
}

describe('tsstore migrate from the Go ts-store', () => {
  let fx: Fixture;
  const work: string[] = [];
  const dir = (prefix: string): string => {
    const d = tempDir(prefix);
    work.push(d);
    return d;
  };

  before(() => {
    fx = buildFixture();
    work.push(fx.dir);
  });
  after(() => {
    for (const d of work) fs.rmSync(d, { recursive: true, force: true });
  });

  it('migrates every store: records byte for byte, keys, schema versions, pull connections; the source is untouched', async () => {
    const into = dir('tsstore-into-');
    const digest = treeDigest(fx.dir);
    const res = await runCli(['migrate', fx.dir, '--into', into], { timeoutMs: 60_000 });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /Store sensors \(json, ring of 32 × 256-byte blocks → \d+ × 256\): migrated/);
    assert.match(res.stdout, /1 soft-deleted record\(s\) stay deleted/);
    assert.match(res.stdout, /Store blobs \(binary, partitioned of 48 × 128-byte blocks/);
    assert.match(res.stdout, /schema: 2 version\(s\)/);
    assert.match(res.stdout, /dropped "room"; tsstore schemas only grow/);
    assert.match(res.stdout, /Migrated 4 of 4 store\(s\)/);
    assert.match(res.stdout, /Nothing was lost\./);
    assert.match(res.stdout, /server\.public_store_list/);
    assert.equal(treeDigest(fx.dir), digest, 'the source directory is not modified');

    const s = await startServer({ dataDir: into });
    try {
      await assertSame(s, 'sensors', KEY_A, fx.expected.get('sensors')!);
      await assertSame(s, 'logs', KEY_LOGS, fx.expected.get('logs')!);
      await assertSame(s, 'blobs', KEY_BLOBS, fx.expected.get('blobs')!);
      await assertSame(s, 'metrics', KEY_METRICS, fx.expected.get('metrics')!);
      assert.ok(fx.expected.get('sensors')!.length > 20 && fx.expected.get('sensors')!.length < 400, 'the ring wrapped: old records were gone already');
      assert.ok(
        fx.expected.get('sensors')!.some((r) => r.data.length > 256),
        'spanning records are in',
      );

      // The soft-deleted record stays deleted.
      const gone = await api(s.url, 'GET', `/api/stores/sensors/data/time/${fx.deleted[0]}`, undefined, { 'X-API-Key': KEY_A });
      assert.equal(gone.status, 404);

      // Both reference keys open the store, the UUID one and the operator-supplied one; ids are the reference's.
      const b = await api(s.url, 'GET', '/api/stores/sensors/stats', undefined, { 'X-API-Key': KEY_B });
      assert.equal(b.status, 200, b.text);
      const keys = await api(s.url, 'GET', '/api/stores/sensors/keys', undefined, { 'X-Admin-Key': ADMIN_KEY });
      assert.deepEqual(keys.json.keys.map((k: { key_id: string }) => k.key_id).sort(), [KEY_A.slice(8, 16), hash(KEY_B).slice(0, 8)].sort());
      // A key of one store never opens another; a reference-shaped key only works where such keys were migrated.
      assert.equal((await api(s.url, 'GET', '/api/stores/logs/stats', undefined, { 'X-API-Key': KEY_A })).status, 401);
      await s.createStore('fresh');
      const shaped = await api(s.url, 'GET', '/api/stores/fresh/stats', undefined, { 'X-API-Key': KEY_B });
      assert.equal(shaped.status, 401);
      assert.match(shaped.text, /invalid API key format/);
      const wrong = await api(s.url, 'GET', '/api/stores/sensors/stats', undefined, { 'X-API-Key': 'tsstore_not-the-key-but-the-right-shape-0123456789' });
      assert.equal(wrong.status, 401);
      assert.match(wrong.text, /invalid API key"/);

      // Schema: the versions are there, compact records expand, a dropped field still names old data.
      const schema = await api(s.url, 'GET', '/api/stores/metrics/schema', undefined, { 'X-API-Key': KEY_METRICS });
      // Version 3 only dropped a field: tsstore keeps it, so versions 2 and 3 are one.
      assert.equal(schema.json.version, 2);
      const first = fx.expected.get('metrics')![0];
      const full = await api(s.url, 'GET', `/api/stores/metrics/data/time/${first.timestamp}`, undefined, { 'X-API-Key': KEY_METRICS });
      assert.match(full.text, /"data":\{"temp":0\.5,"room":"room-0"\}/);

      // The pull connection came along (its status has no null fields); the push one is reported.
      const conns = await api(s.url, 'GET', '/api/stores/sensors/ws/connections', undefined, { 'X-API-Key': KEY_A });
      assert.equal(conns.status, 200, conns.text);
      assert.equal(conns.text.includes(':null'), false, conns.text);
      const list = (conns.json.connections ?? conns.json) as { id: string; url: string }[];
      assert.deepEqual(
        list.map((c) => [c.id, c.url]),
        [['pull-1', 'ws://127.0.0.1:9/feed']],
      );
    } finally {
      await s.stop();
    }

    // A second run refuses the stores that exist now; --replace replaces them.
    const again = await runCli(['migrate', fx.dir, '--into', into, '--store', 'logs'], { timeoutMs: 60_000 });
    assert.equal(again.code, 2, again.stdout + again.stderr);
    assert.match(again.stdout, /Store logs \(.*\): REFUSED — a tsstore store named logs exists; --replace replaces it/);
    const replaced = await runCli(['migrate', fx.dir, '--into', into, '--store', 'logs', '--replace'], { timeoutMs: 60_000 });
    assert.equal(replaced.code, 0, replaced.stdout + replaced.stderr);
  });

  it('--dry-run reads and reports, and writes nothing', async () => {
    const into = dir('tsstore-dry-');
    const res = await runCli(['migrate', fx.dir, '--into', into, '--dry-run', '--store', 'sensors'], { timeoutMs: 60_000 });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /Store sensors .*: would be migrated/);
    assert.match(res.stdout, new RegExp(`records: ${fx.expected.get('sensors')!.length} `));
    assert.deepEqual(fs.readdirSync(into), []);
  });

  it('migrates what damaged stores still hold and says what was lost (exit 1)', async () => {
    const src = dir('go-damaged-');
    fs.cpSync(fx.dir, src, { recursive: true });
    // sensors: the data file loses its last 3 blocks.
    const sData = path.join(src, 'sensors', DATA_FILE);
    fs.truncateSync(sData, fs.statSync(sData).size - 3 * 256);
    // logs: the index is gone (soft deletes can no longer be seen).
    fs.rmSync(path.join(src, 'logs', INDEX_FILE));
    // metrics: a torn write: the next record's header went in, its data and the block's length did not.
    const mMeta = decodeMetaV1(fs.readFileSync(path.join(src, 'metrics', META_FILE)));
    const mData = path.join(src, 'metrics', DATA_FILE);
    const buf = fs.readFileSync(mData);
    const head = mMeta.headBlock * mMeta.dataBlockSize;
    const used = BLOCK_HEADER_SIZE + decodeBlockHeader(buf, head).dataLen;
    let last = BLOCK_HEADER_SIZE;
    while (last + OBJECT_HEADER_SIZE + decodeObjectHeader(buf, head + last).dataLen < used)
      last += OBJECT_HEADER_SIZE + decodeObjectHeader(buf, head + last).dataLen;
    const prev = decodeObjectHeader(buf, head + last);
    encodeObjectHeader(buf, head + last, { ...prev, flags: prev.flags & ~OBJ_LAST_IN_BLOCK, nextOffset: used });
    encodeObjectHeader(buf, head + used, { timestamp: BASE + 99_999n, dataLen: 500, flags: OBJ_LAST_IN_BLOCK, nextOffset: 0, reserved: 3 });
    assert.ok(used + OBJECT_HEADER_SIZE <= mMeta.dataBlockSize);
    fs.writeFileSync(mData, buf);
    // blobs: a flipped byte in a checksummed block.
    const bData = path.join(
      src,
      'blobs',
      fs.readdirSync(path.join(src, 'blobs')).find((n) => n.startsWith('partition-'))!,
      DATA_FILE,
    );
    const bb = fs.readFileSync(bData);
    bb[BLOCK_HEADER_SIZE + 30] ^= 0xff;
    fs.writeFileSync(bData, bb);
    // A store whose meta.tsdb is gone cannot be read at all, and the reference's other files are reported.
    fs.mkdirSync(path.join(src, 'broken'));
    fs.writeFileSync(path.join(src, 'broken', META_FILE), Buffer.from('1EROTSST\x01\x00', 'latin1'));
    fs.writeFileSync(path.join(src, 'sensors', 'alerts.json'), '{}');
    writeGoConnections(path.join(src, 'sensors'), [
      { id: 'pull-1', mode: 'pull', url: 'ws://127.0.0.1:9/feed', created_at: '2025-03-01T00:00:00Z' },
      { id: 'push-1', mode: 'push', url: 'ws://127.0.0.1:9/out', created_at: '2025-03-01T00:00:00Z' },
    ]);

    const into = dir('tsstore-damaged-');
    const res = await runCli(['migrate', src, '--into', into], { timeoutMs: 60_000 });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    const out = res.stdout;
    assert.match(out, /Store broken: FAILED — meta\.tsdb is 10 bytes long, expected 64/);
    assert.match(out, /Store sensors .*: migrated/);
    assert.match(out, /note: data\.tsdb is \d+ bytes, expected 8192: truncated/);
    assert.match(out, /skipped: 3 blocks beyond the end of a truncated data file|skipped: \d+ records? beyond the end of a truncated data file/);
    assert.match(out, /note: index\.tsdb is missing/);
    assert.match(out, /skipped: 1 record torn writes/);
    assert.match(out, /skipped: \d+ records? blocks whose checksum does not match/);
    assert.match(out, /connection not migrated: push-1 — push connections/);
    assert.match(out, /Not migrated \(tsstore has no counterpart\): sensors\/alerts\.json/);
    assert.match(out, /Some things were not migrated/);

    // What survived is exact: the damaged stores keep every record the damage did not touch.
    const s = await startServer({ dataDir: into });
    try {
      const metrics = await readAll(s, 'metrics', KEY_METRICS);
      assert.deepEqual(
        metrics.map((r) => r.timestamp),
        fx.expected.get('metrics')!.map((r) => r.timestamp),
        'the torn write alone is lost',
      );
      const logs = await readAll(s, 'logs', KEY_LOGS);
      assert.equal(logs.length, fx.expected.get('logs')!.length);
      const sensors = await readAll(s, 'sensors', KEY_A);
      const want = new Map(fx.expected.get('sensors')!.map((r) => [r.timestamp, r.data.toString('utf8')]));
      assert.ok(sensors.length > 0 && sensors.length < want.size, `${sensors.length} of ${want.size}`);
      for (const r of sensors) assert.equal(r.dataJson, want.get(r.timestamp), `sensors ${r.timestamp}`);
    } finally {
      await s.stop();
    }
  });
});
