/**
 * The streaming inputs in the real `tsstore serve` process: where the Unix socket comes from,
 * and what survives kill -9 and SIGTERM in the middle of a pipelined flood (blockfile sink).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LineClient, until, WsClient } from './support/clients.js';
import { ADMIN_KEY, api, spawnServer, tempDir, writeConfig, type ChildServer } from './support/server.js';

async function createStore(url: string, name: string, options: Record<string, unknown> = {}): Promise<string> {
  const res = await api(url, 'POST', '/api/stores', { name, ...options }, { 'X-Admin-Key': ADMIN_KEY });
  assert.equal(res.status, 201, res.text);
  return res.json.api_key as string;
}

async function authAndWrite(sock: string, store: string, key: string): Promise<void> {
  const c = await LineClient.auth(sock, store, key);
  c.send('{"hello":"socket"}\nQUIT\n');
  const [ok, bye] = await c.take(2);
  assert.match(ok, /^OK \d+$/);
  assert.equal(bye, 'OK bye');
}

async function stopChild(s: ChildServer): Promise<number | null> {
  s.child.kill('SIGTERM');
  return s.exited;
}

describe('serve: Unix socket path sources', () => {
  it('takes TSSTORE_SOCKET_PATH, then server.socket_path from the config, --socket over both; --no-socket disables it', async () => {
    const dir = tempDir('tss-sockcfg-');
    const envSock = path.join(dir, 'env', 'env.sock');
    const cfgSock = path.join(dir, 'cfg', 'cfg.sock');
    const flagSock = path.join(dir, 'flag.sock');
    const cfg = writeConfig(dir, { server: { socket_path: cfgSock } });

    let s = await spawnServer([], { TSSTORE_DATA_PATH: path.join(dir, 'd1'), TSSTORE_SOCKET_PATH: envSock });
    try {
      await authAndWrite(envSock, 'a', await createStore(s.url, 'a'));
      assert.equal(fs.statSync(envSock).mode & 0o777, 0o660);
    } finally {
      assert.equal(await stopChild(s), 0);
    }
    assert.equal(fs.existsSync(envSock), false, 'the socket file is removed at shutdown');

    s = await spawnServer([], { TSSTORE_DATA_PATH: path.join(dir, 'd2'), TSSTORE_SOCKET_PATH: undefined, TSSTORE_CONFIG: cfg });
    try {
      await authAndWrite(cfgSock, 'b', await createStore(s.url, 'b'));
    } finally {
      assert.equal(await stopChild(s), 0);
    }

    s = await spawnServer(['--socket', flagSock], { TSSTORE_DATA_PATH: path.join(dir, 'd3'), TSSTORE_SOCKET_PATH: envSock, TSSTORE_CONFIG: cfg });
    try {
      await authAndWrite(flagSock, 'c', await createStore(s.url, 'c'));
      assert.equal(fs.existsSync(envSock), false);
      assert.equal(fs.existsSync(cfgSock), false);
    } finally {
      assert.equal(await stopChild(s), 0);
    }

    s = await spawnServer(['--no-socket'], { TSSTORE_DATA_PATH: path.join(dir, 'd4'), TSSTORE_SOCKET_PATH: envSock, TSSTORE_CONFIG: cfg });
    try {
      assert.equal(fs.existsSync(envSock), false);
      assert.equal(fs.existsSync(cfgSock), false);
      assert.doesNotMatch(s.output(), /Unix socket listening/);
    } finally {
      assert.equal(await stopChild(s), 0);
    }
  });

  it('refuses to start on the live socket of another server, naming the path', async () => {
    const dir = tempDir('tss-sockbusy-');
    const sock = path.join(dir, 'busy.sock');
    const first = await spawnServer(['--socket', sock], { TSSTORE_DATA_PATH: path.join(dir, 'd1') });
    try {
      await assert.rejects(spawnServer(['--socket', sock], { TSSTORE_DATA_PATH: path.join(dir, 'd2') }), (err: Error) => {
        assert.match(err.message, /exited with [1-9]/);
        assert.ok(err.message.replace(/\s+/g, ' ').includes(`another server is listening on the Unix socket ${sock}`), err.message);
        return true;
      });
      await authAndWrite(sock, 'still', await createStore(first.url, 'still'));
    } finally {
      assert.equal(await stopChild(first), 0);
    }
  });
});

interface Flood {
  readonly acked: string[];
  errors: string[];
  done: Promise<void>;
}

/** A Unix-socket client that keeps up to 2000 lines in flight until told to stop or cut off. */
function floodSocket(sock: string, store: string, key: string, tag: string, stop: { now: boolean }): Flood {
  const f: Flood = { acked: [], errors: [], done: Promise.resolve() };
  f.done = (async () => {
    const c = await LineClient.auth(sock, store, key);
    let sent = 0;
    const collect = (): void => {
      for (const l of c.lines.splice(0)) {
        if (l.startsWith('OK ')) f.acked.push(l.slice(3));
        else f.errors.push(l);
      }
    };
    while (!c.ended && !stop.now) {
      let chunk = '';
      for (let i = 0; i < 200; i++) chunk += `{"${tag}":${sent + i}}\n`;
      sent += 200;
      c.send(chunk);
      while (!c.ended && sent - f.acked.length - f.errors.length > 2000) {
        await c.next();
        collect();
      }
      collect();
    }
    // Stopped: collect the answers still owed, then hang up.
    while (!c.ended && sent - f.acked.length - f.errors.length > 0) {
      await c.next();
      collect();
    }
    c.close();
    await c.closed;
    collect();
  })();
  return f;
}

