#!/usr/bin/env node
// Build: compile TypeScript into dist/, copy non-TS plugin assets, regenerate oclif.manifest.json.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true' } });


run(bin('tsc'), ['-p', 'tsconfig.json']);
run(bin('oclif'), ['manifest']);

// Outside plugin packages kept in this repo (plugins/contrib/*) are built as the separate packages
// they are. Each resolves its peer dependency `tsstore` through node_modules/tsstore, linked here
// to this checkout (what `npm link tsstore` would do), so `require('tsstore/plugin')` gets the
// same modules the server runs.
const contrib = path.join(root, 'plugins', 'contrib');
for (const name of fs.existsSync(contrib) ? fs.readdirSync(contrib).sort() : []) {
  const dir = path.join(contrib, name);
  if (!fs.existsSync(path.join(dir, 'tsconfig.json'))) continue;
  const link = path.join(dir, 'node_modules', 'tsstore');
  fs.mkdirSync(path.dirname(link), { recursive: true });
  const target = path.relative(path.dirname(link), root);
  let current;
  try { current = fs.readlinkSync(link); } catch { current = undefined; }
  if (current !== target) {
    fs.rmSync(link, { force: true, recursive: true });
    fs.symlinkSync(target, link, 'dir');
  }
  run(bin('tsc'), ['-p', path.join(dir, 'tsconfig.json')]);
}
