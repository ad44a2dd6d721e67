import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../src/config/load-config.js';
import { silentLogger } from '../src/core/logger.js';
import { loadPluginsChecked } from '../src/pipeline/plugin-loader.js';
import { TsstoreServer } from '../src/server.js';
import restInput from '../plugins/inputs/rest/index.js';
import { inputHarness } from '../src/testing/index.js';
import { writeFixturePlugin } from './support/fixture-plugin.js';
import { ADMIN_KEY, api, spawnServer, tempDir, writeConfig } from './support/server.js';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('third-party plugins', () => {
  it('loads a package by a path relative to the config file and runs its input in the server', async () => {
    const dir = tempDir('tss-plugin-');
    writeFixturePlugin(dir, { name: 'acme-input', version: '1.2.3' });
    const file = writeConfig(dir, {
      plugins: ['./acme-input'],
      server: { host: '127.0.0.1', port: 0, socket_path: '', admin_key: ADMIN_KEY },
      store: { base_path: path.join(dir, 'data') },
      pipelines: { main: { inputs: { api: { type: 'rest' }, acme: { type: 'fixture_post' } }, stages: [{ type: 'validate' }], sink: { type: 'blockfile' } } },
    });
    // Loaded from another working directory: the path is relative to the config file, not the cwd.
    const config = await loadConfig({ file, cwd: tempDir(), env: {} });
    const server = await TsstoreServer.start(config, { logger: silentLogger() });
    cleanups.push(() => server.stop());
    const acme = server.registry.list().find((p) => p.descriptor.type === 'fixture_post');
    assert.deepEqual(acme?.source, { package: 'acme-input', version: '1.2.3', from: './acme-input' });
    assert.ok(server.registry.list().filter((p) => p.source.package === 'tsstore').length >= 4, 'built-ins are in the same registry');

    const created = await api(server.url, 'POST', '/api/stores', { name: 'acme' }, { 'X-Admin-Key': ADMIN_KEY });
    const key = { 'X-API-Key': created.json.api_key as string };
    const posted = await api(server.url, 'POST', '/fixture/acme', '{"x": 1.50}', { ...key, 'Content-Type': 'application/json' });
    assert.equal(posted.status, 201, posted.text);
    const bad = await api(server.url, 'POST', '/fixture/acme', '{nope', { ...key, 'Content-Type': 'application/json' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'TSS_ERR_INVALID_JSON', 'records from an outside input go through the validate stage');
    const newest = await api(server.url, 'GET', '/api/stores/acme/data/newest', undefined, key);
    assert.equal(newest.json.count, 1);
    assert.equal(String(newest.json.objects[0].timestamp), JSON.parse(posted.text).timestamp);
  });

  it('tsstore serve (the real CLI) loads the package named in the config', async () => {
    const dir = tempDir('tss-plugin-');
    writeFixturePlugin(dir, { name: 'acme-input', version: '1.2.3' });
    const file = writeConfig(dir, {
      plugins: ['./acme-input'],
      pipelines: { main: { inputs: { acme: { type: 'fixture_post' } }, stages: [{ type: 'validate' }], sink: { type: 'blockfile' } } },
    });
    const child = await spawnServer(['--no-socket', '--config', file], { TSSTORE_DATA_PATH: path.join(dir, 'data') });
    cleanups.push(async () => {
      child.child.kill('SIGTERM');
      await child.exited;
    });
    const created = await api(child.url, 'POST', '/api/stores', { name: 'c' }, { 'X-Admin-Key': ADMIN_KEY });
    const key = { 'X-API-Key': created.json.api_key as string, 'Content-Type': 'application/json' };
    assert.equal((await api(child.url, 'POST', '/fixture/c', '{"via":"cli"}', key)).status, 201);
    assert.equal((await api(child.url, 'POST', '/api/stores/c/data', '{"data":1}', key)).status, 404, 'rest is not in this pipeline');
    child.child.kill('SIGTERM');
    assert.equal(await child.exited, 0);
  });

  it('inputHarness runs an input against a real catalog, HTTP server and pipeline', async () => {
    const h = await inputHarness(restInput, { options: { body_limit: 128 } });
    cleanups.push(() => h.stop());
    assert.deepEqual(h.resources, [{ kind: 'http-route', id: 'POST /api/stores/:store/data' }]);
    assert.equal(h.options.batch_body_limit, 64 * 1024 * 1024, 'defaults applied');
    const key = await h.createStore('h');
    const ok = await api(h.url, 'POST', '/api/stores/h/data', '{"timestamp":1704067200000000001,"data":{"a":1}}', {
      'X-API-Key': key,
      'Content-Type': 'application/json',
    });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(
      (
        await api(h.url, 'POST', '/api/stores/h/data', '{"data":1}', {
          'X-API-Key': 'tsstore_00000000-0000-4000-8000-000000000000',
          'Content-Type': 'application/json',
        })
      ).status,
      401,
    );
    assert.equal(
      (await api(h.url, 'POST', '/api/stores/h/data', `{"data":"${'x'.repeat(200)}"}`, { 'X-API-Key': key, 'Content-Type': 'application/json' })).status,
      413,
    );
    const stale = await api(h.url, 'POST', '/api/stores/h/data', '{"timestamp":5,"data":2}', { 'X-API-Key': key, 'Content-Type': 'application/json' });
    assert.equal(stale.status, 409);
    const rows = await h.records('h');
    assert.deepEqual(
      rows.map((r) => [r.timestamp, r.data?.toString()]),
      [[1704067200000000001n, '{"a":1}']],
    );
    assert.deepEqual(
      h.emits.map((e) => (e.results[0].ok ? 'ok' : e.results[0].code)),
      ['ok', 'TSS_ERR_TIMESTAMP_ORDER'],
    );
    await assert.rejects(inputHarness(restInput, { options: { colour: 1 } }), /invalid options for input rest: colour: "colour" is not allowed/);
  });

  it('refuses an API version mismatch, duplicates and missing packages, each naming the package, all at once', async () => {
    const dir = tempDir('tss-plugin-');
    writeFixturePlugin(dir, { name: 'acme-future', version: '3.0.0', type: 'future_thing', apiVersion: '^2.0.0' });
    writeFixturePlugin(dir, { name: 'acme-one', version: '1.0.0' });
    writeFixturePlugin(dir, { name: 'acme-two', version: '2.0.0' });
    writeFixturePlugin(dir, { name: 'acme-rest', version: '0.0.1', type: 'rest' });
    fs.writeFileSync(path.join(dir, 'empty.js'), 'module.exports = { hello: 1 };');
    const { registry, problems } = await loadPluginsChecked(
      ['./acme-future', './acme-one', './acme-two', './acme-rest', 'acme-not-installed', './empty.js'],
      dir,
    );
    const lines = problems.map((p) => `${p.path}: ${p.message}`);
    assert.equal(lines.length, 5, lines.join('\n'));
    assert.match(
      lines[0],
      /^plugins\.0: plugin input:future_thing from acme-future@3\.0\.0 \(\.\/acme-future\) needs plugin API \^2\.0\.0, but this tsstore provides 1\.3\.0$/,
    );
    assert.match(
      lines[1],
      /^plugins\.2: plugin input:fixture_post from acme-two@2\.0\.0 \(\.\/acme-two\) is already registered by acme-one@1\.0\.0 \(\.\/acme-one\)$/,
    );
    assert.match(lines[2], /^plugins\.3: plugin input:rest from acme-rest@0\.0\.1 \(\.\/acme-rest\) is already registered by tsstore@/);
    assert.match(lines[3], /^plugins\.4: cannot find plugin package "acme-not-installed"/);
    assert.match(lines[4], /^plugins\.5: plugin package "\.\/empty\.js" exports no plugin descriptors/);
    assert.equal(registry.get('input', 'fixture_post') !== undefined, true, 'the first of two duplicates stays');
    assert.equal(registry.get('input', 'future_thing'), undefined);
  });

  it('outside plugin packages import only the public entry points, never tsstore internals or the DI container', () => {
    const contrib = path.resolve(__dirname, '../../plugins/contrib');
    const offenders: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) {
          if (e.name !== 'node_modules' && e.name !== 'dist') walk(p);
          continue;
        }
        if (!e.name.endsWith('.ts')) continue;
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/from '([^']+)'/g)) {
          const spec = m[1];
          if (spec.startsWith('.') ? spec.includes('../../') : spec.startsWith('tsstore') && !/^tsstore(\/plugin|\/testing)?$/.test(spec))
            offenders.push(`${p}: ${spec}`);
          if (/tsyringe|\/di(\.js)?$/.test(spec)) offenders.push(`${p}: ${spec}`);
        }
      }
    };
    walk(contrib);
    assert.ok(fs.existsSync(path.join(contrib, 'mqtt', 'src', 'index.ts')));
    assert.deepEqual(offenders, []);
  });
});
