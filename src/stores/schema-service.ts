/**
 * Schemas of schema stores (docs/protocol.md, "Schema stores"): checking a schema body, enforcing append-only evolution,
 * and keeping the version history in `<store dir>/schema.json`
 * (schema-file.ts). The newest version is
 * published as the store's StoreView.schema, which stages and reads use.
 */
import { TssError } from '../plugin/errors.js';
import { SerialQueue } from '../plugin/kit/serial-queue.js';
import type { FieldType, SchemaField, StoreSchema } from '../plugin/stage.js';
import { readVersions, writeVersions } from './schema-file.js';
import type { StoreCatalog } from './store-catalog.js';

export const FIELD_TYPES: readonly FieldType[] = [
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'float32',
  'float64',
  'bool',
  'string',
];
export const MAX_FIELD_INDEX = 65535;
export const MAX_FIELDS = 1024;
const FIELD_NAME = /^[^\u0000-\u001f]{1,128}$/;
function invalid(why: string): TssError {
  return new TssError('TSS_ERR_SCHEMA_INVALID', `invalid schema: ${why}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v === 'object' ? 'an object' : String(v);
}

/** Checks a schema body `{"fields":[{"index","name","type"}, ...]}` and returns its fields. */
export function parseSchemaBody(body: unknown): SchemaField[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('expected an object {"fields":[{"index","name","type"}, ...]}');
  const obj = body as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (k !== 'fields' && k !== 'version') throw invalid(`unknown member "${k}": a schema has "fields" (and an ignored "version")`);
  }
  const raw = obj.fields;
  if (!Array.isArray(raw)) throw invalid(`"fields" must be an array, got ${raw === undefined ? 'nothing' : describe(raw)}`);
  if (raw.length === 0) throw invalid('"fields" must list at least one field');
  if (raw.length > MAX_FIELDS) throw invalid(`at most ${MAX_FIELDS} fields, got ${raw.length}`);
  const fields: SchemaField[] = [];
  const byName = new Map<string, number>();
  const byIndex = new Map<number, string>();
  raw.forEach((f: unknown, at) => {
    const where = `fields[${at}]`;
    if (f === null || typeof f !== 'object' || Array.isArray(f)) throw invalid(`${where} must be an object {"index","name","type"}, got ${describe(f)}`);
    const { index, name, type, ...rest } = f as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw invalid(`${where}: unknown member "${extra[0]}" (a field has index, name and type)`);
    if (typeof name !== 'string' || !FIELD_NAME.test(name))
      throw invalid(`${where}: "name" must be a string of 1-128 characters without control characters, got ${name === undefined ? 'nothing' : describe(name)}`);
    const label = `field "${name}"`;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > MAX_FIELD_INDEX) {
      throw invalid(`${label}: "index" must be an integer from 0 to ${MAX_FIELD_INDEX}, got ${index === undefined ? 'nothing' : describe(index)}`);
    }
    if (typeof type !== 'string' || !(FIELD_TYPES as readonly string[]).includes(type)) {
      throw invalid(`${label}: "type" must be one of ${FIELD_TYPES.join(', ')}, got ${type === undefined ? 'nothing' : describe(type)}`);
    }
    if (byName.has(name)) throw invalid(`${label}: the name is used twice (indices ${byName.get(name)} and ${index})`);
    if (byIndex.has(index)) throw invalid(`${label}: index ${index} is already used by field "${byIndex.get(index)}"`);
    byName.set(name, index);
    byIndex.set(index, name);
    fields.push({ index, name, type: type as FieldType });
  });
  return fields;
}

/**
 * Append-only evolution: every field of `prev` must stay with the same index, name and type;
 * new fields need new indices (guaranteed once the old ones are all kept, as indices are unique).
 * Throws TSS_ERR_SCHEMA_INVALID naming the first offending field.
 */
export function checkEvolution(prev: StoreSchema, next: readonly SchemaField[]): void {
  const nextByIndex = new Map(next.map((f) => [f.index, f]));
  const nextByName = new Map(next.map((f) => [f.name, f]));
  const rule = 'schemas are append-only: existing fields keep their index, name and type; new fields take new indices';
  for (const old of prev.fields) {
    const same = nextByIndex.get(old.index);
    if (!same) {
      const moved = nextByName.get(old.name);
      if (moved) throw invalid(`field "${old.name}": index changed from ${old.index} to ${moved.index} (${rule})`);
      throw invalid(`field "${old.name}" (index ${old.index}) was dropped (${rule})`);
    }
    if (same.name !== old.name) {
      throw invalid(`field "${same.name}": index ${old.index} belongs to field "${old.name}" (renaming or reusing an index is not allowed; ${rule})`);
    }
    if (same.type !== old.type) throw invalid(`field "${old.name}": type changed from ${old.type} to ${same.type} (${rule})`);
  }
}

function sameFields(a: readonly SchemaField[], b: readonly SchemaField[]): boolean {
  return a.length === b.length && a.every((f, i) => f.index === b[i].index && f.name === b[i].name && f.type === b[i].type);
}

/** JSON body of GET/PUT responses. */
export interface SchemaBody {
  readonly version: number;
  readonly fields: SchemaField[];
}

export function schemaJson(s: StoreSchema): SchemaBody {
  return { version: s.version, fields: s.fields.map((f) => ({ index: f.index, name: f.name, type: f.type })) };
}

/** Reads and changes schemas of a catalog's stores; one change at a time per service. */
export class SchemaService {
  private readonly changes = new SerialQueue();

  constructor(private readonly catalog: StoreCatalog) {}

  /** The current schema; TSS_ERR_NOT_FOUND when none was set yet. */
  get(store: string): StoreSchema {
    this.schemaStore(store);
    const schema = this.catalog.view(store)?.schema;
    if (!schema) throw new TssError('TSS_ERR_NOT_FOUND', `store ${store} has no schema yet: set one with PUT /api/stores/${store}/schema`);
    return schema;
  }

  /**
   * Sets a new schema version from a request body. An unchanged field list keeps the current
   * version (PUT is idempotent); any other change must be append-only.
   */
  set(store: string, body: unknown): Promise<{ schema: StoreSchema; created: boolean }> {
    this.schemaStore(store);
    const fields = parseSchemaBody(body);
    const run = async (): Promise<{ schema: StoreSchema; created: boolean }> => {
      const dir = this.catalog.storeDir(store);
      const versions = await readVersions(dir);
      const prev = versions[versions.length - 1];
      if (prev) {
        if (sameFields(prev.fields, fields)) return { schema: prev, created: false };
        checkEvolution(prev, fields);
      }
      const schema: StoreSchema = { version: (prev?.version ?? 0) + 1, fields };
      await writeVersions(dir, [...versions, schema]);
      this.catalog.setSchemaView(store, schema);
      return { schema, created: true };
    };
    return this.changes.run(run);
  }

  private schemaStore(store: string): void {
    const dataType = this.catalog.meta(store).data_type;
    if (dataType !== 'schema') {
      throw new TssError(
        'TSS_ERR_NOT_SCHEMA_STORE',
        `store ${store} is a ${dataType} store, not a schema store: only stores created with data_type "schema" have a schema`,
      );
    }
  }
}
