/**
 * The data-path lock is held by the process itself (a listening socket the kernel closes when it
 * dies): a killed server never blocks the next start, whatever PID its lock file names.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DataLock, lockPath, readLiveOwner } from '../src/stores/data-lock.js';
import { api, ADMIN_KEY, runCli, spawnServer, tempDir } from './support/server.js';

const dirs: string[] = [];
const dir = (): string => {
  const d = tempDir('tsstore-lock-');
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('data-path lock', () => {
  it('is exclusive while held, also within one process, and free once released', async () => {
    const d = dir();
    const lock = await DataLock.acquire(d, 'server');
    lock.advertise('http://127.0.0.1:1');
    await assert.rejects(
      DataLock.acquire(d, 'create'),
      (err: Error & { code?: string }) =>
        err.code === 'TSS_ERR_STORE_LOCKED' && err.message.includes(`pid ${process.pid}`) && err.message.includes('http://127.0.0.1:1'),
    );
    const owner = await readLiveOwner(d);
    assert.equal(owner?.pid, process.pid);
    assert.equal(owner?.url, 'http://127.0.0.1:1');
    lock.release();
    assert.equal(fs.existsSync(lockPath(d)), false, 'the owner description goes with the lock');
    assert.equal(await readLiveOwner(d), undefined);
    (await DataLock.acquire(d, 'create')).release();
  });

  it('ignores a lock file naming a live PID that holds no lock (recycled PID, zombie)', async () => {
    const d = dir();
    // A process that is alive — as a recycled PID or the zombie of a killed server would be.
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(
        lockPath(d),
        JSON.stringify({ pid: live.pid, hostname: 'somewhere-else', started_at: new Date().toISOString(), role: 'server', url: 'http://127.0.0.1:9' }) + '\n',
      );
      assert.equal(await readLiveOwner(d), undefined, 'not owned: nobody holds the socket');
      const lock = await DataLock.acquire(d, 'server');
      assert.equal(JSON.parse(fs.readFileSync(lockPath(d), 'utf8')).pid, process.pid);
      lock.release();
    } finally {
      live.kill('SIGKILL');
    }
  });

  it('after kill -9 the server always starts again, even when its PID is reused', async () => {
    const d = dir();
    const env = { TSSTORE_DATA_PATH: d };
    const first = await spawnServer([], env);
    try {
      const second = await runCli(['serve', '--port', '0', '--host', '127.0.0.1', '--no-socket'], {
        env: { ...env, TSSTORE_ADMIN_KEY: ADMIN_KEY },
        timeoutMs: 90_000,
      });
      assert.notEqual(second.code, 0, 'a second server on the same data path is refused');
      assert.match(second.stderr + second.stdout, /in use by a running tsstore server \(pid \d+/);
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
    }
    for (let round = 0; round < 3; round++) {
      // The killed server's lock file stays behind; make its PID a live one (PID reuse).
      const stale = JSON.parse(fs.readFileSync(lockPath(d), 'utf8')) as { pid: number };
      assert.ok(stale.pid > 0);
      fs.writeFileSync(lockPath(d), JSON.stringify({ ...stale, pid: process.pid }) + '\n');
      const again = await spawnServer([], env);
      try {
        const ready = await api(again.url, 'GET', '/ready');
        assert.equal(ready.status, 200);
        assert.equal((await readLiveOwner(d))?.url, again.url, 'CLI commands find the new server');
      } finally {
        again.child.kill('SIGKILL');
        await again.exited;
      }
    }
    assert.equal(await readLiveOwner(d), undefined);
    assert.ok(fs.readdirSync(d).every((f) => !f.endsWith('.sock') && !path.basename(f).endsWith('.tmp')));
  });
});
