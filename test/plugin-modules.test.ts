/**
 * Outside plugin packages as users write them: an ES module package and a CommonJS package, each
 * importing every export of `tsstore/plugin` by name, loaded through `plugins:` into a real server;
 * and a package that resolves its own copy of tsstore (what `npm install` inside a plugin gives):
 * its errors keep their codes, and the loader warns once, naming both copies.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../src/config/load-config.js';
import type { Logger } from '../src/plugin/descriptor.js';
import * as publicPlugin from '../src/plugin/index.js';
import * as publicTesting from '../src/testing/index.js';
import * as publicRoot from '../src/index.js';
import { TsstoreServer } from '../src/server.js';
import { ADMIN_KEY, api, ROOT, tempDir, writeConfig } from './support/server.js';

const dirs: string[] = [];
const servers: TsstoreServer[] = [];
after(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const names = (mod: object): string[] =>
  Object.keys(mod)
    .filter((k) => k !== 'default' && k !== '__esModule')
    .sort();
const PLUGIN_NAMES = names(publicPlugin);

/** The body of a plugin package: an input posting records on its own route, and a stage. */
function pluginBody(prefix: string): string {
  return `
const api = { ${PLUGIN_NAMES.join(', ')} };
const missing = Object.keys(api).filter((k) => api[k] === undefined);

const input = defineInput({
  type: '${prefix}_post',
  description: 'test: POST a JSON body to ?store=',
  apiVersion: '^1.0.0',
  options: Joi.object({ route: Joi.string().required() }),
  create(options, ctx) {
    return {
      resources: () => [{ kind: 'http-route', id: 'POST ' + options.route }],
      async start(emit) {
        ctx.http.router.post(options.route, async (k) => {
          if (missing.length) throw new Error('named imports missing: ' + missing.join(', '));
          if (k.get('x-fail') === 'auth') throw new TssError('TSS_ERR_API_KEY_INVALID');
          const view = ctx.stores.authenticate(String(k.query.store), apiKeyOf(k));
          const body = await readBody(k, 65536);
          const [r] = await emit([{ store: view.name, payload: body, format: 'json', origin: { input: ctx.id } }]);
          if (!r.ok) throw new TssError(r.code, r.message);
          k.status = 201;
          k.type = 'application/json';
          k.body = acceptedJson(r);
        });
      },
      async stop() {},
    };
  },
});

/** Throws a catalog error for records saying "disk-full" (the way a failing sink would). */
const stage = defineStage({
  type: '${prefix}_fail',
  description: 'test: fails batches that ask for it',
  apiVersion: '^1.0.0',
  options: Joi.object({}),
  create: () => ({
    process(records) {
      if (records.some((r) => r.payload.includes('disk-full'))) throw new TssError('TSS_ERR_DISK_FULL');
      return records;
    },
  }),
});
`;
}

function writePackage(dir: string, name: string, type: 'module' | 'commonjs', source: string): string {
  const pkg = path.join(dir, name);
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name, version: '1.0.0', type, main: 'index.js', peerDependencies: { tsstore: '*' } }));
  fs.writeFileSync(path.join(pkg, 'index.js'), source);
  return pkg;
}

function linkTsstore(dir: string): void {
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'tsstore'), 'dir');
}

