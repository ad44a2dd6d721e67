/**
 * The npm package as a user gets it: `npm pack` of a copy of this checkout (so the `prepack`
 * release build runs, without touching this checkout's dist/), the tarball's contents checked,
 * then `npm install -g` of the tarball into a temporary prefix — offline: the dependencies are
 * bundled in the tarball — next to the example sink plugin package installed the same way. The
 * installed `tsstore` runs `version`, `plugins` and `serve` with the plugin's sample config; the
 * plugin is found next to the global tsstore (the config file's directory has no node_modules).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, it } from 'node:test';
import { ADMIN_KEY, ROOT, api, spawnServer, tempDir, type ChildServer } from './support/server.js';

const run = promisify(execFile);
const dir = tempDir('tss-package-');
let server: ChildServer | undefined;
after(() => {
  server?.child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

const npmEnv = { ...process.env, npm_config_update_notifier: 'false', OCLIF_SKIP_NEW_VERSION_CHECK: 'true' };
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env: npmEnv, maxBuffer: 1 << 26 });

/** The files `npm pack` needs from the checkout (what the release build reads), not dist/. */
function copyCheckout(to: string): void {
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.release.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'oclif.manifest.json']) {
    fs.copyFileSync(path.join(ROOT, f), path.join(to, f));
  }
  for (const d of ['bin', 'config', 'docs', 'scripts', 'src', 'plugins']) {
    fs.cpSync(path.join(ROOT, d), path.join(to, d), { recursive: true, filter: (src) => !src.startsWith(path.join(ROOT, 'plugins', 'contrib')) });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(to, 'node_modules'), 'dir');
}

function walk(d: string): string[] {
  return fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
}

