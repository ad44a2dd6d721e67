/**
 * A fake third-party output package written into a temp directory (like fixture-plugin.ts): it
 * reads one store through `ctx.deliveries` with a persisted cursor and appends each delivered
 * record to a JSON-lines file, `{"t":"<timestamp>","d":"<data>"}`; a missed-records notice is a
 * `{"missed":N}` line, the end of the delivery a `{"stopped":"<reason>"}` line. While the file
 * named by `fail_file` exists, every delivery fails (the destination is "down").
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './server.js';

const SOURCE = `'use strict';
const fs = require('node:fs');
const { defineOutput, Joi } = require('tsstore/plugin');

module.exports = defineOutput({
  type: 'fixture_file',
  description: 'fixture: appends the records of one store to a JSON-lines file',
  apiVersion: '^1.0.0',
  options: Joi.object({
    store: Joi.string().required(),
    file: Joi.string().required(),
    fail_file: Joi.string(),
    from: Joi.alternatives(Joi.string().valid('oldest', 'now'), Joi.string().pattern(/^[0-9]+$/)).default('oldest'),
    batch: Joi.number().integer().min(1).default(100),
  }),
  create(options, ctx) {
    let delivery;
    return {
      async start() {
        delivery = await ctx.deliveries.open({
          store: options.store,
          cursor: ctx.id,
          from: /^[0-9]+$/.test(options.from) ? BigInt(options.from) : options.from,
          batch: options.batch,
          retry: { minMs: 20, maxMs: 200 },
          async deliver(records) {
            if (options.fail_file && fs.existsSync(options.fail_file)) throw new Error('destination down');
            fs.appendFileSync(options.file, records.map((r) => JSON.stringify({ t: String(r.timestamp), d: r.data.toString() }) + '\\n').join(''));
          },
          missed(n) { fs.appendFileSync(options.file, JSON.stringify({ missed: n }) + '\\n'); },
          stopped(reason) { fs.appendFileSync(options.file, JSON.stringify({ stopped: reason }) + '\\n'); },
        });
      },
      async stop() { await delivery?.stop(); },
    };
  },
});
`;

/** Writes the package to `<dir>/tsstore-output-fixture` and returns that path. */
export function writeFixtureOutput(dir: string): string {
  const pkgDir = path.join(dir, 'tsstore-output-fixture');
  fs.mkdirSync(pkgDir, { recursive: true });
  fs.writeFileSync(
    path.join(pkgDir, 'package.json'),
    JSON.stringify({ name: 'tsstore-output-fixture', version: '1.0.0', main: 'index.js', peerDependencies: { tsstore: '*' } }, null, 2),
  );
  fs.writeFileSync(path.join(pkgDir, 'index.js'), SOURCE);
  const link = path.join(dir, 'node_modules', 'tsstore');
  if (!fs.existsSync(link)) {
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(ROOT, link, 'dir');
  }
  return pkgDir;
}

export type FixtureLine = { t: string; d: string } | { missed: number } | { stopped: string };

/** The lines the fixture output wrote so far. */
export function fixtureLines(file: string): FixtureLine[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as FixtureLine);
}
