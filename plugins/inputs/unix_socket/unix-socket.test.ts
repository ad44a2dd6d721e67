import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LineClient, sleep } from '../../../test/support/clients.js';
import { api, startServer, tempDir, type TestServer } from '../../../test/support/server.js';

const pipelines = (local: Record<string, unknown> = {}) => ({
  main: {
    inputs: { api: { type: 'rest' }, local: { type: 'unix_socket', max_line: 1024, auth_timeout_ms: 2000, ...local } },
    stages: [{ type: 'validate' }],
    sink: { type: 'blockfile' },
  },
});

async function stored(s: TestServer, key: string, ts: bigint): Promise<string> {
  const res = await api(s.url, 'GET', `/api/stores/sensors/data/time/${ts}`, undefined, { 'X-API-Key': key });
  assert.equal(res.status, 200, res.text);
  return /"data":(.*)\}$/.exec(res.text)![1];
}

describe('unix_socket input', () => {
  let s: TestServer;
  let key: string;
  let sock: string;

  before(async () => {
    sock = path.join(tempDir('tss-sock-'), 'run', 'tsstore.sock');
    s = await startServer({ socketPath: sock, pipelines: pipelines() });
    key = await s.createStore('sensors', { num_blocks: 4096 });
  });
  after(() => s.stop());

  it('creates its directory and the socket with mode 0660', () => {
    const st = fs.statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
  });

  it('speaks AUTH / OK / ERROR / QUIT and stores each line byte for byte', async () => {
    const c = await LineClient.connect(sock);
    c.send(`AUTH sensors ${key}\n`);
    assert.deepEqual(await c.take(1), ['OK']);
    c.send('{"temp": 22.5,  "humidity": 45.2}\n\n   \n{"temp": 22.6}\r\n{oops\nQUIT\n');
    const [a, b, err, bye] = await c.take(4);
    assert.match(a, /^OK \d{19}$/);
    assert.match(b, /^OK \d{19}$/);
    assert.match(err, /^ERROR invalid JSON/);
    assert.equal(bye, 'OK bye');
    await c.closed;
    const ta = BigInt(a.slice(3));
    const tb = BigInt(b.slice(3));
    assert.ok(tb > ta);
    assert.equal(await stored(s, key, ta), '{"temp": 22.5,  "humidity": 45.2}');
    assert.equal(await stored(s, key, tb), '{"temp": 22.6}');
  });

  it('answers pipelined lines in order, errors mid-stream included', async () => {
    const c = await LineClient.auth(sock, 'sensors', key);
    const n = 3000;
    let text = '';
    for (let i = 0; i < n; i++) text += i % 100 === 50 ? `{"i":${i},bad}\n` : `{"i":${i}}\n`;
    c.send(text);
    const replies = await c.take(n);
    let last = 0n;
    const sample: [number, bigint][] = [];
    replies.forEach((r, i) => {
      if (i % 100 === 50) {
        assert.match(r, /^ERROR invalid JSON/, `line ${i}`);
        return;
      }
      assert.match(r, /^OK \d+$/, `line ${i}`);
      const ts = BigInt(r.slice(3));
      assert.ok(ts > last, `timestamps increase at line ${i}`);
      last = ts;
      if (i % 997 === 0) sample.push([i, ts]);
    });
    for (const [i, ts] of sample) assert.equal(await stored(s, key, ts), `{"i":${i}}`);
    c.close();
  });

  it('takes envelopes with client timestamps after AUTH … envelope, refusing old ones in place', async () => {
    const envKey = await s.createStore('envelopes');
    const c = await LineClient.connect(sock);
    c.send(`AUTH envelopes ${envKey} envelope\n`);
    assert.deepEqual(await c.take(1), ['OK']);
    const t0 = 4_000_000_000_000_000_001n; // in the future: "now" is then newest + 1
    c.send(`{"timestamp":${t0},"data":{"a": 1}}\n{"timestamp":${t0},"data":{"a":2}}\n{"data":"no ts"}\n{"data":}\n{"timestamp":${t0 + 10n},"data":[3]}\n`);
    const [a, dup, now, bad, b] = await c.take(5);
    assert.equal(a, `OK ${t0}`);
    assert.match(dup, /^ERROR timestamp must be greater than newest entry/);
    assert.equal(now, `OK ${t0 + 1n}`);
    assert.match(bad, /^ERROR invalid JSON/);
    assert.equal(b, `OK ${t0 + 10n}`);
    c.close();
    const read = await api(s.url, 'GET', '/api/stores/envelopes/data/oldest', undefined, { 'X-API-Key': envKey });
    assert.equal(read.status, 200);
    assert.match(
      read.text,
      new RegExp(
        `^\\{"objects":\\[\\{"timestamp":${t0},"block_num":\\d+,"size":8,"data":\\{"a": 1\\}\\},.*"data":"no ts"\\},.*"data":\\[3\\]\\}\\],"count":3\\}$`,
      ),
    );
  });

  it('refuses bad AUTH lines with ERROR and closes', async () => {
    const cases: [string, RegExp][] = [
      [`AUTH sensors tsstore_00000000-0000-4000-8000-000000000000\n`, /^ERROR invalid API key$/],
      [`AUTH sensors nonsense\n`, /^ERROR invalid API key format$/],
      [`AUTH nosuchstore ${key}\n`, /^ERROR invalid API key$/],
      [`AUTH sensors\n`, /^ERROR authentication failed: expected AUTH <store> <api-key> \[envelope\]$/],
      [`{"temp": 1}\n`, /^ERROR authentication required/],
    ];
    for (const [line, expected] of cases) {
      const c = await LineClient.connect(sock);
      c.send(line);
      const [reply] = await c.take(1);
      assert.match(reply, expected, line);
      await c.closed;
    }
  });

  it('never loses a line split into many packets or trickling in over seconds', async () => {
    const c = await LineClient.auth(sock, 'sensors', key);
    const line = '{"sensor":"trickle","values":[1,2,3],"note":"byte by byte"}\n';
    for (const ch of line) {
      c.send(ch);
      await sleep(4);
    }
    c.send('{"sensor":"sl');
    await sleep(1200);
    c.send('ow","n":2}');
    await sleep(300);
    c.send('\n');
    const [a, b] = await c.take(2);
    assert.match(a, /^OK \d+$/);
    assert.match(b, /^OK \d+$/);
    assert.equal(await stored(s, key, BigInt(a.slice(3))), line.trim());
    assert.equal(await stored(s, key, BigInt(b.slice(3))), '{"sensor":"slow","n":2}');
    c.close();
  });

  it('answers an over-long line with ERROR line too long and carries on', async () => {
    const c = await LineClient.auth(sock, 'sensors', key);
    c.send(`{"big":"${'x'.repeat(5000)}"}\n{"after":1}\n`);
    c.send(`{"big2":"${'y'.repeat(700)}`);
    await sleep(50);
    c.send('y'.repeat(700));
    await sleep(50);
    c.send(`${'y'.repeat(700)}"}\n{"after":2}\n`);
    const replies = await c.take(4);
    assert.match(replies[0], /^ERROR line too long: the limit is 1024 bytes$/);
    assert.match(replies[1], /^OK \d+$/);
    assert.match(replies[2], /^ERROR line too long/);
    assert.match(replies[3], /^OK \d+$/);
    assert.equal(await stored(s, key, BigInt(replies[3].slice(3))), '{"after":2}');
    c.close();
  });

  it('drops clients that never authenticate, slow-loris ones included', async () => {
    const idle = await LineClient.connect(sock);
    const loris = await LineClient.connect(sock);
    const drip = setInterval(() => loris.send('A'), 50);
    try {
      await idle.closed;
      await loris.closed;
    } finally {
      clearInterval(drip);
    }
    assert.match(idle.lines[0], /^ERROR authentication timeout/);
    assert.match(loris.lines[0], /^ERROR authentication timeout/);
  });

  it('serves the Python client of docs/protocol.md unchanged', async () => {
    const script = `
import socket
import json

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect('${sock}')

# Authenticate
sock.send(b'AUTH sensors ${key}\\n')
response = sock.recv(1024)  # OK\\n
print(response)

# Send data
data = {"temp": 22.5, "humidity": 45.2}
sock.send((json.dumps(data) + '\\n').encode())
response = sock.recv(1024)  # OK <timestamp>\\n
print(response)

sock.send(b'QUIT\\n')
sock.close()
`;
    // Asynchronous: the server runs in this process.
    const { stdout: out } = await promisify(execFile)('python3', ['-c', script], { encoding: 'utf8', timeout: 20_000 });
    const [auth, ok] = out.trim().split('\n');
    assert.equal(auth, "b'OK\\n'");
    assert.match(ok, /^b'OK \d{19}\\n'$/);
  });

  it('serves 200 concurrent connections, each pipelining', async () => {
    const before = (await api(s.url, 'GET', '/api/stores/sensors/stats', undefined, { 'X-API-Key': key })).json;
    const clients = await Promise.all(Array.from({ length: 200 }, () => LineClient.auth(sock, 'sensors', key)));
    const perClient = 25;
    clients.forEach((c, k) => {
      let text = '';
      for (let i = 0; i < perClient; i++) text += `{"c":${k},"i":${i}}\n`;
      c.send(text);
    });
    const all = await Promise.all(clients.map((c) => c.take(perClient)));
    const stamps = new Set<string>();
    for (const replies of all) {
      let last = 0n;
      for (const r of replies) {
        assert.match(r, /^OK \d+$/);
        const ts = BigInt(r.slice(3));
        assert.ok(ts > last);
        last = ts;
        stamps.add(r);
      }
    }
    assert.equal(stamps.size, 200 * perClient);
    for (const c of clients) c.close();
    const after = (await api(s.url, 'GET', '/api/stores/sensors/stats', undefined, { 'X-API-Key': key })).json;
    assert.equal(Number(after.records) - Number(before.records), 200 * perClient);
  });

  it('refuses to take over the live socket of another server', async () => {
    await assert.rejects(startServer({ socketPath: sock, pipelines: pipelines() }), (err: Error) => {
      assert.match(err.message, /another server is listening on the Unix socket/);
      assert.ok(err.message.includes(sock));
      return true;
    });
    const c = await LineClient.auth(sock, 'sensors', key);
    c.send('{"still":"served"}\n');
    assert.match((await c.take(1))[0], /^OK \d+$/);
    c.close();
  });
});

