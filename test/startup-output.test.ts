/**
 * Logs and startup output for a person: `--log-format pretty` (and `auto` on a TTY) gives one
 * readable line per event with secrets still redacted; on a terminal `serve` says where it
 * listens, where the data is, what each pipeline runs and where the metrics are. The terminal is
 * a real pseudo-terminal (`script` from util-linux).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../src/core/logger.js';
import { prettyLine } from '../src/core/pretty-log.js';
import { until } from './support/clients.js';
import { ADMIN_KEY, BIN, api, tempDir } from './support/server.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function dir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => fs.existsSync(p));
const PRETTY = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/;

function collect(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return () => out;
}
const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });

describe('readable logs', () => {
  it('pretty lines: time, level, message, fields; secrets redacted; big integers exact', () => {
    const d = dir('tss-pretty-');
    const file = path.join(d, 'log');
    const fd = fs.openSync(file, 'w');
    const logger = createLogger('info', fd, 'pretty');
    logger.info(
      { store: 'sensors', api_key: 'tsstore_secret-1', headers: { Authorization: 'Bearer secret-2' }, conn: { token: 'secret-3', url: 'ws://x' } },
      'Store created.',
    );
    logger.warn({ input: 'api', code: 'TSS_ERR_INVALID_JSON', note: 'two words' }, 'Record rejected.');
    logger.debug({}, 'not at info');
    fs.closeSync(fd);
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0], PRETTY);
    assert.match(
      lines[0],
      / INFO {2}Store created\. store=sensors api_key=\[redacted\] headers=\[redacted\] conn=\{"token":"\[redacted\]","url":"ws:\/\/x"\}$/,
    );
    assert.match(lines[1], / WARN {2}Record rejected\. input=api code=TSS_ERR_INVALID_JSON note="two words"$/);
    assert.doesNotMatch(lines.join('\n'), /secret-|\x1b\[/, 'no secret, no colour off a terminal');
    assert.match(
      prettyLine('{"level":30,"time":"2026-01-01T00:00:00.000Z","pid":1,"msg":"m","ts":1704067200000000001}', false),
      /^2026-01-01 00:00:00\.000Z INFO {2}m ts=1704067200000000001\n$/,
    );
  });

  it('serve --log-format pretty off a terminal: readable lines, no JSON, no key', async () => {
    const data = dir('tss-pretty-data-');
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--no-socket', '--log-format', 'pretty', '--path', data], {
      env: { ...process.env, TSSTORE_ADMIN_KEY: ADMIN_KEY, TSSTORE_CONFIG: '', OCLIF_SKIP_NEW_VERSION_CHECK: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const output = collect(child);
    await until(() => /tsstore is serving\. url=http/.test(output()), 60_000, `serving:\n${output()}`);
    const url = /tsstore is serving\. url=(\S+)/.exec(output())![1];
    assert.equal((await api(url, 'POST', `/api/stores?admin_key=${ADMIN_KEY}`, { name: 'p' })).status, 201);
    assert.equal((await api(url, 'GET', '/api/stores', undefined, { 'X-Admin-Key': `${ADMIN_KEY}-wrong` })).status, 401);
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, output());
    const lines = output().trimEnd().split('\n');
    for (const l of lines) assert.match(l, PRETTY, `not a pretty line: ${l}`);
    assert.ok(
      lines.some((l) => / INFO {2}Stopped\./.test(l)),
      output(),
    );
    assert.equal(output().includes(ADMIN_KEY), false, 'the admin key appears in the log');
    assert.equal(output().includes('tsstore is serving\n'), false, 'no startup summary off a terminal');
  });

  it(
    'on a terminal, serve prints where it listens, the data path, the pipelines and /metrics, then pretty logs',
    { skip: SCRIPT ? false : 'SKIPPED: `script` (util-linux) is not installed: no pseudo-terminal' },
    async () => {
      const d = dir('tss-tty-');
      const data = path.join(d, 'data');
      const socket = path.join(d, 'tsstore.sock');
      const command = [process.execPath, BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--socket', socket, '--path', data].map((a) => `'${a}'`).join(' ');
      const child = spawn(SCRIPT!, ['-qfec', command, '/dev/null'], {
        env: { ...process.env, TSSTORE_ADMIN_KEY: ADMIN_KEY, TSSTORE_CONFIG: '', OCLIF_SKIP_NEW_VERSION_CHECK: 'true', NO_COLOR: '1' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      children.push(child);
      const output = collect(child);
      await until(() => output().includes('Ctrl-C stops the server'), 60_000, `startup summary:\n${output()}`);
      const text = output().replace(/\r/g, '');
      assert.match(text, /^tsstore \d+\.\d+\.\d+ is serving$/m);
      assert.match(text, /^ {2}http {6}http:\/\/127\.0\.0\.1:\d+$/m);
      assert.match(text, new RegExp(`^ {2}socket {4}${socket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      assert.match(text, new RegExp(`^ {2}data {6}${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} {2}\\(0 stores\\)$`, 'm'));
      assert.match(
        text,
        /^ {2}pipeline {2}main: api \(rest\), stream \(websocket\), local \(unix_socket\), edge \(ws_pull\) → validate → schema_format → blockfile; outputs live \(ws_read\), push \(ws_push\), mqtt \(mqtt_publish\)$/m,
      );
      assert.match(text, /^ {2}metrics {3}http:\/\/127\.0\.0\.1:\d+\/metrics /m);
      assert.ok(
        text.split('\n').some((l) => PRETTY.test(l) && l.includes('tsstore is serving.')),
        `pretty logs on a TTY:\n${text}`,
      );
      assert.doesNotMatch(text, /^\{"level"/m, 'no JSON lines on a terminal');
      const owner = JSON.parse(fs.readFileSync(path.join(data, 'tsstore.lock'), 'utf8')) as { pid: number };
      process.kill(owner.pid, 'SIGTERM');
      assert.equal(await exited(child), 0, output());
    },
  );
});