/** A second, real copy of tsstore's build inside the package (its dependencies linked). */
function copyTsstoreInto(pkg: string): string {
  const copy = path.join(pkg, 'node_modules', 'tsstore');
  fs.mkdirSync(path.join(copy, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
  for (const sub of ['src', 'esm']) fs.cpSync(path.join(ROOT, 'dist', sub), path.join(copy, 'dist', sub), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
  return fs.realpathSync(copy);
}

function capturingLogger(warnings: string[]): Logger {
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    error: () => undefined,
    warn: (_obj, msg) => {
      warnings.push(msg ?? '');
    },
    child: () => logger,
  };
  return logger;
}

describe('ES module and CommonJS plugin packages', () => {
  it('the ES module faces of tsstore, tsstore/plugin and tsstore/testing export every name by name', async () => {
    const dir = tempDir('tss-esm-');
    dirs.push(dir);
    linkTsstore(dir);
    const entries: [string, string[]][] = [
      ['tsstore', names(publicRoot)],
      ['tsstore/plugin', PLUGIN_NAMES],
      ['tsstore/testing', names(publicTesting)],
    ];
    const lines = entries.map(
      ([spec, list], i) =>
        `import { ${list.map((n) => `${n} as m${i}_${n}`).join(', ')} } from '${spec}';\nexport const m${i} = { ${list.map((n) => `${n}: m${i}_${n}`).join(', ')} };`,
    );
    fs.writeFileSync(path.join(dir, 'probe.mjs'), lines.join('\n') + "\nimport cjs from 'tsstore/plugin';\nexport const same = cjs;\n");
    const probe = (await import(pathToFileURL(path.join(dir, 'probe.mjs')).href)) as Record<string, Record<string, unknown>>;
    entries.forEach(([spec, list], i) => {
      for (const n of list) assert.notEqual(probe[`m${i}`][n], undefined, `${spec} exports ${n} to ES modules`);
    });
    assert.ok(PLUGIN_NAMES.includes('Joi'));
    assert.equal(probe.m1.TssError, publicPlugin.TssError, "one module instance: ESM and CommonJS plugins share tsstore's classes");
    assert.equal(probe.same.EmitBatcher, publicPlugin.EmitBatcher);
  });

  it('loads an ESM package and a CommonJS package through plugins:, and a package with its own tsstore copy works and is warned about once', async () => {
    const dir = tempDir('tss-modules-');
    dirs.push(dir);
    linkTsstore(dir);
    writePackage(
      dir,
      'acme-esm',
      'module',
      `import { ${PLUGIN_NAMES.join(', ')} } from 'tsstore/plugin';\n${pluginBody('esm')}\nexport default [input, stage];\n`,
    );
    writePackage(
      dir,
      'acme-cjs',
      'commonjs',
      `'use strict';\nconst { ${PLUGIN_NAMES.join(', ')} } = require('tsstore/plugin');\n${pluginBody('cjs')}\nmodule.exports = { plugins: [input, stage] };\n`,
    );
    const copyPkg = writePackage(
      dir,
      'acme-copy',
      'commonjs',
      `'use strict';\nconst { ${PLUGIN_NAMES.join(', ')} } = require('tsstore/plugin');\n${pluginBody('copy')}\nmodule.exports = [input, stage];\n`,
    );
    const copy = copyTsstoreInto(copyPkg);
    const copied = require(path.join(copy, 'dist/src/plugin/index.js')) as typeof publicPlugin; // eslint-disable-line @typescript-eslint/no-require-imports -- the copy, by path
    assert.notEqual(copied.TssError, publicPlugin.TssError, 'the copy has its own TssError class');

    const file = writeConfig(dir, {
      plugins: ['./acme-esm', './acme-cjs', './acme-copy'],
      server: { host: '127.0.0.1', port: 0, socket_path: '', admin_key: ADMIN_KEY },
      store: { base_path: path.join(dir, 'data') },
      pipelines: {
        main: {
          inputs: { esm: { type: 'esm_post', route: '/esm' }, cjs: { type: 'cjs_post', route: '/cjs' }, copy: { type: 'copy_post', route: '/copy' } },
          stages: [{ type: 'validate' }, { type: 'copy_fail' }],
          sink: { type: 'memory' },
        },
      },
    });
    const warnings: string[] = [];
    const server = await TsstoreServer.start(await loadConfig({ file, env: {} }), { logger: capturingLogger(warnings) });
    servers.push(server);
    const sources = server.registry
      .list()
      .filter((p) => p.source.package.startsWith('acme-'))
      .map((p) => `${p.descriptor.kind}:${p.descriptor.type}`)
      .sort();
    assert.deepEqual(sources, ['input:cjs_post', 'input:copy_post', 'input:esm_post', 'stage:cjs_fail', 'stage:copy_fail', 'stage:esm_fail']);

    const created = await api(server.url, 'POST', '/api/stores', { name: 's' }, { 'X-Admin-Key': ADMIN_KEY });
    const key = { 'X-API-Key': created.json.api_key as string, 'Content-Type': 'application/json' };
    for (const route of ['/esm', '/cjs', '/copy']) {
      const r = await api(server.url, 'POST', `${route}?store=s`, '{"n": 1.50}', key);
      assert.equal(r.status, 201, `${route}: ${r.text}`);
      assert.match(r.text, /^\{"timestamp":\d+,"block_num":0,"size":11\}$/);
      const refused = await api(server.url, 'POST', `${route}?store=s`, '{"n": 2}', { ...key, 'X-API-Key': 'wrong-key-0123456789' });
      assert.equal(refused.status, 401, `${route}: ${refused.text}`);
    }
    // Errors thrown with the copy's TssError class keep their code and status.
    const auth = await api(server.url, 'POST', '/copy?store=s', '{}', { ...key, 'X-Fail': 'auth' });
    assert.deepEqual([auth.status, auth.json.code], [401, 'TSS_ERR_API_KEY_INVALID']);
    const full = await api(server.url, 'POST', '/esm?store=s', '{"x":"disk-full"}', key);
    assert.deepEqual([full.status, full.json.code], [507, 'TSS_ERR_DISK_FULL'], 'a stage of the copy failing with a catalog code');

    const copyWarnings = warnings.filter((w) => w.includes('copies of tsstore'));
    assert.equal(copyWarnings.length, 1, warnings.join('\n'));
    assert.ok(copyWarnings[0].includes(copy) && copyWarnings[0].includes(fs.realpathSync(ROOT)), copyWarnings[0]);
  });
});
