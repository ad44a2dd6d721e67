#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's test runner. Fails when no test
// file is found (node --test would otherwise pass with zero tests).
'use strict';
const { spawnSync } = require('node:child_process');
const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const filter = argv.filter((a) => a !== '--quick');

// `--quick` (npm run test:quick): the edit-loop tier, in-process tests of the core and the
// built-in plugins that need no child process, no big data set and no waiting on timers; about
// 15 s on a quiet 2-core machine. `npm test` (every file) stays the suite that decides.
const QUICK = [
  'test/json.test.js',
  'test/plugin-kit.test.js',
  'test/errors-doc.test.js',
  'test/config.test.js',
  'test/composition.test.js',
  'test/pipelines.test.js',
  'test/query.test.js',
  'test/stores-api.test.js',
  'test/schema-render.test.js',
  'test/record-files.test.js',
  'test/store-lifecycle.test.js',
  'test/metrics.test.js',
  'test/smoke.test.js',
  'test/plugin-samples.test.js',
  'test/timestamp-limit.test.js',
  'plugins/stages/schema_format/schema-format-stage.test.js',
  'plugins/sinks/memory/memory.test.js',
  'plugins/sinks/blockfile/engine.test.js',
  'plugins/sinks/blockfile/compat.test.js',
  'plugins/inputs/rest/batch.test.js',
];

function walk(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') walk(p, out);
    } else if (entry.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

// Root build output, then each outside plugin package's own build (plugins/contrib/*/dist).
let files = walk(dist, []).sort();
const contrib = path.join(root, 'plugins', 'contrib');
for (const name of fs.existsSync(contrib) ? fs.readdirSync(contrib).sort() : []) {
  const out = path.join(contrib, name, 'dist');
  if (fs.existsSync(out)) files.push(...walk(out, []).sort());
}
if (quick) {
  const missing = QUICK.filter((q) => !files.some((f) => f === path.join(dist, q)));
  if (missing.length) {
    console.error(`scripts/test.js: quick-tier files not found (renamed? update QUICK): ${missing.join(', ')}`);
    process.exit(1);
  }
  files = files.filter((f) => QUICK.some((q) => f === path.join(dist, q)));
}
if (filter.length) files = files.filter((f) => filter.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('scripts/test.js: no test files found under dist/ — did the build run?');
  process.exit(1);
}
// Files that build and install npm packages (npm pack, a release build, npm install of a
// tarball) take minutes on a busy machine: they run after the others, in a second `node --test`
// with a longer per-file timeout. Every other file keeps the five-minute limit.
const LONG = /(^|[\\/])(package|outside-package)\.test\.js$/;
// Every temporary file of the run goes below one directory (TMPDIR), removed when the run ends:
// a test file killed by its timeout cannot remove what it created, this does.
const runTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsstore-run-'));
const runFiles = (list, timeoutMs) =>
  spawnSync(process.execPath, ['--test', `--test-timeout=${timeoutMs}`, '--test-concurrency=2', ...list.map((f) => path.relative(root, f))], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TMPDIR: runTmp },
  });
const short = files.filter((f) => !LONG.test(f));
const long = files.filter((f) => LONG.test(f));
const results = [];
if (short.length) results.push(runFiles(short, 300_000));
if (long.length) results.push(runFiles(long, 900_000));
const r = { status: results.every((x) => x.status === 0) ? 0 : (results.find((x) => x.status !== 0)?.status ?? 1) };
try {
  fs.rmSync(runTmp, { recursive: true, force: true });
} catch (err) {
  console.error(`scripts/test.js: could not remove the run's temporary directory ${runTmp}: ${err.message}`);
}

// The JetStream sink tests need a real nats-server; without one they skip, and that must not
// pass unnoticed.
function onPath(bin) {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => {
    if (!dir) return false;
    try {
      fs.accessSync(path.join(dir, bin), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
const natsTests = files.some((f) => /nats_jetstream|blockfile_forward/.test(f));
if (natsTests && !onPath('nats-server')) {
  const line = '!'.repeat(78);
  console.error(
    `\n${line}\n!!  JetStream suite skipped: nats-server is not on PATH, so the nats_jetstream and\n!!  blockfile_forward sink tests did NOT run. Install it (Debian: apt-get install\n!!  nats-server) and run the tests again.\n${line}\n`,
  );
}
process.exit(r.status ?? 1);
