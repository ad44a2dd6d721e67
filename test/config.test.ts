import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/load-config.js';
import { loadPlugins } from '../src/pipeline/plugin-loader.js';
import { planPipelines } from '../src/pipeline/pipeline-builder.js';
import { tempDir } from './support/server.js';

function problemsOf(err: unknown): string[] {
  assert.ok(err instanceof ConfigError, String(err));
  return err.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('configuration', () => {
  it('runs with no config at all on the documented defaults', async () => {
    const cwd = tempDir();
    const c = await loadConfig({ cwd, env: {} });
    assert.equal(c.server.host, '0.0.0.0');
    assert.equal(c.server.port, 21080);
    assert.equal(c.server.socket_path, '/var/run/tsstore/tsstore.sock');
    assert.equal(c.store.base_path, path.join(cwd, 'data'));
    assert.equal(c.store.num_blocks, 1024);
    assert.ok(c.pipelines.main);
  });

  it('finds tsstore.config.yaml and tsstore.config.json alike', async () => {
    const y = tempDir();
    fs.writeFileSync(path.join(y, 'tsstore.config.yaml'), 'server:\n  port: 9001\n  socket_path: /tmp/x.sock\nstore:\n  num_blocks: 64\n');
    const j = tempDir();
    fs.writeFileSync(path.join(j, 'tsstore.config.json'), JSON.stringify({ server: { port: 9001, socket_path: '/tmp/x.sock' }, store: { num_blocks: 64 } }));
    const cy = await loadConfig({ cwd: y, env: {} });
    const cj = await loadConfig({ cwd: j, env: {} });
    assert.equal(cy.server.port, 9001);
    assert.deepEqual({ ...cy, source: null, store: { ...cy.store, base_path: '' } }, { ...cj, source: null, store: { ...cj.store, base_path: '' } });
    const rc = tempDir();
    fs.writeFileSync(path.join(rc, '.tsstorerc.yml'), 'server:\n  port: 9002\n');
    assert.equal((await loadConfig({ cwd: rc, env: {} })).server.port, 9002);
    const pkg = tempDir();
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'x', tsstore: { server: { port: 9003 } } }));
    assert.equal((await loadConfig({ cwd: pkg, env: {} })).server.port, 9003);
  });

  it("accepts the reference server's config.json shape", async () => {
    const d = tempDir();
    fs.writeFileSync(
      path.join(d, 'config.json'),
      JSON.stringify({
        server: {
          host: '127.0.0.1',
          port: 21081,
          socket_path: '/tmp/ref.sock',
          admin_key: 'reference-admin-key-123456',
          tls: { cert_file: 'c.pem', key_file: 'k.pem' },
        },
        store: { base_path: './refdata', data_block_size: 8192, index_block_size: 4096, num_blocks: 2048 },
      }),
    );
    const c = await loadConfig({ cwd: d, env: {} });
    assert.equal(c.server.host, '127.0.0.1');
    assert.equal(c.server.admin_key, 'reference-admin-key-123456');
    assert.deepEqual(c.server.tls, { cert: path.join(d, 'c.pem'), key: path.join(d, 'k.pem') });
    assert.equal(c.store.base_path, path.join(d, 'refdata'));
    assert.equal(c.store.data_block_size, 8192);
    assert.equal(c.store.num_blocks, 2048);
  });

  it('applies TSSTORE_* environment overrides over the file, and flags over both', async () => {
    const d = tempDir();
    const file = path.join(d, 'my.yaml');
    fs.writeFileSync(file, 'server:\n  port: 1111\n  host: 127.0.0.1\n');
    const env = {
      TSSTORE_CONFIG: file,
      TSSTORE_PORT: '2222',
      TSSTORE_HOST: '::',
      TSSTORE_DATA_PATH: '/tmp/tss-data',
      TSSTORE_SOCKET_PATH: '/tmp/e.sock',
      TSSTORE_ADMIN_KEY: 'env-admin-key-0123456789',
    };
    const c = await loadConfig({ cwd: d, env });
    assert.equal(c.source.file, file);
    assert.equal(c.server.port, 2222);
    assert.equal(c.server.host, '::');
    assert.equal(c.store.base_path, '/tmp/tss-data');
    assert.equal(c.server.socket_path, '/tmp/e.sock');
    assert.equal(c.server.admin_key, 'env-admin-key-0123456789');
    const f = await loadConfig({ cwd: d, env, flags: { port: 3333, socketPath: null } });
    assert.equal(f.server.port, 3333);
    assert.equal(f.server.socket_path, null);
  });

  it('reports every problem at once, each with its path', async () => {
    const d = tempDir();
    fs.writeFileSync(
      path.join(d, 'tsstore.config.yaml'),
      [
        'server:',
        '  port: 99999',
        '  colour: blue',
        'store:',
        '  num_blocks: -3',
        'log:',
        '  level: loud',
        'pipelines:',
        '  main:',
        '    inputs: {}',
        '    stages: [ { nope: 1 } ]',
      ].join('\n'),
    );
    let err: unknown;
    try {
      await loadConfig({ cwd: d, env: { TSSTORE_PORT: 'eighty' } });
    } catch (e) {
      err = e;
    }
    const p = problemsOf(err);
    for (const want of [
      /^server\.port: /,
      /^server\.colour: .*not allowed/,
      /^store\.num_blocks: /,
      /^log\.level: /,
      /^pipelines\.main\.stages\.0\.type: .*required/,
      /^pipelines\.main\.sink: .*required/,
      /^env TSSTORE_PORT: /,
    ]) {
      assert.ok(
        p.some((x) => want.test(x)),
        `missing ${want} in\n${p.join('\n')}`,
      );
    }
    assert.match((err as Error).message, /invalid configuration in .*tsstore\.config\.yaml/);
  });

  it('refuses unknown plugin types (listing the known ones) and unknown plugin options', async () => {
    const d = tempDir();
    fs.writeFileSync(
      path.join(d, 'tsstore.config.json'),
      JSON.stringify({
        pipelines: {
          main: { inputs: { a: { type: 'carrier_pigeon' }, b: { type: 'rest', colour: 1 } }, stages: [{ type: 'validate' }], sink: { type: 'nowhere' } },
        },
      }),
    );
    const c = await loadConfig({ cwd: d, env: {} });
    let err: unknown;
    try {
      planPipelines(c, await loadPlugins([], d));
    } catch (e) {
      err = e;
    }
    const p = problemsOf(err);
    assert.ok(
      p.some((x) => /^pipelines\.main\.inputs\.a\.type: unknown input type "carrier_pigeon"; known: .*rest/.test(x)),
      p.join('\n'),
    );
    assert.ok(
      p.some((x) => /^pipelines\.main\.inputs\.b\.colour: .*not allowed/.test(x)),
      p.join('\n'),
    );
    assert.ok(
      p.some((x) => /^pipelines\.main\.sink\.type: unknown sink type "nowhere"; known: .*memory/.test(x)),
      p.join('\n'),
    );
  });

  it('ships a default.yaml and an example config that load cleanly', async () => {
    const root = path.resolve(__dirname, '../..');
    for (const name of fs.readdirSync(path.join(root, 'config'))) {
      const file = path.join(root, 'config', name);
      const c = await loadConfig({ file, env: {} });
      planPipelines(c, await loadPlugins(c.plugins, c.source.dir));
    }
  });
});
