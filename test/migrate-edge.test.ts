/**
 * `tsstore migrate`, the edges: records the reference hid behind spanning records, keys from the
 * central key registry, and refusing a source that a running server uses. (Split from
 * migrate.test.ts to keep each file short on a busy machine.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseObjects } from '../src/cli/store-data.js';
import { DATA_FILE, META_FILE } from '../src/migrate/go-format.js';
import { GoStoreWriter, writeGoKeyRegistry, writeGoKeys } from '../src/migrate/go-writer.js';
import { api, runCli, startServer, tempDir, type TestServer } from './support/server.js';

const BASE = 1704067200000000001n;
const hash = (key: string): string => crypto.createHash('sha256').update(key).digest('hex');
const KEY_A = `tsstore_${crypto.randomUUID()}`;

async function readAll(s: TestServer, store: string, key: string): Promise<{ timestamp: bigint; dataJson: string }[]> {
  const res = await fetch(new URL(`/api/stores/${store}/data/oldest?limit=100000&format=compact`, s.url), { headers: { 'X-API-Key': key } });
  assert.equal(res.status, 200, store);
  return parseObjects(Buffer.from(await res.arrayBuffer()));
}

/** A small Go data directory with two stores. */
function smallSource(dir: string): void {
  for (const name of ['logs', 'sensors']) {
    const w = new GoStoreWriter(name, { dataType: 'json', numBlocks: 16, dataBlockSize: 256 });
    for (let i = 0; i < 40; i++) w.put(BASE + BigInt(i), Buffer.from(`{"i":${i}}`));
    writeGoKeys(w.writeTo(dir), name, [{ id: KEY_A.slice(8, 16), hash: hash(KEY_A), created_at: '2025-01-01T00:00:00Z' }]);
  }
}

