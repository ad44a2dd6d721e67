/**
 * Depending on tsstore from an outside package, as docs/plugins.md tells it: tsstore is packed
 * into a tarball (`npm pack`), the example sink package declares tsstore as a peer dependency,
 * and an application installs both tarballs with npm. The installed CLI then loads the plugin
 * by its npm name, with one copy of tsstore.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, it } from 'node:test';
import { ROOT, tempDir } from './support/server.js';

const run = promisify(execFile);
const dir = tempDir('tss-outside-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

it('an application installs tsstore and a plugin from tarballs; the CLI loads the plugin by name', { timeout: 600_000 }, async () => {
  const npm = (args: string[], cwd: string) =>
    run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd,
      env: { ...process.env, npm_config_update_notifier: 'false' },
      maxBuffer: 1 << 24,
    });
  const sinkDir = path.join(ROOT, 'plugins', 'contrib', 'jsonl-sink');
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(sinkDir, 'package.json'), 'utf8')).peerDependencies, { tsstore: '>=0.1.0 <1.0.0' });
  await npm(['pack', '--ignore-scripts', '--pack-destination', dir, '--silent'], ROOT);
  await npm(['pack', '--pack-destination', dir, '--silent'], sinkDir);
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({
      name: 'app',
      version: '1.0.0',
      private: true,
      dependencies: { tsstore: 'file:../tsstore-0.1.0.tgz', 'tsstore-sink-jsonl': 'file:../tsstore-sink-jsonl-1.0.0.tgz' },
    }),
  );
  await npm(['install', '--prefer-offline', '--ignore-scripts', '--omit=dev'], app);
  assert.ok(
    !fs.existsSync(path.join(app, 'node_modules', 'tsstore-sink-jsonl', 'node_modules', 'tsstore')),
    "the plugin uses the application's tsstore: one copy",
  );
  fs.copyFileSync(path.join(sinkDir, 'sample.yaml'), path.join(app, 'tsstore.config.yaml'));
  const cli = (args: string[]) =>
    run(process.execPath, [path.join(app, 'node_modules', 'tsstore', 'bin', 'run.js'), ...args], { cwd: app, env: { ...process.env, TSSTORE_CONFIG: '' } });
  assert.equal((await cli(['config', 'validate'])).stdout.trim(), 'ok');
  const { stdout, stderr } = await cli(['plugins']);
  assert.match(stdout, /^sink\s+jsonl\s+tsstore-sink-jsonl\s+1\.0\.0\s+tsstore-sink-jsonl$/m);
  assert.doesNotMatch(stderr, /copies of tsstore/);
});
