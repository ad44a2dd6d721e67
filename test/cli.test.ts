import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ADMIN_KEY, ROOT, api, runCli, spawnServer, tempDir } from './support/server.js';

interface ManifestCommand {
  flags: Record<string, unknown>;
  args: Record<string, unknown>;
}

function commandFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return commandFiles(path.join(dir, e.name), `${prefix}${e.name}:`);
    return e.name.endsWith('.js') ? [`${prefix}${e.name.slice(0, -3)}`] : [];
  });
}

describe('the tsstore CLI', () => {
  it('oclif.manifest.json is in sync with the compiled commands (run `npm run build` if this fails)', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, ManifestCommand> };
    const dir = path.join(ROOT, 'dist', 'src', 'commands');
    const ids = commandFiles(dir).sort();
    assert.deepEqual(Object.keys(manifest.commands).sort(), ids, 'command list differs from the manifest');
    for (const id of ids) {
      const mod = require(path.join(dir, ...id.split(':')) + '.js') as { default: { flags?: object; baseFlags?: object; args?: object } }; // eslint-disable-line @typescript-eslint/no-require-imports
      const flags = Object.keys({ ...mod.default.baseFlags, ...mod.default.flags }).sort();
      assert.deepEqual(Object.keys(manifest.commands[id].flags).sort(), flags, `flags of ${id} differ from the manifest`);
      assert.deepEqual(Object.keys(manifest.commands[id].args).sort(), Object.keys(mod.default.args ?? {}).sort(), `args of ${id} differ from the manifest`);
    }
  });

  it('--help describes every command and its flags', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0, top.stderr);
    for (const c of ['serve', 'create', 'stores', 'stats', 'key', 'version']) assert.match(top.stdout, new RegExp(`\\b${c}\\b`));
    const serve = await runCli(['serve', '--help']);
    for (const f of ['--socket', '--no-socket', '--config', '--port']) assert.ok(serve.stdout.includes(f), `serve --help lacks ${f}`);
    const create = await runCli(['create', '--help']);
    for (const f of ['--blocks', '--data-size', '--index-size', '--type', '--path']) assert.ok(create.stdout.includes(f), `create --help lacks ${f}`);
    const key = await runCli(['key', '--help']);
    for (const c of ['list', 'revoke', 'regenerate']) assert.match(key.stdout, new RegExp(`key ${c}`));
    const v = await runCli(['version']);
    assert.match(v.stdout, /^tsstore \d+\.\d+\.\d+ \(plugin API/);
  });

  it('serve refuses to start without an admin key of at least 20 characters', async () => {
    const data = tempDir();
    for (const key of [undefined, 'short-key']) {
      const r = await runCli(['serve', '--no-socket', '--port', '0'], { env: { TSSTORE_ADMIN_KEY: key, TSSTORE_DATA_PATH: data } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /admin key of at least 20 characters is required/);
    }
  });

  it('serve refuses a bad config listing every problem', async () => {
    const d = tempDir();
    fs.writeFileSync(path.join(d, 'tsstore.config.yaml'), 'server:\n  port: -1\nstore:\n  data_block_size: "big"\n');
    const r = await runCli(['serve'], { cwd: d, env: { TSSTORE_ADMIN_KEY: ADMIN_KEY } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /server\.port/);
    assert.match(r.stderr, /store\.data_block_size/);
  });

  it('create / stores / stats / key list|revoke|regenerate work on a data path with no server', async () => {
    const data = tempDir();
    const env = { TSSTORE_DATA_PATH: data };
    const created = await runCli(['create', 'sensors'], { env });
    assert.equal(created.code, 0, created.stderr);
    const key = /API key: (tsstore_\S+)/.exec(created.stdout)?.[1];
    assert.ok(key, created.stdout);
    assert.match(created.stdout, /cannot be shown again/);
    const dup = await runCli(['create', 'sensors'], { env });
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /store already exists/);
    const bad = await runCli(['create', '../etc'], { env });
    assert.match(bad.stderr, /invalid store name/);
    const size = await runCli(['create', 'x', '--data-size', '100'], { env });
    assert.match(size.stderr, /data_block_size: must be a power of two/);
    const typed = await runCli(['create', 'logs', '--type', 'text', '--blocks', '64', '--json'], { env });
    assert.equal(JSON.parse(typed.stdout).name, 'logs');
    assert.deepEqual((await runCli(['stores'], { env })).stdout.trim().split('\n'), ['logs', 'sensors']);
    const stats = await runCli(['stats', 'logs', '--json'], { env });
    assert.equal(JSON.parse(stats.stdout).num_blocks, 64);
    const list = await runCli(['key', 'list', 'sensors'], { env });
    assert.ok(list.stdout.startsWith(key.slice(8, 16)));
    const regen = await runCli(['key', 'regenerate', 'sensors', '--json'], { env });
    const newKey = JSON.parse(regen.stdout) as { api_key: string; key_id: string };
    assert.notEqual(newKey.api_key, key);
    const revoke = await runCli(['key', 'revoke', 'sensors', newKey.key_id], { env });
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal((await runCli(['key', 'list', 'sensors'], { env })).stdout.trim(), 'Store sensors has no keys.');
    assert.match((await runCli(['key', 'revoke', 'sensors', 'abcdef12'], { env })).stderr, /no key with id abcdef12/);
  });

  it('README walk-through: create, serve, insert with curl-style requests, read, restart, read again; CLI key changes reach the running server at once', async () => {
    const data = tempDir();
    const env = { TSSTORE_DATA_PATH: data, TSSTORE_ADMIN_KEY: ADMIN_KEY };
    const created = await runCli(['create', 'sensors'], { env });
    const key = /API key: (tsstore_\S+)/.exec(created.stdout)![1];
    let srv = await spawnServer(['--no-socket'], { TSSTORE_DATA_PATH: data });
    try {
      const h = { 'X-API-Key': key, 'Content-Type': 'application/json' };
      const ins = await api(
        srv.url,
        'POST',
        '/api/stores/sensors/data',
        '{"timestamp": 1704067200000000001, "data": {"temperature": 72.5, "humidity": 45, "sensor": "living-room"}}',
        h,
      );
      assert.equal(ins.status, 201, ins.text);
      // A second process on the same data path is told clearly and goes through the server.
      const again = await runCli(['serve', '--no-socket', '--port', '0'], { env });
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /in use by a running tsstore server \(pid \d+/);
      const other = await runCli(['create', 'second'], { env });
      assert.equal(other.code, 0, other.stderr);
      const k2 = /API key: (tsstore_\S+)/.exec(other.stdout)![1];
      assert.equal(
        (await api(srv.url, 'POST', '/api/stores/second/data', '{"data": 1}', { ...h, 'X-API-Key': k2 })).status,
        201,
        'store created by the CLI is live at once',
      );
      assert.deepEqual((await runCli(['stores'], { env })).stdout.trim().split('\n'), ['second', 'sensors']);
      const regen = JSON.parse((await runCli(['key', 'regenerate', 'second', '--json'], { env })).stdout) as { api_key: string; key_id: string };
      assert.equal((await api(srv.url, 'GET', '/api/stores/second/stats', undefined, { 'X-API-Key': k2 })).status, 401, 'old key refused at once');
      assert.equal((await api(srv.url, 'GET', '/api/stores/second/stats', undefined, { 'X-API-Key': regen.api_key })).status, 200);
      assert.equal((await runCli(['key', 'revoke', 'second', regen.key_id], { env })).code, 0);
      assert.equal(
        (await api(srv.url, 'GET', '/api/stores/second/stats', undefined, { 'X-API-Key': regen.api_key })).status,
        401,
        'revoked key refused at once',
      );
      const stats = await runCli(['stats', 'sensors', '--json'], { env });
      assert.match(stats.stdout, /"newest":1704067200000000001\b/);
      srv.child.kill('SIGTERM');
      assert.equal(await srv.exited, 0);
      srv = await spawnServer(['--no-socket'], { TSSTORE_DATA_PATH: data });
      const back = await api(srv.url, 'GET', '/api/stores/sensors/data/time/1704067200000000001', undefined, { 'X-API-Key': key });
      assert.equal(back.status, 200, back.text);
      assert.match(back.text, /"data":\{"temperature": 72.5, "humidity": 45, "sensor": "living-room"\}/);
      const newest = await api(srv.url, 'GET', '/api/stores/sensors/data/newest?limit=10', undefined, { 'X-API-Key': key });
      assert.equal(newest.json.count, 1);
    } finally {
      srv.child.kill('SIGKILL');
      await srv.exited;
    }
  });
});
