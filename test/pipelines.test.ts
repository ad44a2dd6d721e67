import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { effectiveConfig, maskSecrets, MASK } from '../src/pipeline/effective-config.js';
import { loadConfig } from '../src/config/load-config.js';
import { defaultPipelines } from '../src/config/defaults.js';
import { silentLogger } from '../src/core/logger.js';
import { checkConfig } from '../src/pipeline/check-config.js';
import { planPipelines } from '../src/pipeline/pipeline-builder.js';
import { routesOverlap } from '../src/pipeline/resources.js';
import { TsstoreServer } from '../src/server.js';
import { writeFixturePlugin } from './support/fixture-plugin.js';
import { ADMIN_KEY, api, tempDir, writeConfig } from './support/server.js';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const YAML = `
plugins: ["./acme-input"]
server: { host: 127.0.0.1, port: 0, socket_path: "" }
pipelines:
  main:
    inputs:
      api:    { type: rest, body_limit: 4096 }
      acme:   { type: fixture_post, port: 9100 }
      spare:  { type: fixture_post, port: 9100, enabled: false }
    stages: [ { type: validate } ]
    sink: { type: blockfile, fsync: batch }
  lab:
    inputs:
      lab: { type: fixture_post, route: /lab/:store }
    stages: []
    sink: { type: memory, max_records: 1000 }
`;

const JSON_CONFIG = {
  plugins: ['./acme-input'],
  server: { host: '127.0.0.1', port: 0, socket_path: '' },
  pipelines: {
    main: {
      inputs: {
        api: { type: 'rest', body_limit: 4096 },
        acme: { type: 'fixture_post', port: 9100 },
        spare: { type: 'fixture_post', port: 9100, enabled: false },
      },
      stages: [{ type: 'validate' }],
      sink: { type: 'blockfile', fsync: 'batch' },
    },
    lab: { inputs: { lab: { type: 'fixture_post', route: '/lab/:store' } }, stages: [], sink: { type: 'memory', max_records: 1000 } },
  },
};

function problemLines(problems: readonly { path: string; message: string }[]): string[] {
  return problems.map((p) => `${p.path}: ${p.message}`);
}

