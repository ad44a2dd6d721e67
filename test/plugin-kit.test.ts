/** The plugin toolkit (`tsstore/plugin` kit): line splitting, key extraction, state files, isTssError. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Context } from 'koa';
import * as api from 'tsstore/plugin';
import { apiKeyOf, errorBody, isTssError, LineSplitter, loadStoreStateFiles, readStateFile, toTssError, TssError, writeFileAtomic } from 'tsstore/plugin';

function split(maxLine: number, chunks: string[], end = true): string[] {
  const out: string[] = [];
  const s = new LineSplitter(maxLine, { line: (l) => out.push(l.toString()), tooLong: (max) => out.push(`!too long (${max})`) });
  for (const c of chunks) s.push(Buffer.from(c));
  if (end) s.end();
  return out;
}

describe('LineSplitter', () => {
  it('splits lines across chunks, strips CR, keeps a last unterminated line', () => {
    assert.deepEqual(split(100, ['a\r\nb', 'c\n', '\n', 'd']), ['a', 'bc', '', 'd']);
    assert.deepEqual(split(100, ['x\n', 'y'], false), ['x']);
  });

  it('reports a too-long line once and carries on after its newline, buffering at most the limit', () => {
    assert.deepEqual(split(4, ['12345\nok\n']), ['!too long (4)', 'ok']);
    const out: string[] = [];
    const s = new LineSplitter(4, { line: (l) => out.push(l.toString()), tooLong: () => out.push('!') });
    s.push(Buffer.from('123'));
    s.push(Buffer.from('45'));
    assert.equal(s.buffered, 0);
    s.push(Buffer.from('6789'));
    s.push(Buffer.from('0\nfine\n'));
    assert.deepEqual(out, ['!', 'fine']);
  });

  it('stops splitting once halted', () => {
    const out: string[] = [];
    const s = new LineSplitter(100, {
      line: (l) => {
        out.push(l.toString());
        if (l.toString() === 'stop') s.halt();
      },
      tooLong: () => undefined,
    });
    s.push(Buffer.from('a\nstop\nb\n'));
    s.push(Buffer.from('c\n'));
    assert.deepEqual(out, ['a', 'stop']);
  });
});

describe('HTTP helpers', () => {
  const ctx = (headers: Record<string, string>, query: Record<string, string | string[]> = {}): Context =>
    ({ get: (name: string) => headers[name.toLowerCase()] ?? '', query }) as unknown as Context;

  it('takes the key from X-API-Key, then Authorization, then ?api_key=', () => {
    assert.equal(apiKeyOf(ctx({ 'x-api-key': ' k1 ', authorization: 'Bearer k2' }, { api_key: 'k3' })), 'k1');
    assert.equal(apiKeyOf(ctx({ authorization: 'bearer  k2 ' }, { api_key: 'k3' })), 'k2');
    assert.equal(apiKeyOf(ctx({ authorization: 'Token k2' }, { api_key: 'k3' })), 'k3');
    assert.equal(apiKeyOf(ctx({ authorization: 'Token k2' }), { schemes: ['Bearer', 'Token'] }), 'k2');
    assert.equal(apiKeyOf(ctx({}, { api_key: 'k3' }), { query: null }), undefined);
    assert.equal(apiKeyOf(ctx({}, { api_key: ['a', 'b'] })), undefined);
    assert.equal(apiKeyOf(ctx({})), undefined);
  });

  it("writes tsstore's error body", () => {
    assert.equal(errorBody(new TssError('TSS_ERR_STORE_NOT_FOUND')), '{"error":"store not found","code":"TSS_ERR_STORE_NOT_FOUND"}');
  });
});

describe('state files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-kit-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads undefined for a missing file, and what writeFileAtomic wrote (no temp file left)', async () => {
    const file = path.join(dir, 'state.json');
    assert.equal(await readStateFile(file), undefined);
    await writeFileAtomic(file, '{"cursor":"1"}\n');
    await writeFileAtomic(file, '{"cursor":"2"}\n');
    assert.equal(await readStateFile(file), '{"cursor":"2"}\n');
    assert.deepEqual(fs.readdirSync(dir), ['state.json']);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  it('loadStoreStateFiles: reads the file of each loaded store, skips other directories, moves an unreadable file aside', async () => {
    const data = path.join(dir, 'data');
    const logged: string[] = [];
    const log = (level: string) => (obj: object, msg?: string) => logged.push(`${level} ${msg ?? ''}`);
    const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger } as unknown as api.Logger;
    const opts = {
      dataDir: data,
      fileName: 'things.json',
      what: 'things',
      logger,
      isStore: (store: string) => store !== 'stray',
      read: async (file: string) => JSON.parse(await fs.promises.readFile(file, 'utf8')) as number[],
    };
    assert.deepEqual(await loadStoreStateFiles(opts), [], 'no data directory yet: nothing');
    for (const [store, text] of [
      ['a', '[1,2]'],
      ['b', '{not json'],
      ['stray', '[3]'],
      ['none', undefined],
    ] as const) {
      fs.mkdirSync(path.join(data, store), { recursive: true });
      if (text !== undefined) fs.writeFileSync(path.join(data, store, 'things.json'), text);
    }
    const found = await loadStoreStateFiles(opts);
    assert.deepEqual(found, [{ store: 'a', value: [1, 2] }]);
    assert.equal(fs.existsSync(path.join(data, 'b', 'things.json')), false);
    assert.ok(
      fs.readdirSync(path.join(data, 'b')).some((f) => /^things\.json\.unreadable-\d+$/.test(f)),
      'moved aside',
    );
    assert.ok(fs.existsSync(path.join(data, 'stray', 'things.json')), 'a directory that is not a store is left alone');
    assert.ok(logged.includes('warn Skipping things of a directory that is not a loaded store.'), logged.join('\n'));
    assert.ok(logged.includes('error Cannot read things; moved the file aside and starting none for this store.'), logged.join('\n'));
  });
});

describe('isTssError', () => {
  /** What another copy of tsstore would throw: same shape, another class. */
  class OtherTssError extends Error {
    readonly status = 507;
    constructor(
      readonly code: string,
      message: string,
    ) {
      super(message);
    }
  }

  it('recognises errors by code, not by class', () => {
    const other = new OtherTssError('TSS_ERR_DISK_FULL', 'disk full here');
    assert.ok(isTssError(other));
    assert.ok(isTssError(new TssError('TSS_ERR_INTERNAL')));
    assert.ok(!isTssError(new OtherTssError('NOT_A_CODE', 'x')));
    assert.ok(!isTssError({ code: 'TSS_ERR_DISK_FULL', status: 507, message: 'plain object' }));
    const e = toTssError(other);
    assert.ok(e instanceof TssError);
    assert.equal(e.code, 'TSS_ERR_DISK_FULL');
    assert.equal(e.status, 507);
    assert.equal(e.message, 'disk full here');
  });
});

describe('public entry', () => {
  it('exports the toolkit', () => {
    for (const name of [
      'EmitBatcher',
      'OrderedReplies',
      'LineSplitter',
      'readBody',
      'readJsonObject',
      'mediaType',
      'apiKeyOf',
      'formatParam',
      'errorBody',
      'sendError',
      'writeFileAtomic',
      'readStateFile',
      'parseDurationNs',
      'backoffDelay',
      'SerialQueue',
      'isTssError',
      'Joi',
    ]) {
      assert.ok(name in api, `tsstore/plugin exports ${name}`);
    }
  });
});
