import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { checkConfig } from 'tsstore';
import { decodeEnvelope, type IngestRecord, type Rejection, type SchemaFormat, type StoreSchema, type StoreView } from 'tsstore/plugin';
import { ValidateStage } from '../validate/validate-stage.js';
import { SchemaFormatStage } from './schema-format-stage.js';
import { fieldIndex, SHAPE_CASES, TABLE_SCHEMA, VALUE_CASES } from '../../../test/support/schema-cases.js';

const SRC_DIR = path.resolve(__dirname, '../../../../plugins/stages/schema_format');
const schema: StoreSchema = { version: 1, fields: TABLE_SCHEMA.fields };
const view: StoreView = { name: 's', dataType: 'schema', schema };
const validate = new ValidateStage();
const stage = new SchemaFormatStage();

/** validate → schema_format on one envelope, as the pipeline runs them. */
function run(envelope: string, format: SchemaFormat, v: StoreView = view): IngestRecord | Rejection {
  const env = decodeEnvelope(Buffer.from(envelope));
  assert.ok(env.ok, 'envelope decodes');
  const rec: IngestRecord = { store: v.name, payload: env.payload, wellFormed: true, format: 'json', schemaFormat: format, origin: { input: 'test' } };
  const [after] = validate.process([rec], v);
  if (!('store' in after)) return after;
  return stage.process([after], v)[0] as IngestRecord | Rejection;
}

