import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { writeFixturePlugin } from './support/fixture-plugin.js';
import { runCli, tempDir, writeConfig } from './support/server.js';

describe('tsstore plugins / config validate / config print', () => {
  it('plugins: lists built-ins and outside packages with kind, type, package and version', async () => {
    const dir = tempDir('tss-cli-');
    writeFixturePlugin(dir, { name: 'acme-input', version: '1.2.3' });
    const file = writeConfig(dir, { plugins: ['./acme-input'] });
    const table = await runCli(['plugins', '--config', file]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s{2,}/));
    assert.deepEqual(lines[0], ['KIND', 'TYPE', 'PACKAGE', 'VERSION', 'FROM']);
    assert.ok(
      lines.some((l) => l.join('|') === 'input|fixture_post|acme-input|1.2.3|./acme-input'),
      table.stdout,
    );
    assert.ok(
      lines.some((l) => l[0] === 'input' && l[1] === 'rest' && l[2] === 'tsstore' && l[4] === '(built-in)'),
      table.stdout,
    );
    const json = await runCli(['plugins', '--json', '--config', file]);
    const parsed = JSON.parse(json.stdout) as { plugins: { kind: string; type: string; package: string; version: string }[] };
    assert.ok(parsed.plugins.some((p) => p.kind === 'sink' && p.type === 'blockfile' && p.package === 'tsstore'));

    writeConfig(dir, { plugins: ['./acme-input', './missing-one'] });
    const bad = await runCli(['plugins', '--config', file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /plugins\.1: cannot find plugin package "\.\/missing-one"/);
    assert.match(bad.stdout, /fixture_post/, 'what did load is still listed');
  });

  it('config validate: "ok", or every problem with its path and a failing exit code', async () => {
    const dir = tempDir('tss-cli-');
    const good = path.join(dir, 'good.yaml');
    fs.writeFileSync(
      good,
      'pipelines:\n  main:\n    inputs: { api: { type: rest } }\n    stages: [ { type: validate } ]\n    sink: { type: blockfile, fsync: always }\n',
    );
    const ok = await runCli(['config', 'validate', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), 'ok');

    const badFile = path.join(dir, 'bad.json');
    fs.writeFileSync(
      badFile,
      JSON.stringify({ server: { port: 'eighty' }, pipelines: { main: { inputs: { api: { type: 'rest', colour: 1 }, x: { type: 'nope' } }, stages: [] } } }),
    );
    const bad = await runCli(['config', 'validate', badFile]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /invalid configuration in .*bad\.json: 4 problems/);
    for (const want of [
      /- server\.port: must be a number/,
      /- pipelines\.main\.sink: is required/,
      /- pipelines\.main\.inputs\.api\.colour: is not allowed/,
      /- pipelines\.main\.inputs\.x\.type: unknown input type "nope"; known: rest/,
    ]) {
      assert.match(bad.stdout, want);
    }
    const serve = await runCli(['serve', '--config', badFile], { env: { TSSTORE_ADMIN_KEY: 'cli-admin-key-0123456789' } });
    assert.equal(serve.code, 2, 'serve refuses the same config with the same problems');
    assert.match(serve.stderr, /pipelines\.main\.inputs\.x\.type: unknown input type/);
    assert.match(serve.stderr, /server\.port: must be a number/);
  });

  it('config print: defaults, file, environment and plugin defaults applied; secrets masked', async () => {
    const dir = tempDir('tss-cli-');
    const file = path.join(dir, 'tsstore.config.yaml');
    fs.writeFileSync(file, 'server:\n  port: 1234\n  admin_key: written-in-the-file-0123456789\nstore:\n  num_blocks: 64\n');
    const r = await runCli(['config', 'print', '--config', file], { env: { TSSTORE_PORT: '4321', TSSTORE_DATA_PATH: '/tmp/tss-print-data' } });
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    assert.equal(c.server.port, 4321, 'the environment overrides the file');
    assert.equal(c.server.admin_key, '********');
    assert.ok(!r.stdout.includes('written-in-the-file'));
    assert.equal(c.store.num_blocks, 64);
    assert.equal(c.store.base_path, '/tmp/tss-print-data');
    assert.equal(c.store.data_block_size, 4096, 'built-in default');
    assert.deepEqual(c.pipelines.main.inputs.api, { type: 'rest', body_limit: 1048576, batch_body_limit: 67108864 });
    assert.deepEqual(c.pipelines.main.sink, {
      type: 'blockfile',
      fsync: 'batch',
      fsync_interval_ms: 1000,
      max_flush_bytes: 2097152,
      checkpoint: true,
      checkpoint_bytes: 67108864,
      checkpoint_interval_ms: 30000,
    });
    assert.match(r.stderr, /effective configuration from .*tsstore\.config\.yaml/);
  });
});