describe('unix_socket input lifecycle', () => {
  it('replaces a stale socket file and removes its own at stop', async () => {
    const dir = tempDir('tss-stale-');
    const sock = path.join(dir, 'stale.sock');
    execFileSync('python3', ['-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind('${sock}')`]);
    assert.ok(fs.statSync(sock).isSocket());
    const s = await startServer({ socketPath: sock, pipelines: pipelines() });
    try {
      const key = await s.createStore('sensors');
      const c = await LineClient.auth(sock, 'sensors', key);
      c.send('{"fresh":true}\n');
      assert.match((await c.take(1))[0], /^OK \d+$/);
      c.close();
    } finally {
      await s.stop();
    }
    assert.equal(fs.existsSync(sock), false);
  });

  it('refuses a path that is not a socket', async () => {
    const dir = tempDir('tss-notsock-');
    const file = path.join(dir, 'plain-file');
    fs.writeFileSync(file, 'keep me');
    await assert.rejects(startServer({ socketPath: file, pipelines: pipelines() }), /exists and is not a Unix socket/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'keep me');
  });

  it('stops without hanging on idle, half-sent and unauthenticated clients, answering what it received', async () => {
    const sock = path.join(tempDir('tss-stop-'), 's.sock');
    const s = await startServer({ socketPath: sock, pipelines: pipelines({ auth_timeout_ms: 60_000 }) });
    const key = await s.createStore('sensors');
    const unauth = await LineClient.connect(sock);
    const idle = await LineClient.auth(sock, 'sensors', key);
    const partial = await LineClient.auth(sock, 'sensors', key);
    partial.send('{"done":1}\n{"half":');
    const [ok] = await partial.take(1);
    assert.match(ok, /^OK \d+$/);
    const started = Date.now();
    await s.stop();
    await Promise.all([unauth.closed, idle.closed, partial.closed]);
    assert.ok(Date.now() - started < 4000, 'stop did not wait for the shutdown grace period');
    assert.equal(fs.existsSync(sock), false);
  });
});
