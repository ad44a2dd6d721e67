#!/usr/bin/env node
// Writes docs/errors.md from the error catalog (src/plugin/errors.ts) and its explanations
// (src/core/error-docs.ts), read from the build. `--check`: write nothing, exit 1 when the page
// is out of date. test/errors-doc.test.ts makes the same check in the suite.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const built = path.join(root, 'dist', 'src', 'core', 'error-docs.js');
if (!fs.existsSync(built)) {
  console.error('scripts/errors-doc.js: dist/ has no build; run `npm run build` first.');
  process.exit(1);
}
const { renderErrorsDoc } = require(built);
const target = path.join(root, 'docs', 'errors.md');
const text = renderErrorsDoc();
const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
if (process.argv.includes('--check')) {
  if (current !== text) {
    console.error('docs/errors.md is out of date: run `npm run docs:errors`.');
    process.exit(1);
  }
} else if (current !== text) {
  fs.writeFileSync(target, text);
  console.log('docs/errors.md written.');
} else {
  console.log('docs/errors.md is up to date.');
}
