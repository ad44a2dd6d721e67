/**
 * The schema API and CLI: GET/PUT /api/stores/:store/schema, body checks, append-only evolution
 * (each refusal a 400 naming the field), the version history on disk across restarts, records
 * written under an earlier version, `tsstore create --type schema` and `tsstore schema set|get`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_KEY, api, runCli, startServer, tempDir, type TestServer } from './support/server.js';

const V1 = {
  fields: [
    { index: 1, name: 'temp', type: 'float64' },
    { index: 2, name: 'room', type: 'string' },
  ],
};
const V2 = { fields: [...V1.fields, { index: 3, name: 'count', type: 'uint32' }] };
const RULE = '(schemas are append-only: existing fields keep their index, name and type; new fields take new indices)';

interface EvolutionCase {
  readonly name: string;
  readonly fields: unknown[];
  readonly error: string;
}

const EVOLUTION_CASES: readonly EvolutionCase[] = [
  {
    name: 'rename',
    fields: [{ index: 1, name: 'temperature', type: 'float64' }, V2.fields[1], V2.fields[2]],
    error: `invalid schema: field "temperature": index 1 belongs to field "temp" (renaming or reusing an index is not allowed; ${RULE.slice(1)}`,
  },
  {
    name: 'retype',
    fields: [V2.fields[0], { index: 2, name: 'room', type: 'int32' }, V2.fields[2]],
    error: `invalid schema: field "room": type changed from string to int32 ${RULE}`,
  },
  { name: 'drop', fields: [V2.fields[0], V2.fields[1]], error: `invalid schema: field "count" (index 3) was dropped ${RULE}` },
  {
    name: 'reuse an index',
    fields: [V2.fields[0], V2.fields[1], { index: 3, name: 'humidity', type: 'uint32' }],
    error: `invalid schema: field "humidity": index 3 belongs to field "count" (renaming or reusing an index is not allowed; ${RULE.slice(1)}`,
  },
  {
    name: 'move to another index',
    fields: [V2.fields[0], V2.fields[1], { index: 7, name: 'count', type: 'uint32' }],
    error: `invalid schema: field "count": index changed from 3 to 7 ${RULE}`,
  },
];

const BAD_BODIES: readonly { name: string; body: unknown; error: string }[] = [
  { name: 'not an object', body: [1], error: 'invalid JSON: expected a schema object {"fields":[...]}' },
  { name: 'no fields', body: {}, error: 'invalid schema: "fields" must be an array, got nothing' },
  { name: 'empty fields', body: { fields: [] }, error: 'invalid schema: "fields" must list at least one field' },
  {
    name: 'unknown member',
    body: { fields: V1.fields, extra: 1 },
    error: 'invalid schema: unknown member "extra": a schema has "fields" (and an ignored "version")',
  },
  { name: 'field not an object', body: { fields: ['temp'] }, error: 'invalid schema: fields[0] must be an object {"index","name","type"}, got "temp"' },
  {
    name: 'unknown type',
    body: { fields: [{ index: 1, name: 'a', type: 'int128' }] },
    error:
      'invalid schema: field "a": "type" must be one of int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64, bool, string, got "int128"',
  },
  {
    name: 'fractional index',
    body: { fields: [{ index: 1.5, name: 'a', type: 'int8' }] },
    error: 'invalid schema: field "a": "index" must be an integer from 0 to 65535, got 1.5',
  },
  {
    name: 'negative index',
    body: { fields: [{ index: -1, name: 'a', type: 'int8' }] },
    error: 'invalid schema: field "a": "index" must be an integer from 0 to 65535, got -1',
  },
  {
    name: 'missing name',
    body: { fields: [{ index: 1, type: 'int8' }] },
    error: 'invalid schema: fields[0]: "name" must be a string of 1-128 characters without control characters, got nothing',
  },
  {
    name: 'duplicate name',
    body: {
      fields: [
        { index: 1, name: 'a', type: 'int8' },
        { index: 2, name: 'a', type: 'int8' },
      ],
    },
    error: 'invalid schema: field "a": the name is used twice (indices 1 and 2)',
  },
  {
    name: 'duplicate index',
    body: {
      fields: [
        { index: 1, name: 'a', type: 'int8' },
        { index: 1, name: 'b', type: 'int8' },
      ],
    },
    error: 'invalid schema: field "b": index 1 is already used by field "a"',
  },
  {
    name: 'extra field member',
    body: { fields: [{ index: 1, name: 'a', type: 'int8', unit: 'C' }] },
    error: 'invalid schema: fields[0]: unknown member "unit" (a field has index, name and type)',
  },
];

describe('schema API', () => {
  let s: TestServer;
  let key: string;
  const h = (): Record<string, string> => ({ 'X-API-Key': key });
  before(async () => {
    s = await startServer();
    key = await s.createStore('sensors', { data_type: 'schema' });
  });
  after(() => s.stop());

  it('GET before any schema is a 404; PUT sets version 1; GET returns it; the admin key works too', async () => {
    const none = await api(s.url, 'GET', '/api/stores/sensors/schema', undefined, h());
    assert.equal(none.status, 404);
    assert.match(none.json.error, /has no schema yet/);
    const put = await api(s.url, 'PUT', '/api/stores/sensors/schema', V1, h());
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.json, { version: 1, ...V1 });
    const got = await api(s.url, 'GET', '/api/stores/sensors/schema', undefined, { 'X-Admin-Key': ADMIN_KEY });
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, { version: 1, ...V1 });
  });

  it("needs a key: none is 401, another store's key is 401, a wrong admin key is 401", async () => {
    const other = await s.createStore('other', { data_type: 'schema' });
    assert.equal((await api(s.url, 'GET', '/api/stores/sensors/schema')).status, 401);
    assert.equal((await api(s.url, 'PUT', '/api/stores/sensors/schema', V1, { 'X-API-Key': other })).status, 401);
    assert.equal((await api(s.url, 'PUT', '/api/stores/sensors/schema', V1, { 'X-Admin-Key': 'x'.repeat(30) })).status, 401);
  });

  it('refuses a schema for a store that is not a schema store', async () => {
    const jsonKey = await s.createStore('plain');
    const res = await api(s.url, 'PUT', '/api/stores/plain/schema', V1, { 'X-API-Key': jsonKey });
    assert.equal(res.status, 400);
    assert.equal(res.json.code, 'TSS_ERR_NOT_SCHEMA_STORE');
    assert.equal(res.json.error, 'store plain is a json store, not a schema store: only stores created with data_type "schema" have a schema');
    assert.equal((await api(s.url, 'GET', '/api/stores/plain/schema', undefined, { 'X-API-Key': jsonKey })).status, 400);
  });

  it('refuses malformed schema bodies, each with a clear message', async () => {
    for (const c of BAD_BODIES) {
      const res = await api(s.url, 'PUT', '/api/stores/sensors/schema', c.body, h());
      assert.equal(res.status, 400, c.name);
      assert.equal(res.json.error, c.error, c.name);
    }
    const broken = await api(s.url, 'PUT', '/api/stores/sensors/schema', '{"fields":', { ...h(), 'Content-Type': 'application/json' });
    assert.equal(broken.status, 400);
    assert.match(broken.json.error, /^invalid JSON/);
  });

  it('evolution is append-only: adding is version 2, every other change is a 400 naming the field', async () => {
    const v1rec = await api(s.url, 'POST', '/api/stores/sensors/data', '{"data":{"room":"lab","temp":21.5}}', { ...h(), 'Content-Type': 'application/json' });
    assert.equal(v1rec.status, 201, v1rec.text);
    const added = await api(s.url, 'PUT', '/api/stores/sensors/schema', V2, h());
    assert.equal(added.status, 200, added.text);
    assert.equal(added.json.version, 2);
    const again = await api(s.url, 'PUT', '/api/stores/sensors/schema', { version: 9, ...V2 }, h());
    assert.equal(again.json.version, 2, 'the same fields again change nothing');
    for (const c of EVOLUTION_CASES) {
      const res = await api(s.url, 'PUT', '/api/stores/sensors/schema', { fields: c.fields }, h());
      assert.equal(res.status, 400, c.name);
      assert.equal(res.json.code, 'TSS_ERR_SCHEMA_INVALID', c.name);
      assert.equal(res.json.error, c.error, c.name);
    }
    assert.equal((await api(s.url, 'GET', '/api/stores/sensors/schema', undefined, h())).json.version, 2);
    const v2rec = await api(s.url, 'POST', '/api/stores/sensors/data', '{"data":{"count":4294967295,"temp":-3}}', {
      ...h(),
      'Content-Type': 'application/json',
    });
    assert.equal(v2rec.status, 201, v2rec.text);
    const all = await api(s.url, 'GET', '/api/stores/sensors/data/oldest', undefined, h());
    assert.match(all.text, /"data":\{"temp":21.5,"room":"lab"\}\},\{.*"data":\{"temp":-3,"count":4294967295\}\}\],"count":2\}$/);
    const reordered = await api(
      s.url,
      'PUT',
      '/api/stores/sensors/schema',
      { fields: [V2.fields[2], V2.fields[0], V2.fields[1], { index: 4, name: 'ok', type: 'bool' }] },
      h(),
    );
    assert.equal(reordered.json.version, 3, 'order is free; a new field is version 3');
    const expanded = await api(s.url, 'GET', '/api/stores/sensors/data/oldest?limit=1', undefined, h());
    assert.match(expanded.text, /"data":\{"temp":21.5,"room":"lab"\}/);
    const newest = await api(s.url, 'GET', '/api/stores/sensors/data/newest?limit=1', undefined, h());
    assert.match(newest.text, /"data":\{"count":4294967295,"temp":-3\}/, "expansion follows the newest version's order");
  });

  it('keeps the version history in schema.json and the newest version across a restart', async () => {
    const file = path.join(s.dataDir, 'sensors', 'schema.json');
    const onDisk = JSON.parse(fs.readFileSync(file, 'utf8')) as { versions: { version: number; fields: unknown[] }[] };
    assert.deepEqual(
      onDisk.versions.map((v) => v.version),
      [1, 2, 3],
    );
    assert.deepEqual(onDisk.versions[0].fields, V1.fields);
    await s.stop();
    s = await startServer({ dataDir: s.dataDir });
    const got = await api(s.url, 'GET', '/api/stores/sensors/schema', undefined, h());
    assert.equal(got.json.version, 3);
    const bad = await api(s.url, 'POST', '/api/stores/sensors/data', '{"data":{"ok":"yes"}}', { ...h(), 'Content-Type': 'application/json' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'data does not match schema: field "ok" (bool): expected true or false, got the string "yes"');
    const reset = await api(s.url, 'POST', '/api/stores/sensors/reset', undefined, h());
    assert.equal(reset.status, 200, reset.text);
    assert.equal((await api(s.url, 'GET', '/api/stores/sensors/schema', undefined, h())).json.version, 3, 'a reset empties the data, not the schema');
    const dropped = await api(s.url, 'PUT', '/api/stores/sensors/schema', V2, h());
    assert.equal(dropped.status, 400);
    assert.match(dropped.json.error, /field "ok" \(index 4\) was dropped/);
  });
});

describe('schema CLI', () => {
  it('create --type schema, schema set from a file and schema get on the data path; errors exit 2', async () => {
    const dir = tempDir();
    const env = { TSSTORE_DATA_PATH: dir, TSSTORE_ADMIN_KEY: undefined };
    const created = await runCli(['create', 'meters', '--type', 'schema', '--json'], { env });
    assert.equal(created.code, 0, created.stderr);
    const file = path.join(dir, '..', `${path.basename(dir)}-schema.json`);
    fs.writeFileSync(file, JSON.stringify(V1));
    const set = await runCli(['schema', 'set', 'meters', file], { env });
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.trim(), 'Schema of store "meters" is version 1 with 2 fields.');
    const got = await runCli(['schema', 'get', 'meters'], { env });
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(JSON.parse(got.stdout), { version: 1, ...V1 });
    fs.writeFileSync(file, JSON.stringify({ fields: [{ index: 1, name: 'temp', type: 'int8' }, V1.fields[1]] }));
    const refused = await runCli(['schema', 'set', 'meters', file], { env });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /field "temp": type changed from float64 to int8/);
    fs.writeFileSync(file, '{"fields":[');
    const broken = await runCli(['schema', 'set', 'meters', file], { env });
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /is not valid JSON/);
    fs.rmSync(file);
  });

  it('works through a running server, which applies the schema at once', async () => {
    const s = await startServer();
    try {
      const env = { TSSTORE_DATA_PATH: s.dataDir, TSSTORE_ADMIN_KEY: ADMIN_KEY };
      const created = await runCli(['create', 'live', '--type', 'schema', '--json'], { env });
      assert.equal(created.code, 0, created.stderr);
      const key = (JSON.parse(created.stdout) as { api_key: string }).api_key;
      const file = path.join(tempDir(), 'schema.json');
      fs.writeFileSync(file, JSON.stringify(V2));
      const set = await runCli(['schema', 'set', 'live', file, '--json'], { env });
      assert.equal(set.code, 0, set.stderr);
      assert.deepEqual(JSON.parse(set.stdout), { version: 1, ...V2 });
      const ins = await api(s.url, 'POST', '/api/stores/live/data', '{"data":{"count":7}}', { 'X-API-Key': key, 'Content-Type': 'application/json' });
      assert.equal(ins.status, 201, ins.text);
      const notSchema = await runCli(['create', 'logs', '--type', 'text'], { env });
      assert.equal(notSchema.code, 0, notSchema.stderr);
      const refused = await runCli(['schema', 'get', 'logs'], { env });
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /store logs is a text store, not a schema store/);
    } finally {
      await s.stop();
    }
  });
});

describe('schema stores on disk', () => {
  it('the block-file engine holds the compact form, never the field names', async () => {
    const s = await startServer({
      pipelines: { main: { inputs: { api: { type: 'rest' } }, stages: [{ type: 'validate' }, { type: 'schema_format' }], sink: { type: 'blockfile' } } },
    });
    try {
      const key = await s.createStore('disk', { data_type: 'schema', num_blocks: 8, data_block_size: 4096 });
      const h = { 'X-API-Key': key };
      assert.equal((await api(s.url, 'PUT', '/api/stores/disk/schema', V2, h)).status, 200);
      const ins = await api(s.url, 'POST', '/api/stores/disk/data', '{"data":{"room":"lab-7","count":18,"temp":72.50}}', {
        ...h,
        'Content-Type': 'application/json',
      });
      assert.equal(ins.status, 201, ins.text);
      assert.equal(ins.json.size, '{"1":72.50,"2":"lab-7","3":18}'.length);
      const dir = path.join(s.dataDir, 'disk');
      const data = fs
        .readdirSync(dir)
        .filter((f) => !/^(store|keys|schema)\.json$/.test(f))
        .map((f) => fs.readFileSync(path.join(dir, f)));
      const all = Buffer.concat(data);
      assert.ok(all.includes('{"1":72.50,"2":"lab-7","3":18}'), 'the compact record is in the store files');
      assert.ok(!all.includes('"temp"') && !all.includes('"room"'), 'no field names on disk');
    } finally {
      await s.stop();
    }
  });
});

describe('schema stores and export/import', () => {
  it('export writes field names, import takes them back, every digit kept', async () => {
    const s = await startServer();
    try {
      const env = { TSSTORE_DATA_PATH: s.dataDir, TSSTORE_ADMIN_KEY: ADMIN_KEY };
      const keys: Record<string, string> = {};
      for (const name of ['src', 'dst']) {
        keys[name] = await s.createStore(name, { data_type: 'schema' });
        assert.equal((await api(s.url, 'PUT', `/api/stores/${name}/schema`, V2, { 'X-API-Key': keys[name] })).status, 200);
      }
      const ins = await api(s.url, 'POST', '/api/stores/src/data', '{"timestamp":1704067200000000001,"data":{"count":4294967295,"temp":-0.50}}', {
        'X-API-Key': keys.src,
        'Content-Type': 'application/json',
      });
      assert.equal(ins.status, 201, ins.text);
      const file = path.join(tempDir(), 'src.ndjson');
      const exported = await runCli(['export', 'src', '--output', file], { env });
      assert.equal(exported.code, 0, exported.stderr);
      assert.equal(fs.readFileSync(file, 'utf8'), '{"timestamp":1704067200000000001,"data":{"temp":-0.50,"count":4294967295}}\n');
      const imported = await runCli(['import', 'dst', file], { env });
      assert.equal(imported.code, 0, imported.stderr);
      const back = await api(s.url, 'GET', '/api/stores/dst/data/time/1704067200000000001?format=compact', undefined, { 'X-API-Key': keys.dst });
      assert.match(back.text, /"data":\{"1":-0\.50,"3":4294967295\}\}$/);
    } finally {
      await s.stop();
    }
  });
});
