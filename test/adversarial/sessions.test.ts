/**
 * Adversarial: a streaming session must not outlive its key or its store. Revoking the key,
 * regenerating the keys, deleting or resetting the store ends every WebSocket and Unix-socket
 * session authenticated with an affected key; a store created again under the same name never
 * receives an old session's records. Plugin inputs get the same through StoreAccess.session.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import unixSocket from '../../plugins/inputs/unix_socket/index.js';
import { inputHarness } from '../../src/testing/index.js';
import { LineClient, until, WsClient } from '../support/clients.js';
import { ADMIN_KEY, api, startServer, tempDir, type TestServer } from '../support/server.js';

const admin = { 'X-Admin-Key': ADMIN_KEY };

describe('adversarial: sessions end with their key or store', () => {
  let s: TestServer;
  let sock: string;
  let sockDir: string;

  before(async () => {
    sockDir = tempDir('tss-sess-');
    sock = path.join(sockDir, 's.sock');
    s = await startServer({
      socketPath: sock,
      pipelines: {
        main: {
          inputs: { api: { type: 'rest' }, stream: { type: 'websocket' }, local: { type: 'unix_socket' } },
          stages: [{ type: 'validate' }],
          sink: { type: 'memory' },
        },
      },
    });
  });
  after(async () => {
    await s.stop();
    fs.rmSync(sockDir, { recursive: true, force: true });
  });

  const wsUrl = (store: string, key: string): string => `${s.url.replace(/^http/, 'ws')}/api/stores/${store}/ws/write?api_key=${key}`;
  const count = async (store: string): Promise<number> => {
    const r = await api(s.url, 'GET', `/api/stores/${store}/stats`, undefined, admin);
    return Number(r.json.records);
  };

  async function openBoth(store: string, key: string): Promise<{ ws: WsClient; line: LineClient }> {
    const ws = await WsClient.open(wsUrl(store, key));
    const line = await LineClient.auth(sock, store, key);
    ws.send('{"data":{"before":1}}');
    line.send('{"before":1}\n');
    assert.match((await ws.take(1))[0], /"type":"ack"/);
    assert.match((await line.take(1))[0], /^OK \d+$/);
    return { ws, line };
  }

  async function assertEnded(ws: WsClient, line: LineClient, why: RegExp): Promise<void> {
    await until(() => ws.closeCode !== undefined, 10_000, 'the WebSocket session to be closed');
    assert.equal(ws.closeCode, 1008);
    const frames = ws.frames.join('\n');
    assert.match(frames, /"code":"TSS_ERR_SESSION_ENDED"/);
    assert.match(frames, why);
    await until(() => line.ended, 10_000, 'the Unix-socket session to be closed');
    const last = line.lines.at(-1) ?? '';
    assert.match(last, /^ERROR session ended: /);
    assert.match(last, why);
  }

  it('regenerating the keys ends the sessions of the old key; the new key works', async () => {
    const key = await s.createStore('regen');
    const { ws, line } = await openBoth('regen', key);
    const regen = await api(s.url, 'POST', '/api/stores/regen/keys/regenerate', undefined, admin);
    assert.equal(regen.status, 201);
    await assertEnded(ws, line, /regenerated/);
    assert.equal(await count('regen'), 2);
    const fresh = await LineClient.auth(sock, 'regen', regen.json.api_key as string);
    fresh.send('{"after":1}\n');
    assert.match((await fresh.take(1))[0], /^OK \d+$/);
    fresh.close();
    await assert.rejects(WsClient.open(wsUrl('regen', key)), /401/);
  });

  it('revoking one key ends its sessions only', async () => {
    const key = await s.createStore('revoke');
    const { ws, line } = await openBoth('revoke', key);
    const keyId = key.slice(8, 16);
    assert.equal((await api(s.url, 'DELETE', `/api/stores/revoke/keys/${keyId}`, undefined, admin)).status, 200);
    await assertEnded(ws, line, new RegExp(`key ${keyId} of store revoke was revoked`));
  });

  it('deleting a store ends its sessions: a store created again under the name gets none of their records', async () => {
    const key = await s.createStore('again');
    const { ws, line } = await openBoth('again', key);
    // The client keeps writing while the store goes away.
    const writer = setInterval(() => {
      if (ws.closeCode === undefined) ws.send('{"data":{"late":1}}');
      if (!line.ended) line.send('{"late":1}\n');
    }, 1);
    try {
      assert.equal((await api(s.url, 'DELETE', '/api/stores/again', undefined, admin)).status, 200);
      await assertEnded(ws, line, /store again was deleted/);
    } finally {
      clearInterval(writer);
    }
    await s.createStore('again');
    assert.equal(await count('again'), 0);
  });

  it('resetting a store ends its sessions, admin-key sessions included', async () => {
    const key = await s.createStore('reset');
    const { ws, line } = await openBoth('reset', key);
    const adminWs = await WsClient.open(`${s.url.replace(/^http/, 'ws')}/api/stores/reset/ws/write?admin_key=${ADMIN_KEY}`);
    assert.equal((await api(s.url, 'POST', '/api/stores/reset/reset', undefined, admin)).status, 200);
    await assertEnded(ws, line, /store reset was reset/);
    await until(() => adminWs.closeCode !== undefined, 10_000, 'the admin-key session to be closed');
    assert.equal(adminWs.closeCode, 1008);
    const again = await WsClient.open(wsUrl('reset', key));
    again.send('{"data":{"after":1}}');
    assert.match((await again.take(1))[0], /"type":"ack"/);
    again.close();
  });

  it('a plugin input gets the same through StoreAccess.session (inputHarness)', async () => {
    const dir = tempDir('tss-sess-h-');
    const h = await inputHarness(unixSocket, { options: { path: path.join(dir, 'h.sock') } });
    try {
      const key = await h.createStore('p');
      const c = await LineClient.auth(path.join(dir, 'h.sock'), 'p', key);
      await h.regenerateKey('p');
      await until(() => c.ended, 10_000, 'the session to be closed');
      assert.match(c.lines.at(-1) ?? '', /^ERROR session ended: the API keys of store p were regenerated/);
    } finally {
      await h.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
