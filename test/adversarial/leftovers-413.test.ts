/**
 * Adversarial (careless client, full disk): a body over the limit is answered 413 and the client
 * reads it — also when it streams the body chunked and is still sending when the answer leaves —
 * on a connection that stays usable; a wrong Content-Type is the same status on single and batch
 * inserts; a side-file write that fails (ENOSPC, EFBIG) leaves no temp file, and temp files of
 * writes a crash interrupted are removed at start.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { api, ADMIN_KEY, startServer, tempDir, type TestServer } from '../support/server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Answer {
  readonly status?: number;
  readonly body?: string;
  readonly clientError?: string;
}

/** POSTs `size` bytes of envelope with Node's own client (chunked: streamed in 64 KiB writes without a length). */
function postBig(
  agent: http.Agent,
  url: string,
  route: string,
  key: string,
  size: number,
  chunked: boolean,
  contentType = 'application/json',
): Promise<Answer> {
  const payload = Buffer.concat([Buffer.from('{"data":"'), Buffer.alloc(size, 'x'), Buffer.from('"}')]);
  return new Promise((resolve) => {
    let answer: Answer = {};
    const headers: Record<string, string> = { 'X-API-Key': key, 'Content-Type': contentType };
    if (chunked) headers['Transfer-Encoding'] = 'chunked';
    const req = http.request(new URL(route, url), { method: 'POST', headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        answer = { ...answer, status: res.statusCode, body };
        resolve(answer);
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      answer = { ...answer, clientError: err.code ?? err.message };
      resolve(answer);
    });
    if (!chunked) {
      req.end(payload);
      return;
    }
    let at = 0;
    const pump = (): void => {
      while (at < payload.length) {
        const more = req.write(payload.subarray(at, at + 65536));
        at += 65536;
        if (!more) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

describe('adversarial: 413 readable, Content-Type parity, temp-file leftovers', () => {
  let s: TestServer;
  after(async () => {
    await s?.stop();
  });

  it('a client sending 1.5 MiB (with a length, or chunked) reads the 413 and its connection stays usable; REST batch too', async () => {
    s = await startServer({
      pipelines: { main: { inputs: { api: { type: 'rest', batch_body_limit: 256 * 1024 } }, stages: [{ type: 'validate' }], sink: { type: 'memory' } } },
    });
    const key = await s.createStore('big');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const chunked of [false, true]) {
        for (const [route, limit] of [
          ['/api/stores/big/data', 1048576],
          ['/api/stores/big/data/batch', 262144],
        ] as const) {
          const type = route.endsWith('batch') ? 'application/x-ndjson' : 'application/json';
          const a = await postBig(agent, s.url, route, key, 1.5 * 1024 * 1024, chunked, type);
          assert.equal(a.clientError, undefined, `${route} chunked=${chunked}: the client failed: ${a.clientError}`);
          assert.equal(a.status, 413, `${route} chunked=${chunked}`);
          assert.deepEqual(JSON.parse(a.body!), { error: `request body too large: the limit is ${limit} bytes`, code: 'TSS_ERR_BODY_TOO_LARGE' });
          // The same keep-alive connection (maxSockets 1) carries the next request.
          const ok = await postBig(agent, s.url, '/api/stores/big/data', key, 10, chunked);
          assert.equal(ok.status, 201, `${route} chunked=${chunked}: next request: ${JSON.stringify(ok)}`);
        }
      }
    } finally {
      agent.destroy();
    }
  });

  it('a wrong Content-Type answers the same 400 on single and batch inserts', async () => {
    const key = await s.createStore('types');
    for (const ct of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
      const single = await api(s.url, 'POST', '/api/stores/types/data', '{"data":1}', { 'X-API-Key': key, 'Content-Type': ct });
      const batch = await api(s.url, 'POST', '/api/stores/types/data/batch', '{"data":1}\n', { 'X-API-Key': key, 'Content-Type': ct });
      assert.equal(single.status, 400, ct);
      assert.equal(batch.status, single.status, ct);
      assert.equal(batch.json.code, single.json.code, ct);
      assert.equal(single.json.code, 'TSS_ERR_DATA_TYPE_MISMATCH');
    }
  });

  it('a side-file write that fails for lack of space leaves no temp file (kit writeFileAtomic, under a file-size limit)', () => {
    const dir = tempDir('tss-efbig-');
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, 'state.json'), 'old');
    // ulimit -f 0: every write of a byte fails with EFBIG, as a full disk fails with ENOSPC.
    const kit = path.resolve(__dirname, '../../src/plugin/kit/state-file.js');
    const script = `require(${JSON.stringify(kit)}).writeFileAtomic(process.argv[1], 'new contents').then(() => console.log('written'), (e) => console.log('failed', e.code))`;
    const r = spawnSync('bash', ['-c', 'ulimit -f 0 && exec "$0" -e "$1" "$2"', process.execPath, script, path.join(dir, 'state.json')], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.stdout.trim(), 'failed EFBIG', r.stderr);
    assert.deepEqual(fs.readdirSync(dir), ['state.json'], 'no temp file left');
    assert.equal(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'), 'old');
  });

  it(
    'on a full disk (tmpfs, where mounting is allowed) a key regeneration answers 507, leaves no temp file and keeps the old key',
    { skip: canMount() ? false : 'SKIPPED: cannot mount a tmpfs here (needs root); the file-size-limit case above covers the kit' },
    async () => {
      const dataDir = tempDir('tss-enospc-');
      dirs.push(dataDir);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dataDir]);
      let full: TestServer | undefined;
      try {
        full = await startServer({ dataDir, config: { store: { num_blocks: 16, data_block_size: 4096 } } });
        const key = await full.createStore('tight');
        const filler = fs.openSync(path.join(dataDir, 'filler'), 'w');
        try {
          for (;;) fs.writeSync(filler, Buffer.alloc(64 * 1024, 1));
        } catch (err) {
          assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
        } finally {
          fs.closeSync(filler);
        }
        for (let i = 0; i < 3; i++) {
          const res = await api(full.url, 'POST', '/api/stores/tight/keys/regenerate', undefined, { 'X-Admin-Key': ADMIN_KEY });
          assert.equal(res.status, 507, res.text);
          assert.equal(res.json.code, 'TSS_ERR_DISK_FULL');
        }
        assert.deepEqual(
          fs.readdirSync(path.join(dataDir, 'tight')).filter((n) => n.includes('.tmp')),
          [],
          'no temp file left in the store directory',
        );
        assert.equal((await api(full.url, 'GET', '/api/stores/tight/stats', undefined, { 'X-API-Key': key })).status, 200, 'the old key still opens the store');
      } finally {
        await full?.stop();
        execFileSync('umount', [dataDir]);
      }
    },
  );

  it('temp files of writes a crash interrupted are removed when the server starts', async () => {
    const dataDir = tempDir('tss-leftover-');
    dirs.push(dataDir);
    let srv = await startServer({ dataDir });
    const key = await srv.createStore('crashed');
    await srv.stop();
    const dir = path.join(dataDir, 'crashed');
    fs.mkdirSync(path.join(dir, 'outputs'), { recursive: true });
    for (const f of ['keys.json.tmp-4242-m3k2x1-0', 'summary.json.tmp-77-abc', path.join('outputs', 'live.json.tmp-5-z9-3')])
      fs.writeFileSync(path.join(dir, f), '');
    fs.writeFileSync(path.join(dir, 'notes.tmp-keep'), 'not ours');
    srv = await startServer({ dataDir });
    try {
      assert.deepEqual(
        fs.readdirSync(dir).filter((n) => n.includes('.tmp')),
        ['notes.tmp-keep'],
        "only writeFileAtomic's temp files are removed",
      );
      assert.deepEqual(fs.readdirSync(path.join(dir, 'outputs')), []);
      assert.equal((await api(srv.url, 'GET', '/api/stores/crashed/stats', undefined, { 'X-API-Key': key })).status, 200);
    } finally {
      await srv.stop();
    }
  });
});

function canMount(): boolean {
  const probe = tempDir('tss-mount-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}
