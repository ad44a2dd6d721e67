import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_KEY, api, runCli, spawnServer, tempDir, type ChildServer } from './support/server.js';
import { BASE, COUNT, canonicalLines } from './support/records.js';

describe('import and export through a running server', () => {
  const dataDir = tempDir();
  const work = tempDir('tsstore-io-');
  const input = path.join(work, 'in.ndjson');
  let lines: string[];
  const env = { TSSTORE_DATA_PATH: dataDir, TSSTORE_ADMIN_KEY: ADMIN_KEY };
  const cli = (args: string[]) => runCli(args, { env, timeoutMs: 60_000 });
  let srv: ChildServer;

  before(async () => {
    lines = canonicalLines(COUNT);
    fs.writeFileSync(input, lines.join(''));
    assert.equal((await cli(['create', 'io', '--blocks', '8192'])).code, 0);
    const r = await cli(['import', 'io', input]);
    assert.equal(r.code, 0, r.stderr);
    srv = await spawnServer(['--no-socket'], { TSSTORE_DATA_PATH: dataDir });
  });
  after(async () => {
    srv.child.kill('SIGTERM');
    await srv.exited;
  });

  it('exports 100k records through the API, byte-identical', async () => {
    const output = path.join(work, 'remote.ndjson');
    const r = await cli(['export', 'io', '--output', output]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`Exported 100,000 records of io via server ${srv.url.replace(/[.]/g, '\\.')}`));
    assert.ok(fs.readFileSync(output).equals(fs.readFileSync(input)));
  });

  it('imports through the API (resumable) and exports a time range exactly', async () => {
    assert.equal((await cli(['create', 'remote'])).code, 0);
    const part = path.join(work, 'remote-in.ndjson');
    fs.writeFileSync(part, lines.slice(0, 600).join(''));
    const first = await cli(['import', 'remote', part]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /Imported 600 records into remote via server/);
    fs.writeFileSync(part, lines.slice(0, 1_000).join(''));
    const resumed = await cli(['import', 'remote', part]);
    assert.match(resumed.stderr, /Imported 400 records .* skipped 600 already stored/);
    const all = await cli(['export', 'remote']);
    assert.equal(all.stdout, lines.slice(0, 1_000).join(''));
    const start = BASE + 100n * 1_000_003n + 1n;
    const end = BASE + 199n * 1_000_003n + 1n;
    const range = await cli(['export', 'remote', '--start', String(start), '--end', String(end)]);
    assert.equal(range.stdout, lines.slice(100, 200).join(''));
    const since = await cli(['export', 'remote', '--since', '1h']);
    assert.equal(since.stdout, '', 'the records are from 2024');
  });

  it('refuses an unknown store clearly', async () => {
    const r = await cli(['export', 'nosuch']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /store not found/);
  });

  it('tsstore status shows every store from the API, with the write rate', async () => {
    const key = (await api(srv.url, 'POST', '/api/stores', { name: 'busy' }, { 'X-Admin-Key': ADMIN_KEY })).json.api_key as string;
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        const res = await api(srv.url, 'POST', '/api/stores/busy/data', '{"data":{"n":1}}', { 'X-API-Key': key, 'Content-Type': 'application/json' });
        assert.equal(res.status, 201);
        written++;
      }
    })();
    const r = await cli(['status', '--json', '--interval', '1s']);
    writing = false;
    await writer;
    assert.equal(r.code, 0, r.stderr);
    const status = JSON.parse(r.stdout) as {
      url: string;
      stores: { store: string; records: number; fill: number; write_rate: number; span_seconds: number }[];
    };
    assert.equal(status.url, srv.url);
    const byName = new Map(status.stores.map((x) => [x.store, x]));
    assert.deepEqual([...byName.keys()].sort(), ['busy', 'io', 'remote']);
    assert.equal(byName.get('io')!.records, COUNT);
    assert.equal(byName.get('io')!.write_rate, 0);
    assert.equal(byName.get('io')!.span_seconds, Number(BigInt(COUNT - 1) * 1_000_003n) / 1e9);
    assert.ok(byName.get('io')!.fill > 0 && byName.get('io')!.fill < 1);
    assert.ok(byName.get('busy')!.write_rate > 0, `records written meanwhile (${written}) show as a rate`);
    const table = await cli(['status']);
    assert.match(table.stdout, /^STORE +TYPE +RECORDS +FILL +OLDEST +NEWEST +SPAN +WRITES\/S\n/);
    assert.match(table.stdout, /\nio +json +100,000 +[\d.]+% +2024-01-01T00:00:00Z/);
  });
});
