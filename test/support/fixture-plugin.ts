/**
 * A fake third-party plugin package written into a temp directory: package.json + index.js that
 * requires only `tsstore/plugin`, found through `<dir>/node_modules/tsstore` (a link to this
 * checkout, as `npm install tsstore` would give a real user).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './server.js';

export interface FixtureOptions {
  readonly name: string;
  readonly version?: string;
  /** The input type it defines (default `fixture_post`). */
  readonly type?: string;
  readonly apiVersion?: string;
}

const SOURCE = `'use strict';
const { defineInput, Joi } = require('tsstore/plugin');

// One record per POST to options.route (store key auth); claims a TCP port and/or a socket path
// when told to, so resource conflicts can be tested.
module.exports = {
  plugins: [defineInput({
    type: process.env.__TYPE__,
    description: 'fixture: POST a JSON body to store it',
    apiVersion: process.env.__API__,
    options: Joi.object({
      route: Joi.string().default('/fixture/:store'),
      host: Joi.string().default('0.0.0.0'),
      port: Joi.number().integer().min(0).max(65535),
      path: Joi.string(),
    }),
    create(options, ctx) {
      return {
        resources() {
          return [
            { kind: 'http-route', id: 'POST ' + options.route },
            ...(options.port !== undefined ? [{ kind: 'tcp-port', id: options.host + ':' + options.port }] : []),
            ...(options.path ? [{ kind: 'unix-socket', id: options.path }] : []),
          ];
        },
        async start(emit) {
          ctx.http.router.post(options.route, ctx.http.storeAuth, async (k) => {
            const chunks = [];
            for await (const c of k.req) chunks.push(c);
            const [r] = await emit([{ store: k.state.store.name, payload: Buffer.concat(chunks), format: 'json', origin: { input: ctx.id } }]);
            k.type = 'application/json';
            k.status = r.ok ? 201 : 400;
            k.body = JSON.stringify(r.ok ? { timestamp: String(r.timestamp) } : { error: r.message, code: r.code });
          });
        },
        async stop() {},
      };
    },
  })],
};
`;

/** Writes the package to `<dir>/<name>` and returns that path. */
export function writeFixturePlugin(dir: string, opts: FixtureOptions): string {
  const pkgDir = path.join(dir, opts.name);
  fs.mkdirSync(pkgDir, { recursive: true });
  fs.writeFileSync(
    path.join(pkgDir, 'package.json'),
    JSON.stringify({ name: opts.name, version: opts.version ?? '1.2.3', main: 'index.js', peerDependencies: { tsstore: '*' } }, null, 2),
  );
  fs.writeFileSync(
    path.join(pkgDir, 'index.js'),
    SOURCE.replace('process.env.__TYPE__', JSON.stringify(opts.type ?? 'fixture_post')).replace(
      'process.env.__API__',
      JSON.stringify(opts.apiVersion ?? '^1.0.0'),
    ),
  );
  const link = path.join(dir, 'node_modules', 'tsstore');
  if (!fs.existsSync(link)) {
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(ROOT, link, 'dir');
  }
  return pkgDir;
}