describe('config-defined pipelines', () => {
  it('a YAML file and the same in JSON give the same pipelines (defaults applied, disabled input kept off)', async () => {
    const y = tempDir('tss-pipe-');
    const j = tempDir('tss-pipe-');
    for (const d of [y, j]) writeFixturePlugin(d, { name: 'acme-input' });
    fs.writeFileSync(path.join(y, 'tsstore.config.yaml'), YAML);
    writeConfig(j, JSON_CONFIG);
    const cy = await checkConfig({ cwd: y, env: {} });
    const cj = await checkConfig({ cwd: j, env: {} });
    assert.deepEqual(problemLines(cy.problems), []);
    assert.deepEqual(problemLines(cj.problems), []);
    const ey = effectiveConfig(cy.config, planPipelines(cy.config, cy.registry));
    const ej = effectiveConfig(cj.config, planPipelines(cj.config, cj.registry));
    assert.deepEqual({ ...ey, store: null }, { ...ej, store: null });
    assert.deepEqual(Object.keys(ey.pipelines as object), ['main', 'lab']);
    const main = (ey.pipelines as Record<string, { inputs: Record<string, Record<string, unknown>>; sink: Record<string, unknown> }>).main;
    assert.deepEqual(main.inputs.api, { type: 'rest', body_limit: 4096, batch_body_limit: 64 * 1024 * 1024 });
    assert.equal(main.inputs.spare.enabled, false);
    assert.equal(main.sink.fsync, 'batch');
    assert.equal(main.sink.fsync_interval_ms, 1000, 'sink defaults are filled in');
    assert.deepEqual(
      cy.pipelines.map((p) => [p.name, p.inputs.map((i) => i.id)]),
      [
        ['main', ['api', 'acme']],
        ['lab', ['lab']],
      ],
    );
  });

  it('with no config at all: the default pipeline main, its inputs → validate → blockfile', async () => {
    const c = await checkConfig({ cwd: tempDir(), env: {} });
    assert.deepEqual(c.problems, []);
    assert.deepEqual(
      c.pipelines.map((p) => ({ name: p.name, inputs: p.inputs.map((i) => i.type), stages: p.plan.stages.map((s) => s.type), sink: p.plan.sink.type })),
      [
        {
          name: 'main',
          inputs: Object.values(defaultPipelines().main.inputs).map((i) => i.type),
          stages: defaultPipelines().main.stages.map((s) => s.type),
          sink: 'blockfile',
        },
      ],
    );
  });

  it('reports every problem of a bad config at once, each with its path', async () => {
    const d = tempDir('tss-pipe-');
    writeFixturePlugin(d, { name: 'acme-input' });
    fs.writeFileSync(
      path.join(d, 'tsstore.config.yaml'),
      `
plugins: ["./acme-input", "./not-there"]
server: { host: 0.0.0.0, port: 21999, socket_path: "" }
pipelines:
  main:
    inputs:
      api:   { type: rest, colour: blue }
      one:   { type: fixture_post, port: 9200, path: /tmp/tss-same.sock }
      pigeon: { type: carrier_pigeon }
      clash: { type: fixture_post, route: /x/:store, port: 21999 }
      off:   { type: fixture_post, enabled: "maybe" }
    stages: [ { type: validate, strict: true }, { type: tumble_dry } ]
    sink: { type: blockfile, fsync: sometimes }
  second:
    inputs:
      api2: { type: rest }
      two:  { type: fixture_post, route: /two/:store, host: 127.0.0.1, port: 9200 }
      three: { type: fixture_post, route: /three/:store, path: /tmp/tss-same.sock }
    stages: []
  third:
    inputs: {}
    sink: { type: nowhere }
`,
    );
    const { problems } = await checkConfig({ cwd: d, env: {} });
    const lines = problemLines(problems);
    const want = [
      /^plugins\.1: cannot find plugin package "\.\/not-there"/,
      /^pipelines\.main\.inputs\.api\.colour: is not allowed$/,
      /^pipelines\.main\.inputs\.pigeon\.type: unknown input type "carrier_pigeon"; known: (\w+, )*fixture_post, (\w+, )*rest(, \w+)*$/,
      /^pipelines\.main\.inputs\.off\.enabled: must be a boolean$/,
      /^pipelines\.main\.inputs\.clash: claims tcp-port 0\.0\.0\.0:21999, already claimed by server\.port/,
      /^pipelines\.main\.stages\.0\.strict: is not allowed$/,
      /^pipelines\.main\.stages\.1\.type: unknown stage type "tumble_dry"; known: (\w+, )*validate(, \w+)*$/,
      /^pipelines\.main\.sink\.fsync: must be one of \[always, batch, interval, never\]$/,
      /^pipelines\.second\.sink: is required/,
      /^pipelines\.second\.inputs\.two: claims tcp-port 127\.0\.0\.1:9200, already claimed by pipelines\.main\.inputs\.one$/,
      /^pipelines\.second\.inputs\.three: claims unix-socket \/tmp\/tss-same\.sock, already claimed by pipelines\.main\.inputs\.one$/,
      /^pipelines\.third\.sink\.type: unknown sink type "nowhere"; known: (\w+, )*blockfile, (\w+, )*memory(, \w+)*$/,
    ];
    for (const w of want)
      assert.ok(
        lines.some((l) => w.test(l)),
        `missing ${w}\n${lines.join('\n')}`,
      );
    assert.equal(lines.length, want.length, lines.join('\n'));
  });

  it('finds resource conflicts across pipelines: same port, same socket path, two rest inputs', async () => {
    const d = tempDir('tss-pipe-');
    writeFixturePlugin(d, { name: 'acme-input' });
    writeConfig(d, {
      plugins: ['./acme-input'],
      server: { host: '127.0.0.1', port: 0, socket_path: '' },
      pipelines: {
        main: {
          inputs: {
            api: { type: 'rest' },
            one: { type: 'fixture_post', port: 9300, path: '/tmp/tss-one.sock' },
            spare: { type: 'fixture_post', route: '/s/:store', port: 9300, enabled: false },
          },
          stages: [],
          sink: { type: 'memory' },
        },
        other: {
          inputs: {
            api: { type: 'rest' },
            two: { type: 'fixture_post', route: '/two/:store', host: '127.0.0.1', port: 9300 },
            three: { type: 'fixture_post', route: '/three/:store', path: '/tmp/tss-one.sock' },
          },
          stages: [],
          sink: { type: 'memory' },
        },
      },
    });
    const lines = problemLines((await checkConfig({ cwd: d, env: {} })).problems);
    assert.deepEqual(lines, [
      'pipelines.other.inputs.api: claims http-route POST /api/stores/:store/data, already claimed by pipelines.main.inputs.api (there is one HTTP server and its routes are global: one such input across all pipelines)',
      'pipelines.other.inputs.two: claims tcp-port 127.0.0.1:9300, already claimed by pipelines.main.inputs.one',
      'pipelines.other.inputs.three: claims unix-socket /tmp/tss-one.sock, already claimed by pipelines.main.inputs.one',
    ]);
  });

  it("compares route claims as patterns: a route another input's route would match is a conflict for config validate and serve", async () => {
    const d = tempDir('tss-pipe-');
    cleanups.push(async () => fs.rmSync(d, { recursive: true, force: true }));
    writeFixturePlugin(d, { name: 'acme-input' });
    const file = writeConfig(d, {
      plugins: ['./acme-input'],
      server: { host: '127.0.0.1', port: 0, socket_path: '', admin_key: ADMIN_KEY },
      store: { base_path: path.join(d, 'data') },
      pipelines: {
        main: {
          inputs: {
            api: { type: 'rest' },
            w: { type: 'fixture_post', route: '/api/stores/w/data' },
            other: { type: 'fixture_post', route: '/api/stores/:store/other' },
          },
          stages: [],
          sink: { type: 'memory' },
        },
      },
    });
    const want = [
      'pipelines.main.inputs.w: claims http-route POST /api/stores/w/data, which overlaps POST /api/stores/:store/data claimed by pipelines.main.inputs.api: one request could match both (there is one HTTP server and its routes are global: one such input across all pipelines)',
    ];
    assert.deepEqual(problemLines((await checkConfig({ cwd: d, env: {} })).problems), want);
    await assert.rejects(TsstoreServer.start(await loadConfig({ file, env: {} }), { logger: silentLogger() }), (err: Error) =>
      err.message.includes(want[0].replace(/^pipelines\.main\.inputs\.w: /, '')),
    );
    assert.ok(!fs.existsSync(path.join(d, 'data', 'tsstore.lock')), 'serve refused before taking the data path');
  });

  it('route patterns overlap when one request could match both', () => {
    const yes: [string, string][] = [
      ['POST /api/stores/:store/data', 'POST /api/stores/w/data'],
      ['POST /api/stores/:store/data', 'POST /API/Stores/:name/data/'],
      ['GET /a/:b?', 'GET /a'],
      ['ALL /a/(.*)', 'GET /a/b/c'],
      ['POST /x/*', 'POST /x'],
      ['POST /f/:name.json', 'POST /f/a.json'],
    ];
    const no: [string, string][] = [
      ['POST /api/stores/:store/data', 'GET /api/stores/w/data'],
      ['POST /api/stores/:store/data', 'POST /api/stores/:store/other'],
      ['POST /api/stores/:store/data', 'POST /api/stores/:store'],
      ['GET /a/:b', 'GET /a'],
    ];
    for (const [a, b] of yes) {
      assert.ok(routesOverlap(a, b), `${a} ~ ${b}`);
      assert.ok(routesOverlap(b, a), `${b} ~ ${a}`);
    }
    for (const [a, b] of no) {
      assert.ok(!routesOverlap(a, b), `${a} !~ ${b}`);
      assert.ok(!routesOverlap(b, a), `${b} !~ ${a}`);
    }
  });

  it('runs several pipelines: each store belongs to one, inputs feed only their own', async () => {
    const dir = tempDir('tss-pipe-');
    writeFixturePlugin(dir, { name: 'acme-input' });
    const dataDir = path.join(dir, 'data');
    const file = writeConfig(dir, {
      ...JSON_CONFIG,
      server: { host: '127.0.0.1', port: 0, socket_path: '', admin_key: ADMIN_KEY },
      store: { base_path: dataDir },
    });
    const start = async (): Promise<TsstoreServer> => {
      const s = await TsstoreServer.start(await loadConfig({ file, env: {} }), { logger: silentLogger() });
      cleanups.push(() => s.stop());
      return s;
    };
    let server = await start();
    const admin = { 'X-Admin-Key': ADMIN_KEY };
    const a = await api(server.url, 'POST', '/api/stores', { name: 'a' }, admin);
    const b = await api(server.url, 'POST', '/api/stores', { name: 'b', pipeline: 'lab' }, admin);
    assert.equal(b.status, 201, b.text);
    const bad = await api(server.url, 'POST', '/api/stores', { name: 'c', pipeline: 'nope' }, admin);
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /invalid pipeline: "nope" is not configured; pipelines: main, lab/);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dataDir, 'b', 'store.json'), 'utf8')).pipeline, 'lab');
    assert.equal(JSON.parse(fs.readFileSync(path.join(dataDir, 'a', 'store.json'), 'utf8')).pipeline, undefined, 'the default pipeline is not written down');

    const ka = { 'X-API-Key': a.json.api_key as string, 'Content-Type': 'application/json' };
    const kb = { 'X-API-Key': b.json.api_key as string, 'Content-Type': 'application/json' };
    assert.equal((await api(server.url, 'POST', '/api/stores/a/data', '{"data":1}', ka)).status, 201);
    const wrong = await api(server.url, 'POST', '/api/stores/b/data', '{"data":2}', kb);
    assert.equal(wrong.status, 409);
    assert.deepEqual(wrong.json, { error: 'store b belongs to pipeline lab; this input feeds pipeline main', code: 'TSS_ERR_WRONG_PIPELINE' });
    assert.equal((await api(server.url, 'POST', '/lab/b', '"no validate stage in lab"', kb)).status, 201);
    const wrong2 = await api(server.url, 'POST', '/lab/a', '{}', ka);
    assert.equal(wrong2.json.code, 'TSS_ERR_WRONG_PIPELINE');
    assert.equal((await api(server.url, 'POST', '/fixture/a', '{"data":3}', ka)).status, 201, "the main pipeline's fixture input");
    assert.equal((await api(server.url, 'POST', '/fixture/b', '{}', kb)).json.code, 'TSS_ERR_WRONG_PIPELINE');

    assert.equal((await api(server.url, 'GET', '/api/stores/a/data/newest', undefined, ka)).json.count, 2);
    const nb = await api(server.url, 'GET', '/api/stores/b/data/newest', undefined, kb);
    assert.equal(nb.json.count, 1, "reads go to the sink of the store's pipeline");
    assert.equal((await api(server.url, 'GET', '/api/stores/b/stats', undefined, kb)).json.records, 1);

    await server.stop();
    server = await start();
    assert.equal((await api(server.url, 'GET', '/api/stores/a/data/newest', undefined, ka)).json.count, 2, 'blockfile kept a');
    assert.equal((await api(server.url, 'GET', '/api/stores/b/data/newest', undefined, kb)).json.count, 0, "b lives in lab's memory sink");
    assert.equal((await api(server.url, 'POST', '/lab/b', '{"again":true}', kb)).status, 201, 'b still belongs to lab after a restart');
    assert.equal((await api(server.url, 'POST', '/api/stores/b/data', '{"data":2}', kb)).status, 409);
  });

  it('an input with enabled: false is validated but neither started nor claiming anything', async () => {
    const dir = tempDir('tss-pipe-');
    const file = writeConfig(dir, {
      server: { host: '127.0.0.1', port: 0, socket_path: '', admin_key: ADMIN_KEY },
      store: { base_path: path.join(dir, 'data') },
      pipelines: { main: { inputs: { api: { type: 'rest', enabled: false } }, stages: [{ type: 'validate' }], sink: { type: 'memory' } } },
    });
    const server = await TsstoreServer.start(await loadConfig({ file, env: {} }), { logger: silentLogger() });
    cleanups.push(() => server.stop());
    const created = await api(server.url, 'POST', '/api/stores', { name: 's' }, { 'X-Admin-Key': ADMIN_KEY });
    const res = await api(server.url, 'POST', '/api/stores/s/data', '{"data":1}', { 'X-API-Key': created.json.api_key, 'Content-Type': 'application/json' });
    assert.equal(res.status, 404, 'no REST insert route');
    writeConfig(dir, { pipelines: { main: { inputs: { api: { type: 'rest', enabled: false, colour: 1 } }, sink: { type: 'memory' } } } });
    const lines = problemLines((await checkConfig({ cwd: dir, env: {} })).problems);
    assert.deepEqual(lines, ['pipelines.main.inputs.api.colour: is not allowed']);
  });

  it('masks secrets when printing', () => {
    const masked = maskSecrets({
      server: { admin_key: 'a-very-secret-admin-key', tls: { cert: '/c.pem', key: '/k.pem' } },
      pipelines: {
        p: {
          inputs: {
            m: { type: 'mqtt', url: 'mqtt://user:pw@broker:1883', password: 'pw', api_token: 't', client_secret: 's', keepalive_s: 60, key_file: '/x' },
            pull: { type: 'ws_pull', headers: { Authorization: 'Bearer x' } },
          },
        },
      },
    }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(masked.server.admin_key, MASK);
    assert.deepEqual(masked.server.tls, { cert: '/c.pem', key: '/k.pem' }, 'TLS file paths are not secrets');
    const m = masked.pipelines.p.inputs.m;
    assert.equal(m.url, `mqtt://user:${MASK}@broker:1883`);
    assert.deepEqual([m.password, m.api_token, m.client_secret, m.keepalive_s, m.key_file], [MASK, MASK, MASK, 60, '/x']);
    assert.deepEqual(masked.pipelines.p.inputs.pull.headers, { Authorization: MASK });
  });
});
