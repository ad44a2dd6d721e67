import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { checkConfig } from 'tsstore';

const PACKAGE_DIR = path.resolve(__dirname, '../..');
const REPO = path.resolve(PACKAGE_DIR, '../../..');

it('sample.yaml validates, loading the package by its npm name', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-jsonl-'));
  try {
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(PACKAGE_DIR, path.join(dir, 'node_modules', 'tsstore-sink-jsonl'), 'dir');
    fs.copyFileSync(path.join(PACKAGE_DIR, 'sample.yaml'), path.join(dir, 'tsstore.config.yaml'));
    const { problems, pipelines } = await checkConfig({ cwd: dir, env: {} });
    assert.deepEqual(problems, []);
    assert.equal(pipelines[0].plan.sink.type, 'jsonl');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('is the example printed in docs/plugins.md, word for word', () => {
  const guide = fs.readFileSync(path.join(REPO, 'docs', 'plugins.md'), 'utf8');
  for (const file of ['src/index.ts', 'test/jsonl.test.ts', 'sample.yaml']) {
    const text = fs
      .readFileSync(path.join(PACKAGE_DIR, file), 'utf8')
      .replace(/^#.*\n/gm, '')
      .trim();
    assert.ok(guide.includes(text), `docs/plugins.md does not show ${file} as it is`);
  }
});
