/**
 * `tsstore service print`: the systemd unit runs this tsstore as an unprivileged user with a
 * runtime directory for the socket, a state directory for the data, the admin key from an
 * environment file (never on the command line) and restart on failure — and `systemd-analyze
 * verify` accepts it. Without systemd-analyze (Debian package `systemd`; .ci/run installs it) the
 * verification is skipped, loudly.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { ROOT, runCli, tempDir } from './support/server.js';

const run = promisify(execFile);
const dir = tempDir('tss-service-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function onPath(bin: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(d, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}
const ANALYZE = onPath('systemd-analyze');
const SKIP = ANALYZE ? false : 'SKIPPED: systemd-analyze is not on PATH (Debian: apt-get install systemd) — the unit was NOT verified';
if (SKIP) console.error(`\n${'!'.repeat(78)}\n!!  ${SKIP}\n${'!'.repeat(78)}\n`);

/** `Key=value` lines of one section. */
function section(unit: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const line of unit.split('\n')) {
    const h = /^\[(.+)\]$/.exec(line);
    if (h) {
      current = h[1];
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv && current === name) out.set(kv[1], [...(out.get(kv[1]) ?? []), kv[2]]);
  }
  return out;
}

describe('tsstore service print', () => {
  it('writes a unit for this tsstore: unprivileged user, runtime and state directories, admin key from the environment file, restart on failure', async () => {
    const r = await runCli(['service', 'print']);
    assert.equal(r.code, 0, r.stderr);
    const s = section(r.stdout, 'Service');
    assert.deepEqual(s.get('User'), ['tsstore']);
    assert.deepEqual(s.get('Group'), ['tsstore']);
    assert.deepEqual(s.get('RuntimeDirectory'), ['tsstore']);
    assert.deepEqual(s.get('StateDirectory'), ['tsstore']);
    assert.deepEqual(s.get('EnvironmentFile'), ['/etc/tsstore/tsstore.env']);
    assert.deepEqual(s.get('Restart'), ['on-failure']);
    assert.deepEqual(s.get('NoNewPrivileges'), ['yes']);
    assert.ok(s.get('LimitNOFILE') && s.get('MemoryMax') && s.get('TimeoutStopSec'), 'limits are set');
    const exec = s.get('ExecStart')![0].split(' ');
    assert.equal(exec[0], process.execPath);
    assert.equal(exec[1], fs.realpathSync(path.join(ROOT, 'bin', 'run.js')));
    assert.deepEqual(exec.slice(2), ['serve', '--path', '/var/lib/tsstore', '--socket', '/run/tsstore/tsstore.sock']);
    assert.doesNotMatch(r.stdout, /ADMIN_KEY=[^<]|admin[_-]key\s/i, 'no admin key value in the unit');
    assert.deepEqual(section(r.stdout, 'Install').get('WantedBy'), ['multi-user.target']);
  });

  it('takes the user, group, directory name, environment file and config file; refuses relative and unsafe values', async () => {
    const r = await runCli([
      'service',
      'print',
      '--user',
      'edge',
      '--group',
      'sensors',
      '--name',
      'tss-a',
      '--environment-file',
      '/etc/tss-a.env',
      '--config',
      '/etc/tss-a/config.yaml',
      '--memory-max',
      '256M',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = section(r.stdout, 'Service');
    assert.deepEqual(
      [s.get('User'), s.get('Group'), s.get('RuntimeDirectory'), s.get('StateDirectory'), s.get('EnvironmentFile'), s.get('MemoryMax')],
      [['edge'], ['sensors'], ['tss-a'], ['tss-a'], ['/etc/tss-a.env'], ['256M']],
    );
    assert.match(s.get('ExecStart')![0], / serve --path \/var\/lib\/tss-a --socket \/run\/tss-a\/tsstore\.sock --config \/etc\/tss-a\/config\.yaml$/);
    for (const bad of [
      ['--environment-file', 'rel.env'],
      ['--user', 'a b'],
      ['--name', '../x'],
      ['--memory-max', 'lots'],
    ]) {
      const b = await runCli(['service', 'print', ...bad]);
      assert.equal(b.code, 2, `${bad.join(' ')}: ${b.stdout}`);
    }
  });

  it('systemd-analyze verify accepts the unit', { skip: SKIP }, async () => {
    const r = await runCli(['service', 'print']);
    assert.equal(r.code, 0, r.stderr);
    const file = path.join(dir, 'tsstore.service');
    fs.writeFileSync(file, r.stdout);
    // verify checks the syntax, every key (an unknown one is only a warning: hence the output
    // check), the ExecStart binary and the referenced units; the environment file is read at start.
    const v = await run(ANALYZE!, ['verify', '--man=no', file], { env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' } }).catch(
      (err: { stdout: string; stderr: string; code: number }) => err,
    );
    const output = `${v.stdout}${v.stderr}`;
    assert.equal('code' in v ? v.code : 0, 0, output);
    assert.doesNotMatch(output, /Unknown key|Unknown section|Invalid|Failed|not found|ignoring/i, output);
  });
});
