import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../src/core/logger.js';
import { RateLimitedLog } from '../src/core/rate-limited-log.js';
import type { Logger } from '../src/plugin/descriptor.js';
import { ADMIN_KEY, api, spawnServer, tempDir } from './support/server.js';

function lines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('logs', () => {
  it('never show a key, and rate-limit a flood of bad input, in a real server run', async () => {
    const dataDir = tempDir();
    const srv = await spawnServer(['--no-socket', '--log-level', 'debug'], { TSSTORE_DATA_PATH: dataDir });
    const admin = { 'X-Admin-Key': ADMIN_KEY };
    const created = await api(srv.url, 'POST', `/api/stores?admin_key=${ADMIN_KEY}`, { name: 'logged' });
    assert.equal(created.status, 201, created.text);
    const key = created.json.api_key as string;
    const regenerated = await api(srv.url, 'POST', '/api/stores/logged/keys/regenerate', undefined, admin);
    const key2 = regenerated.json.api_key as string;
    const json = { 'Content-Type': 'application/json' };
    assert.equal(
      (await api(srv.url, 'POST', '/api/stores/logged/data', '{"timestamp":5,"data":{"ok":true}}', { ...json, Authorization: `Bearer ${key2}` })).status,
      201,
    );
    assert.equal((await api(srv.url, 'POST', `/api/stores/logged/data?api_key=${key2}`, '{"timestamp":6,"data":1}', json)).status, 201);
    // The revoked first key, a wrong admin key, and 30 of each kind of bad record.
    assert.equal((await api(srv.url, 'POST', '/api/stores/logged/data', '{"data":1}', { ...json, 'X-API-Key': key })).status, 401);
    assert.equal((await api(srv.url, 'GET', '/api/stores', undefined, { 'X-Admin-Key': `${ADMIN_KEY}-wrong` })).status, 401);
    for (let i = 0; i < 30; i++) {
      assert.equal((await api(srv.url, 'POST', '/api/stores/logged/data', '{"timestamp":1,"data":1}', { ...json, 'X-API-Key': key2 })).status, 409);
      assert.equal((await api(srv.url, 'POST', '/api/stores/logged/data', `{"data": nope${i}`, { ...json, 'X-API-Key': key2 })).status, 400);
    }
    srv.child.kill('SIGTERM');
    assert.equal(await srv.exited, 0);
    const out = srv.output();

    for (const secret of [ADMIN_KEY, key, key2, key.slice('tsstore_'.length), key2.slice('tsstore_'.length)]) {
      assert.equal(out.includes(secret), false, `a key appears in the log:\n${out}`);
    }
    const events = lines(out);
    const messages = events.map((e) => e.msg);
    for (const m of ['Sink opened.', 'Input started.', 'tsstore is serving.', 'Store created.', 'Input stopped.', 'Sink closed.', 'Stopped.']) {
      assert.ok(messages.includes(m), `lifecycle event "${m}" is logged`);
    }
    const rejected = events.filter((e) => e.msg === 'Record rejected.');
    assert.equal(rejected.length, 10, 'at most 10 lines per interval for one (input, code)');
    assert.deepEqual(
      { store: rejected[0].store, input: rejected[0].input, code: rejected[0].code },
      { store: 'logged', input: 'api', code: 'TSS_ERR_TIMESTAMP_ORDER' },
    );
    const summaries = events.filter((e) => typeof e.suppressed === 'number');
    assert.ok(
      summaries.some((e) => e.code === 'TSS_ERR_TIMESTAMP_ORDER' && e.suppressed === 20 && e.input === 'api'),
      'the 20 suppressed rejections are summarised',
    );
    assert.ok(
      summaries.some((e) => e.code === 'TSS_ERR_INVALID_JSON' && e.suppressed === 20),
      'the 20 suppressed request errors are summarised',
    );
    const refusedAuth = events.filter((e) => e.msg === 'Request refused.' && e.status === 401);
    assert.deepEqual(refusedAuth.map((e) => e.code).sort(), ['TSS_ERR_ADMIN_KEY_INVALID', 'TSS_ERR_API_KEY_INVALID']);
    assert.ok(events.length < 120, `the flood of 60 bad records stays a few lines (${events.length})`);
  });

  it('censor key-like fields whatever code logs them', () => {
    const file = path.join(tempDir(), 'log.ndjson');
    const fd = fs.openSync(file, 'w');
    const logger = createLogger('info', fd);
    logger.info(
      {
        api_key: 'tsstore_secret-one',
        adminKey: 'secret-two',
        headers: { 'X-Api-Key': 'secret-three' },
        conn: { headers: { Authorization: 'Bearer secret-four' }, token: 'secret-five' },
        store: 'kept',
      },
      'Something happened.',
    );
    fs.closeSync(fd);
    const text = fs.readFileSync(file, 'utf8');
    assert.equal(/secret/.test(text), false, text);
    const [e] = lines(text);
    assert.equal(e.api_key, '[redacted]');
    assert.equal(e.headers, '[redacted]');
    assert.equal((e.conn as Record<string, unknown>).headers, '[redacted]');
    assert.equal(e.store, 'kept');
  });
});

describe('RateLimitedLog', () => {
  function recorder(): { logger: Logger; got: { obj: Record<string, unknown>; msg?: string }[] } {
    const got: { obj: Record<string, unknown>; msg?: string }[] = [];
    const rec = (obj: object, msg?: string): void => {
      got.push({ obj: obj as Record<string, unknown>, msg });
    };
    const logger: Logger = { debug: rec, info: rec, warn: rec, error: rec, child: () => logger };
    return { logger, got };
  }

  it('logs `limit` lines per interval and key, then one summary with the count', () => {
    let now = 1_000;
    const { logger, got } = recorder();
    const log = new RateLimitedLog(logger, 'warn', { limit: 3, intervalMs: 10_000 }, () => now);
    for (let i = 0; i < 10; i++) log.log('a', { code: 'A', i }, 'Bad A.');
    log.log('b', { code: 'B' }, 'Bad B.');
    assert.deepEqual(
      got.map((g) => g.msg),
      ['Bad A.', 'Bad A.', 'Bad A.', 'Bad B.'],
    );
    now += 10_000;
    log.log('a', { code: 'A', i: 10 }, 'Bad A.');
    assert.equal(got.length, 6);
    assert.deepEqual(got[4].obj, { code: 'A', i: 9, suppressed: 7, intervalMs: 10_000 });
    assert.equal(got[5].msg, 'Bad A.');
    log.close();
    assert.equal(got.length, 6, 'nothing suppressed since: no summary');
  });

  it('summarises on close what the last interval suppressed', () => {
    const { logger, got } = recorder();
    const log = new RateLimitedLog(logger, 'info', { limit: 1, intervalMs: 60_000 });
    log.log('k', { code: 'K' }, 'x');
    log.log('k', { code: 'K' }, 'x');
    log.close();
    assert.equal(got.length, 2);
    assert.equal(got[1].obj.suppressed, 1);
  });
});
