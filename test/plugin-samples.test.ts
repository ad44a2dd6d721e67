import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/load-config.js';
import { planPipelines } from '../src/pipeline/pipeline-builder.js';
import { loadPlugins } from '../src/pipeline/plugin-loader.js';
import { ROOT } from './support/server.js';

function samples(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'contrib' ? [] : samples(p); // contrib packages test their own samples
    return e.name === 'sample.yaml' ? [p] : [];
  });
}

describe('plugin samples', () => {
  const files = samples(path.join(ROOT, 'plugins'));

  it('every built-in plugin folder has a README.md and a sample.yaml', () => {
    for (const kind of ['inputs', 'stages', 'sinks', 'outputs']) {
      for (const name of fs.readdirSync(path.join(ROOT, 'plugins', kind))) {
        for (const f of ['README.md', 'sample.yaml', 'index.ts']) {
          assert.ok(fs.existsSync(path.join(ROOT, 'plugins', kind, name, f)), `plugins/${kind}/${name}/${f} is missing`);
        }
      }
    }
  });

  for (const file of files) {
    it(`${path.relative(ROOT, file)} is a valid config`, async () => {
      const config = await loadConfig({ file, env: {} });
      const plan = planPipelines(config, await loadPlugins(config.plugins, config.source.dir));
      assert.ok(plan.length >= 1);
    });
  }
});