it(
  'npm pack builds a runtime-only tarball that installs globally offline, runs, serves and loads a plugin installed next to it',
  { timeout: 900_000 },
  async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string; engines: { node: string } };

    // 1. npm pack runs the prepack release build.
    const checkout = path.join(dir, 'checkout');
    fs.mkdirSync(checkout);
    copyCheckout(checkout);
    await npm(['pack', '--pack-destination', dir], checkout);
    const tarball = path.join(dir, `tsstore-${pkg.version}.tgz`);
    assert.ok(fs.existsSync(tarball), 'npm pack wrote the tarball');

    // 2. What the tarball holds: the runtime, its bundled dependencies, LICENSE; no tests, benches,
    //    TypeScript sources or source maps.
    const unpacked = path.join(dir, 'unpacked');
    fs.mkdirSync(unpacked);
    await run('tar', ['xzf', tarball, '-C', unpacked]);
    const root = path.join(unpacked, 'package');
    for (const f of [
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'bin/run.js',
      'oclif.manifest.json',
      'config/default.yaml',
      'dist/src/index.js',
      'dist/esm/plugin.mjs',
      'dist/esm/client.mjs',
      'dist/src/client/index.d.ts',
      'dist/plugins/sinks/blockfile/index.js',
      'node_modules/koa/package.json',
    ]) {
      assert.ok(fs.existsSync(path.join(root, f)), `the tarball has ${f}`);
    }
    const own = walk(root)
      .map((f) => path.relative(root, f))
      .filter((f) => !f.startsWith('node_modules/'));
    assert.deepEqual(
      own.filter((f) => /\.test\.|\.map$|\.ts$/.test(f) && !f.endsWith('.d.ts')),
      [],
      'no tests, maps or TypeScript sources',
    );
    assert.deepEqual(
      own.filter((f) => /^(src|test|bench|dist\/test|dist\/bench|scripts|plugins)\//.test(f)),
      [],
      'no sources, tests, benches or build scripts',
    );
    assert.deepEqual(
      own.filter((f) => f.endsWith('.js') && fs.readFileSync(path.join(root, f), 'utf8').includes('sourceMappingURL')),
      [],
      'no source map references',
    );
    const license = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8');
    assert.equal(pkg.license, 'MIT');
    assert.match(license, /^MIT License/);
    assert.match(pkg.engines.node, /^\^20\./, 'engines names the Node major the tests run on');
    assert.equal(process.versions.node.split('.')[0], '20');

    // 3. Global install into a temporary prefix, offline, then a plugin package next to it.
    const prefix = path.join(dir, 'prefix');
    await npm(['install', '-g', '--prefix', prefix, '--offline', tarball], dir);
    const sinkDir = path.join(ROOT, 'plugins', 'contrib', 'jsonl-sink');
    await npm(['pack', '--ignore-scripts', '--pack-destination', dir], sinkDir);
    await npm(['install', '-g', '--prefix', prefix, '--offline', path.join(dir, 'tsstore-sink-jsonl-1.0.0.tgz')], dir);
    const globalModules = path.join(prefix, 'lib', 'node_modules');
    assert.ok(fs.existsSync(path.join(globalModules, 'tsstore-sink-jsonl', 'package.json')));
    assert.ok(!fs.existsSync(path.join(globalModules, 'tsstore-sink-jsonl', 'node_modules', 'tsstore')), 'the plugin gets no tsstore copy of its own');

    // 4. The installed command.
    const bin = path.join(prefix, 'bin', 'tsstore');
    const env = { ...npmEnv, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`, TSSTORE_CONFIG: '' };
    const version = await run(bin, ['version'], { cwd: dir, env });
    assert.match(version.stdout, new RegExp(`^tsstore ${pkg.version.replace(/\./g, '\\.')} \\(plugin API`));

    // The plugin's sample config in a directory with no node_modules: the package is found next to
    // the global tsstore.
    const etc = path.join(dir, 'etc');
    fs.mkdirSync(etc);
    const config = path.join(etc, 'tsstore.config.yaml');
    fs.copyFileSync(path.join(sinkDir, 'sample.yaml'), config);
    const plugins = await run(bin, ['plugins', '--config', config], { cwd: etc, env });
    assert.match(plugins.stdout, /^sink\s+jsonl\s+tsstore-sink-jsonl\s+1\.0\.0\s+tsstore-sink-jsonl$/m);
    assert.doesNotMatch(plugins.stderr, /copies of tsstore/);

    const data = path.join(dir, 'data');
    server = await spawnServer(['--config', config, '--no-socket'], { TSSTORE_DATA_PATH: data, PATH: env.PATH }, etc, bin);
    const health = await api(server.url, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok' });
    const created = await api(server.url, 'POST', '/api/stores', { name: 'pkg' }, { 'X-Admin-Key': ADMIN_KEY });
    assert.equal(created.status, 201, created.text);
    const inserted = await api(server.url, 'POST', '/api/stores/pkg/data', '{"timestamp": 1704067200000000001, "data": {"ok": true}}', {
      'X-API-Key': created.json.api_key as string,
      'Content-Type': 'application/json',
    });
    assert.equal(inserted.status, 201, inserted.text);
    assert.match(fs.readFileSync(path.join(data, 'pkg', 'records.jsonl'), 'utf8'), /"t":"1704067200000000001"/);

    // The client library from the installed package, as CommonJS and as an ES module, against the
    // running server (this config has the REST input only): a project whose node_modules/tsstore is
    // the installed package.
    const app = path.join(dir, 'app');
    fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    fs.symlinkSync(path.join(globalModules, 'tsstore'), path.join(app, 'node_modules', 'tsstore'), 'dir');
    fs.writeFileSync(
      path.join(app, 'use.cjs'),
      [
        "const { TsstoreClient, WebSocketWriter, UnixSocketWriter } = require('tsstore/client');",
        '(async () => {',
        "  if (typeof WebSocketWriter.open !== 'function' || typeof UnixSocketWriter.open !== 'function') throw new Error('writers missing');",
        '  const c = new TsstoreClient({ url: process.argv[2], apiKey: process.argv[3] });',
        "  const [r] = await c.insertBatch('pkg', [{ timestamp: 1704067200000000002n, data: { from: 'cjs' } }]);",
        '  c.close();',
        '  console.log(String(r.timestamp));',
        '})().catch((e) => { console.error(e); process.exit(1); });',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(app, 'use.mjs'),
      [
        "import { TsstoreClient } from 'tsstore/client';",
        'const c = new TsstoreClient({ url: process.argv[2], apiKey: process.argv[3] });',
        "const ack = await c.insert('pkg', { timestamp: 1704067200000000003n, data: { from: 'esm' } });",
        'c.close();',
        'console.log(String(ack.timestamp));',
      ].join('\n'),
    );
    const key = created.json.api_key as string;
    assert.equal((await run(process.execPath, ['use.cjs', server.url, key], { cwd: app, env })).stdout.trim(), '1704067200000000002');
    assert.equal((await run(process.execPath, ['use.mjs', server.url, key], { cwd: app, env })).stdout.trim(), '1704067200000000003');
    assert.match(fs.readFileSync(path.join(data, 'pkg', 'records.jsonl'), 'utf8'), /"t":"1704067200000000003"/);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    server = undefined;
  },
);
