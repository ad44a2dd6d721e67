import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { ADMIN_KEY, BIN, runCli, tempDir } from './support/server.js';

import { BASE, COUNT, canonicalLines } from './support/records.js';

describe('import and export (100k records, byte-identical)', () => {
  const dataDir = tempDir();
  const work = tempDir('tsstore-io-');
  const input = path.join(work, 'in.ndjson');
  let lines: string[];
  const env = { TSSTORE_DATA_PATH: dataDir, TSSTORE_ADMIN_KEY: ADMIN_KEY };
  const cli = (args: string[]) => runCli(args, { env, timeoutMs: 60_000 });

  before(() => {
    lines = canonicalLines(COUNT);
    fs.writeFileSync(input, lines.join(''));
  });

  it('imports into the data path, resumes after an interruption, and exports the same bytes', async () => {
    assert.equal((await cli(['create', 'io', '--blocks', '8192'])).code, 0);
    const partial = path.join(work, 'partial.ndjson');
    fs.writeFileSync(partial, lines.slice(0, 60_000).join(''));
    const first = await cli(['import', 'io', partial]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /^Imported 60,000 records into io via data path .*, skipped 0 already stored, in [\d.]+ s/);
    assert.equal(first.stderr.includes('\x1b['), false, 'no progress bar when stderr is not a terminal');

    const resumed = await cli(['import', 'io', input]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /Imported 40,000 records into io .* skipped 60,000 already stored/);

    const output = path.join(work, 'out.ndjson');
    const exported = await cli(['export', 'io', '--output', output]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stderr, /Exported 100,000 records of io via data path/);
    assert.ok(fs.readFileSync(output).equals(fs.readFileSync(input)), 'export is byte-identical to the import file');

    const again = await cli(['import', 'io', input]);
    assert.match(again.stderr, /Imported 0 records .* skipped 100,000 already stored/);
  });

  it('stops quietly when the reader of its output goes away (export | head)', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" export io | head -n 2`], {
      env: { ...process.env, ...env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', TSSTORE_CONFIG: '' },
      encoding: 'utf8',
      cwd: work,
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, lines.slice(0, 2).join(''));
    assert.equal(r.stderr, '');
    assert.equal(fs.existsSync(path.join(dataDir, 'tsstore.lock')), false, 'the data path is released');
  });

  it('round-trips through CSV (timestamp,data) exactly', async () => {
    const csv = path.join(work, 'io.csv');
    assert.equal((await cli(['export', 'io', '--format', 'csv', '--end', String(BASE + 20_000n * 1_000_003n + 1n), '--output', csv])).code, 0);
    const text = fs.readFileSync(csv, 'utf8');
    assert.ok(text.startsWith('timestamp,data\n1704067200000000001,"{""i"":0,""temp"":0.00,""room"":""living-0""}"\n'), text.slice(0, 200));
    assert.equal((await cli(['create', 'fromcsv', '--blocks', '2048'])).code, 0);
    const imported = await cli(['import', 'fromcsv', csv]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /Imported 20,001 records/);
    const back = await cli(['export', 'fromcsv']);
    assert.equal(back.stdout, lines.slice(0, 20_001).join(''));
  });

  it('imports a CSV with its own columns as JSON objects', async () => {
    const csv = path.join(work, 'readings.csv');
    fs.writeFileSync(
      csv,
      'time,sensor,temp,ok,comment\r\n1704067200000000001,s-1,21.5,true,\r\n2024-01-01T00:00:01Z,"s,2",-3,false,"said ""hi""\nand left"\r\n',
    );
    assert.equal((await cli(['create', 'readings'])).code, 0);
    const r = await cli(['import', 'readings', csv, '--timestamp-column', 'time']);
    assert.equal(r.code, 0, r.stderr);
    const back = await cli(['export', 'readings']);
    assert.equal(
      back.stdout,
      '{"timestamp":1704067200000000001,"data":{"sensor":"s-1","temp":21.5,"ok":true}}\n' +
        '{"timestamp":1704067201000000000,"data":{"sensor":"s,2","temp":-3,"ok":false,"comment":"said \\"hi\\"\\nand left"}}\n',
    );
  });

  it('names the line of a record without a timestamp, of bad JSON, and of a refused record', async () => {
    assert.equal((await cli(['create', 'strict'])).code, 0);
    const noTs = path.join(work, 'nots.ndjson');
    fs.writeFileSync(noTs, '{"timestamp":10,"data":1}\n\n{"data":2}\n');
    const r1 = await cli(['import', 'strict', noTs]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /nots\.ndjson line 3: a timestamp is required/);
    const badJson = path.join(work, 'bad.ndjson');
    fs.writeFileSync(badJson, '{"timestamp":10,"data":1}\n{"timestamp":11,"data":\n');
    const r2 = await cli(['import', 'strict', badJson]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /bad\.ndjson line 2: invalid JSON/);
    const order = path.join(work, 'order.ndjson');
    fs.writeFileSync(order, '{"timestamp":20,"data":1}\n{"timestamp":30,"data":2}\n{"timestamp":25,"data":3}\n{"timestamp":40,"data":4}\n');
    const r3 = await cli(['import', 'strict', order]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /order\.ndjson line 3: timestamp must be greater than newest entry/);
    assert.match(r3.stderr, /Imported 3 records into strict before stopping/);
  });

  it('status needs a running server', async () => {
    const r = await runCli(['status'], { env: { TSSTORE_DATA_PATH: tempDir(), TSSTORE_ADMIN_KEY: ADMIN_KEY } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no tsstore server is running on data path .*; start one, or pass --url/);
  });
});
