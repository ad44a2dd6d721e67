import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { checkConfig } from 'tsstore';

const PACKAGE_DIR = path.resolve(__dirname, '../..');

describe('mqtt sample.yaml', () => {
  it('validates, loading the package by its npm name', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-mqtt-sample-'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(PACKAGE_DIR, path.join(dir, 'node_modules', 'tsstore-input-mqtt'), 'dir');
    fs.copyFileSync(path.join(PACKAGE_DIR, 'sample.yaml'), path.join(dir, 'tsstore.config.yaml'));
    const { problems, pipelines, registry } = await checkConfig({ cwd: dir, env: {} });
    assert.deepEqual(problems, []);
    const input = pipelines[0].inputs.find((i) => i.id === 'sensors');
    assert.equal(input?.type, 'mqtt');
    const plugin = registry.list().find((p) => p.descriptor.type === 'mqtt');
    assert.equal(plugin?.source.package, 'tsstore-input-mqtt');
    assert.equal(plugin?.source.version, JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8')).version);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
