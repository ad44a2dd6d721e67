/** The composition root: one container per server, and any part swapped by its token. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../src/config/load-config.js';
import { silentLogger } from '../src/core/logger.js';
import { TssError } from '../src/plugin/errors.js';
import { TsstoreServer } from '../src/server.js';
import type { SchemaService } from '../src/stores/schema-service.js';
import type { DataLock } from '../src/stores/data-lock.js';
import { TOKENS } from '../src/tokens.js';
import { ADMIN_KEY, api, tempDir, writeConfig } from './support/server.js';

const dirs: string[] = [];
const servers: TsstoreServer[] = [];
after(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function config(): Promise<Awaited<ReturnType<typeof loadConfig>>> {
  const dir = tempDir('tss-compose-');
  dirs.push(dir);
  const file = writeConfig(dir, {
    server: { host: '127.0.0.1', port: 0, socket_path: '', admin_key: ADMIN_KEY },
    store: { base_path: path.join(dir, 'data') },
    pipelines: { main: { inputs: { api: { type: 'rest' } }, stages: [{ type: 'validate' }, { type: 'schema_format' }], sink: { type: 'memory' } } },
  });
  return loadConfig({ file, env: {} });
}

describe('composition root', () => {
  it('builds each server from its own container: two servers in one process share no part', async () => {
    const [a, b] = [
      await TsstoreServer.start(await config(), { logger: silentLogger() }),
      await TsstoreServer.start(await config(), { logger: silentLogger() }),
    ];
    servers.push(a, b);
    assert.notEqual(a.catalog, b.catalog);
    assert.notEqual(a.metrics, b.metrics);
    assert.notEqual(a.http, b.http);
    assert.notEqual(a.runner.sink, b.runner.sink);
  });

  it('swaps parts by token: the schema service and the data-path lock', async () => {
    const cfg = await config();
    let advertised = '';
    let released = false;
    const fakeLock = {
      advertise: (url: string) => {
        advertised = url;
      },
      release: () => {
        released = true;
      },
    } as unknown as DataLock;
    const refusing = {
      get: () => {
        throw new TssError('TSS_ERR_NOT_FOUND', 'swapped schema service');
      },
      set: async () => {
        throw new TssError('TSS_ERR_SCHEMA_INVALID', 'swapped schema service refuses every schema');
      },
    } as unknown as SchemaService;
    const server = await TsstoreServer.start(cfg, {
      logger: silentLogger(),
      compose: (c) => {
        c.register(TOKENS.Lock, { useValue: fakeLock });
        c.register(TOKENS.SchemaService, { useValue: refusing });
      },
    });
    servers.push(server);
    assert.equal(advertised, server.url);
    assert.ok(!fs.existsSync(path.join(cfg.store.base_path, 'tsstore.lock')), 'the real lock was never taken');
    const created = await api(server.url, 'POST', '/api/stores', { name: 's', data_type: 'schema' }, { 'X-Admin-Key': ADMIN_KEY });
    const put = await api(
      server.url,
      'PUT',
      '/api/stores/s/schema',
      { fields: [{ index: 1, name: 'a', type: 'int8' }] },
      { 'X-API-Key': created.json.api_key as string },
    );
    assert.deepEqual([put.status, put.json.error], [400, 'swapped schema service refuses every schema']);
    await server.stop();
    assert.ok(released);
  });
});
