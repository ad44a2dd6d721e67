/**
 * Adversarial (careless operator): store defaults that no store could be created with, and blank
 * or whitespace admin keys, are configuration errors found by `config validate` and `serve`
 * (both read the config through readConfig/loadConfig), not failures of every later create.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/core/logger.js';
import { TsstoreServer } from '../../src/server.js';
import { tempDir, writeConfig } from '../support/server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function problems(config: Record<string, unknown>, env: Record<string, string> = {}): Promise<string[]> {
  const dir = tempDir('tss-cfg-holes-');
  dirs.push(dir);
  const file = writeConfig(dir, config);
  try {
    await loadConfig({ file, env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe('adversarial: config holes', () => {
  it('refuses store defaults that creation would refuse, naming the field', async () => {
    const p = await problems({ store: { data_block_size: 100, index_block_size: 3000 } });
    assert.ok(
      p.some((x) => /^store\.data_block_size: must be a power of two/.test(x)),
      p.join('\n'),
    );
    assert.ok(
      p.some((x) => /^store\.index_block_size: must be a power of two/.test(x)),
      p.join('\n'),
    );
    const huge = await problems({ store: { num_blocks: 1 << 24, data_block_size: 1 << 26 } });
    assert.ok(
      huge.some((x) => /^store: invalid num_blocks: the store would exceed 1 TiB/.test(x)),
      huge.join('\n'),
    );
    assert.deepEqual(await problems({ store: { data_block_size: 8192, num_blocks: 16 } }), []);
  });

  it('refuses blank and whitespace admin keys, from the file and from the environment', async () => {
    const spaces = await problems({ server: { admin_key: ' '.repeat(20) } });
    assert.ok(
      spaces.some((x) => /^server\.admin_key: must not be blank/.test(x)),
      spaces.join('\n'),
    );
    const inner = await problems({ server: { admin_key: 'abcdefghij klmnopqrstuvwxyz' } });
    assert.ok(
      inner.some((x) => /^server\.admin_key: must not contain whitespace/.test(x)),
      inner.join('\n'),
    );
    const env = await problems({}, { TSSTORE_ADMIN_KEY: '\t'.repeat(24) });
    assert.ok(
      env.some((x) => /^env TSSTORE_ADMIN_KEY: must not be blank/.test(x)),
      env.join('\n'),
    );
  });

  it('a server embedded with a whitespace admin key does not start', async () => {
    const dir = tempDir('tss-cfg-holes-');
    dirs.push(dir);
    const file = writeConfig(dir, { server: { host: '127.0.0.1', port: 0, socket_path: '' }, store: { base_path: path.join(dir, 'data') } });
    const config = await loadConfig({ file, env: {} });
    const bad = { ...config, server: { ...config.server, admin_key: ' '.repeat(25) } };
    await assert.rejects(TsstoreServer.start(bad, { logger: silentLogger() }), /admin key must not be blank/);
  });
});