/** A WebSocket client that keeps up to 512 messages in flight until told to stop or cut off. */
function floodWs(url: string, tag: string, stop: { now: boolean }): Flood {
  const f: Flood = { acked: [], errors: [], done: Promise.resolve() };
  f.done = (async () => {
    const c = await WsClient.open(url);
    let sent = 0;
    const collect = (): void => {
      for (const fr of c.frames.splice(0)) {
        const m = /^\{"type":"ack","timestamp":(\d+)/.exec(fr);
        if (m) f.acked.push(m[1]);
        else f.errors.push(fr);
      }
    };
    while (c.closeCode === undefined && !stop.now) {
      for (let i = 0; i < 64; i++) c.send(`{"data":{"${tag}":${sent + i}}}`);
      sent += 64;
      while (c.closeCode === undefined && sent - f.acked.length - f.errors.length > 512) {
        await c.next();
        collect();
      }
      collect();
    }
    while (c.closeCode === undefined && sent - f.acked.length - f.errors.length > 0) {
      await c.next();
      collect();
    }
    c.close();
    await c.closed;
    collect();
  })();
  return f;
}

/** Every timestamp stored in `store`, paging with the `after` cursor. */
async function storedTimestamps(url: string, store: string, key: string): Promise<Set<string>> {
  const out = new Set<string>();
  let after = '0';
  for (;;) {
    const res = await api(url, 'GET', `/api/stores/${store}/data/range?after=${after}&limit=10000&include_data=false`, undefined, { 'X-API-Key': key });
    assert.equal(res.status, 200, res.text);
    const stamps = [...res.text.matchAll(/"timestamp":(\d+)/g)].map((m) => m[1]);
    for (const t of stamps) out.add(t);
    if (stamps.length < 10000) return out;
    after = stamps[stamps.length - 1];
  }
}

async function floodThen(action: (s: ChildServer) => Promise<void>, expectExit: number | null): Promise<void> {
  const dir = tempDir('tss-flood-');
  const sock = path.join(dir, 'flood.sock');
  const env = { TSSTORE_DATA_PATH: path.join(dir, 'data') };
  const s = await spawnServer(['--socket', sock], env);
  const key = await createStore(s.url, 'flood', { num_blocks: 16384 });
  const stop = { now: false };
  const wsUrl = `${s.url.replace(/^http/, 'ws')}/api/stores/flood/ws/write?api_key=${key}`;
  const floods = [
    floodSocket(sock, 'flood', key, 'u1', stop),
    floodSocket(sock, 'flood', key, 'u2', stop),
    floodWs(wsUrl, 'w1', stop),
    floodWs(wsUrl, 'w2', stop),
  ];
  const total = (): number => floods.reduce((n, f) => n + f.acked.length, 0);
  await until(() => total() >= 20_000, 20_000, 'the floods to get 20,000 acknowledgements').catch(() => undefined); // a slow box: judged below
  assert.ok(total() > 1000, `the flood got going (${total()} acks)`);
  await action(s);
  const code = await s.exited;
  stop.now = true;
  await Promise.all(floods.map((f) => f.done));
  if (expectExit !== null) assert.equal(code, expectExit, s.output().slice(-2000));
  for (const f of floods) assert.deepEqual(f.errors, []);

  const again = await spawnServer(['--socket', sock], env);
  try {
    const stored = await storedTimestamps(again.url, 'flood', key);
    const acked = floods.flatMap((f) => f.acked);
    assert.ok(acked.length > 1000);
    const missing = acked.filter((t) => !stored.has(t));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${acked.length} acknowledged records missing after restart`);
    assert.equal(new Set(acked).size, acked.length, 'every ack names its own timestamp');
  } finally {
    again.child.kill('SIGTERM');
    await again.exited;
  }
}

describe('serve: crash and shutdown during a pipelined flood (Unix socket + WebSocket)', () => {
  it('kill -9: every acknowledged record is there after restart', async () => {
    await floodThen(async (s) => {
      s.child.kill('SIGKILL');
    }, null);
  });

  it('SIGTERM: finishes and acknowledges what it received, loses nothing acknowledged, exits 0', async () => {
    await floodThen(async (s) => {
      s.child.kill('SIGTERM');
    }, 0);
  });
});