describe('tsstore migrate: edges', () => {
  const work: string[] = [];
  const dir = (prefix: string): string => {
    const d = tempDir(prefix);
    work.push(d);
    return d;
  };
  after(() => {
    for (const d of work) fs.rmSync(d, { recursive: true, force: true });
  });

  it('recovers records the reference stored behind a spanning record, and reports the record it overwrote', async () => {
    const src = dir('go-span-');
    // 616 bytes is not a whole number of 232-byte payloads: the reference resumes writing 24
    // bytes before the end of the spanning record, overwriting it, and never reads the next ones back.
    const w = new GoStoreWriter('spans', { dataType: 'json', numBlocks: 64, dataBlockSize: 256 });
    let ts = BASE;
    for (let i = 0; i < 30; i++) w.put((ts += 1n), Buffer.from(i % 10 === 3 ? `{"big":"${'y'.repeat(605)}"}` : `{"i":${i}}`));
    writeGoKeys(w.writeTo(src), 'spans', [{ id: KEY_A.slice(8, 16), hash: hash(KEY_A), created_at: '2025-01-01T00:00:00Z' }]);
    assert.equal(w.damagedByReference().length, 3);
    const into = dir('tsstore-span-');
    const res = await runCli(['migrate', src, '--into', into], { timeoutMs: 60_000 });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /skipped: 3 records spanning records whose last bytes the reference overwrote/);
    assert.match(res.stdout, /note: \d+ record\(s\) the reference stored after a record spanning blocks but never returned in reads were recovered/);
    const s = await startServer({ dataDir: into });
    try {
      const got = await readAll(s, 'spans', KEY_A);
      assert.deepEqual(
        got.map((r) => [r.timestamp, r.dataJson]),
        w.expected().map((r) => [r.timestamp, r.data.toString('utf8')]),
      );
    } finally {
      await s.stop();
    }
  });

  it('carries keys from the central key registry: grants decide; narrower keys only with --widen-keys', async () => {
    const src = dir('go-registry-');
    const w = new GoStoreWriter('edge-1', { dataType: 'json', numBlocks: 8, dataBlockSize: 256 });
    w.put(BASE, Buffer.from('{"a":1}'));
    w.writeTo(src);
    const reader = `tsstore_${crypto.randomUUID()}`;
    const fleet = `tsstore_${crypto.randomUUID()}`;
    writeGoKeyRegistry(src, [
      {
        id: hash(fleet).slice(0, 8),
        hash: hash(fleet),
        created_at: '2025-01-01T00:00:00Z',
        grants: [{ stores: 'edge-*', access: ['read', 'write', 'manage'] }],
      },
      { id: hash(reader).slice(0, 8), hash: hash(reader), created_at: '2025-01-01T00:00:00Z', grants: [{ stores: 'edge-1', access: ['read'] }] },
      {
        id: 'boot0001',
        hash: hash('root-admin-key-0123456789'),
        created_at: '2025-01-01T00:00:00Z',
        grants: [{ stores: '*', access: ['read', 'write', 'manage', 'admin'] }],
        bootstrap: true,
      },
    ]);
    const into = dir('tsstore-registry-');
    const res = await runCli(['migrate', src, '--into', into], { timeoutMs: 60_000 });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /API keys: 1 from keys\.registry\.json/);
    assert.match(res.stdout, new RegExp(`key not migrated: ${hash(reader).slice(0, 8)} — it has only read access here .*--widen-keys`));
    assert.match(res.stdout, /key not migrated: boot0001 — the reference's bootstrap \(admin\) key: .*TSSTORE_ADMIN_KEY/);
    const widened = await runCli(['migrate', src, '--into', into, '--replace', '--widen-keys'], { timeoutMs: 60_000 });
    assert.match(widened.stdout, /API keys: 2 from keys\.registry\.json/);
    const s = await startServer({ dataDir: into });
    try {
      for (const key of [fleet, reader]) assert.equal((await api(s.url, 'GET', '/api/stores/edge-1/data/oldest', undefined, { 'X-API-Key': key })).status, 200);
    } finally {
      await s.stop();
    }
  });

  it('refuses a source directory that a running server has open, and one whose files change while read (exit 2)', async () => {
    const into = dir('tsstore-busy-');
    const source = dir('go-busy-');
    smallSource(source);
    // A stand-in for a running Go server: holds a store's data file open.
    const holder = spawn(
      process.execPath,
      ['-e', `const fs=require('fs');fs.openSync(${JSON.stringify(path.join(source, 'logs', DATA_FILE))},'r');console.log('open');setInterval(()=>{},1000)`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
      const res = await runCli(['migrate', source, '--into', into], { timeoutMs: 60_000 });
      assert.equal(res.code, 2, res.stdout + res.stderr);
      assert.match(res.stderr, new RegExp(`the source directory is in use: pid ${holder.pid} \\(node\\) has logs/data\\.tsdb open`));
      assert.deepEqual(
        fs.readdirSync(into).filter((n) => n !== 'tsstore.lock'),
        [],
      );
    } finally {
      holder.kill('SIGKILL');
    }

    // A writer that opens and closes files between reads: seen through changing sizes and times.
    const src = dir('go-live-');
    fs.cpSync(source, src, { recursive: true });
    const meta = path.join(src, 'sensors', META_FILE);
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');const b=fs.readFileSync(${JSON.stringify(meta)});console.log('go');for(;;){b[40]++;fs.writeFileSync(${JSON.stringify(meta + '.tmp')},b);fs.renameSync(${JSON.stringify(meta + '.tmp')},${JSON.stringify(meta)})}`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => writer.stdout!.once('data', () => resolve()));
      const res = await runCli(['migrate', src, '--into', dir('tsstore-live-'), '--store', 'sensors'], { timeoutMs: 60_000 });
      assert.equal(res.code, 2, res.stdout + res.stderr);
      assert.match(res.stdout + res.stderr, /source store changed while it was read|source directory is in use/);
    } finally {
      writer.kill('SIGKILL');
    }
  });
});