describe('schema_format stage', () => {
  it('checks every value x type case exactly, in both formats', () => {
    for (const c of VALUE_CASES) {
      const idx = fieldIndex(c.type);
      for (const format of ['full', 'compact'] as const) {
        const key = format === 'full' ? `f_${c.type}` : String(idx);
        const out = run(`{"data":{${JSON.stringify(key)}:${c.token}}}`, format);
        const label = `${c.type} ${c.token} (${format})`;
        if (c.error === undefined) {
          assert.ok('store' in out, `${label} accepted: ${JSON.stringify(out)}`);
          assert.equal(out.payload.toString('utf8'), `{"${idx}":${c.token}}`, label);
        } else {
          assert.ok(!('store' in out), `${label} rejected`);
          assert.equal(out.code, 'TSS_ERR_SCHEMA_VIOLATION', label);
          assert.equal(out.message, c.error, label);
        }
      }
    }
  });

  it('rejects wrong shapes with messages naming the field', () => {
    for (const c of SHAPE_CASES) {
      const out = run(`{"data":${c.data}}`, c.format);
      assert.ok(!('store' in out), c.name);
      assert.equal(out.message, c.error, c.name);
    }
  });

  it('stores present fields in index order with the value bytes verbatim', () => {
    const s: StoreSchema = {
      version: 1,
      fields: [
        { index: 3, name: 'room', type: 'string' },
        { index: 1, name: 'temp', type: 'float64' },
        { index: 2, name: 'n', type: 'uint64' },
      ],
    };
    const v: StoreView = { name: 'o', dataType: 'schema', schema: s };
    const out = run('{"data": { "n" : 18446744073709551615 , "room":"a\\u00e9\\"b", "temp": 72.50 } }', 'full', v);
    assert.ok('store' in out);
    const stored = out.payload.toString('utf8');
    assert.equal(stored, '{"1":72.50,"2":18446744073709551615,"3":"a\\u00e9\\"b"}');
    const empty = run('{"data":{}}', 'full', v);
    assert.ok('store' in empty);
    assert.equal(empty.payload.toString(), '{}');
  });

  it('matches escaped and non-ASCII keys exactly', () => {
    const s: StoreSchema = {
      version: 1,
      fields: [
        { index: 1, name: 'température', type: 'int16' },
        { index: 2, name: 'a"b', type: 'bool' },
      ],
    };
    const v: StoreView = { name: 'u', dataType: 'schema', schema: s };
    const raw = run('{"data":{"température":-5,"a\\"b":true}}', 'full', v);
    assert.ok('store' in raw);
    assert.equal(raw.payload.toString(), '{"1":-5,"2":true}');
    const escaped = run('{"data":{"temp\\u00e9rature":7}}', 'full', v);
    assert.ok('store' in escaped);
    assert.equal(escaped.payload.toString(), '{"1":7}');
    const unknown = run('{"data":{"temperature":7}}', 'full', v);
    assert.ok(!('store' in unknown));
    assert.equal(unknown.message, 'data does not match schema: unknown field "temperature" (the schema\'s fields are température, a"b)');
  });

  it('refuses every record of a schema store without a schema, and passes other stores through', () => {
    const none: StoreView = { name: 'bare', dataType: 'schema' };
    const out = stage.process([{ store: 'bare', payload: Buffer.from('{"a":1}'), parsed: { a: 1 }, format: 'json', origin: { input: 't' } }], none);
    assert.equal((out[0] as Rejection).code, 'TSS_ERR_SCHEMA_REQUIRED');
    assert.match((out[0] as Rejection).message, /^store has no schema: set one with PUT \/api\/stores\/bare\/schema/);
    const rec: IngestRecord = { store: 'j', payload: Buffer.from('{"x": 1.50}'), parsed: { x: 1.5 }, format: 'json', origin: { input: 't' } };
    const [same] = stage.process([rec], { name: 'j', dataType: 'json' });
    assert.equal(same, rec);
    assert.equal(rec.payload.toString(), '{"x": 1.50}');
  });

  it('takes unparsed lines (Unix socket) through validate: the strict scan judges, JSON.parse words the error', () => {
    const line = (text: string): IngestRecord | Rejection => {
      const rec: IngestRecord = { store: 's', payload: Buffer.from(text), format: 'json', schemaFormat: 'full', origin: { input: 'test' } };
      const [after] = validate.process([rec], view);
      return 'store' in after ? (stage.process([after], view)[0] as IngestRecord | Rejection) : after;
    };
    const good = line(' {"f_int8":-1, "f_string":"a\\u00e9"} ');
    assert.ok('store' in good);
    assert.equal(good.payload.toString(), '{"1":-1,"12":"a\\u00e9"}');
    const broken = line('{"f_int8":1');
    assert.ok(!('store' in broken));
    assert.equal(broken.code, 'TSS_ERR_INVALID_JSON');
    assert.equal(
      broken.message,
      (() => {
        try {
          JSON.parse('{"f_int8":1');
          return '';
        } catch (err) {
          return `invalid JSON: ${(err as Error).message}`;
        }
      })(),
    );
    const nested = line('{"f_int8":{"a":[1]}}');
    assert.ok(!('store' in nested));
    assert.equal(nested.message, 'data does not match schema: field "f_int8" (int8): nested objects are not allowed (data is a flat object of scalar values)');
    const array = line('[1]');
    assert.ok(!('store' in array));
    assert.equal(array.message, 'data does not match schema: data must be a flat JSON object of schema fields, got an array');
  });

  it('never throws on bytes that skipped validate', () => {
    for (const junk of ['{"f_int64":12345678901234567x9}', '{"f_int8":', '{"f_string":"abc', '{', '{"f_float32":1e999x}']) {
      const out = stage.process([{ store: 's', payload: Buffer.from(junk), format: 'json', origin: { input: 't' } }], view);
      assert.equal(out.length, 1, junk);
    }
  });

  it('judges each record of a batch on its own', () => {
    const recs = ['{"f_int8":1}', '{"f_int8":300}', '{"f_bool":true}'].map((d): IngestRecord => ({
      store: 's',
      payload: Buffer.from(d),
      parsed: JSON.parse(d),
      format: 'json',
      origin: { input: 't' },
    }));
    const out = stage.process(recs, view);
    assert.equal((out[0] as IngestRecord).payload.toString(), '{"1":1}');
    assert.equal((out[1] as Rejection).message, 'data does not match schema: field "f_int8" (int8): 300 is out of range -128..127');
    assert.equal((out[2] as IngestRecord).payload.toString(), '{"11":true}');
  });

  it('sample.yaml is a valid config', async () => {
    const {
      problems,
      pipelines: [{ plan }],
    } = await checkConfig({ file: path.join(SRC_DIR, 'sample.yaml'), env: {} });
    assert.deepEqual(problems, []);
    assert.deepEqual(
      plan.stages.map((s) => s.type),
      ['validate', 'schema_format'],
    );
  });
});
