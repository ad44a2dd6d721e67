/**
 * Schema stores: checks each record's data against the store's schema and stores it compact.
 *
 *   full    {"temperature":72.5,"room":"room-1"}  ─┐
 *                                                    ├─▶ checked per field type ─▶ {"1":72.5,"3":"room-1"}
 *   compact {"1":72.5,"3":"room-1"}               ─┘      (keys in index order, value bytes verbatim)
 *
 * Runs after `validate`, which guarantees the payload is valid JSON (by a strict byte scan that
 * builds nothing, so `parsed` is usually unset). Values are checked and copied
 * from the raw token bytes, never from a parsed value, whose numbers may be rounded. Other stores
 * pass through untouched.
 */
import {
  type IngestRecord,
  layoutOf,
  memberKey,
  type MemberSpan,
  nextMember,
  objectStart,
  reject,
  type Rejection,
  type SchemaLayout,
  type Stage,
  type StoreSchema,
  type StoreView,
} from 'tsstore/plugin';
import { checkValue, fieldCheck, shown, type FieldCheck } from './value-check.js';

const LBRACE = 0x7b,
  RBRACE = 0x7d,
  COMMA = 0x2c;
const MAX_LISTED = 10;

function violation(why: string): Rejection {
  return reject('TSS_ERR_SCHEMA_VIOLATION', `data does not match schema: ${why}`);
}

function firstByte(b: Buffer): number {
  let i = 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  return b[i];
}

function kindOf(c: number): string {
  if (c === 0x5b) return 'an array';
  if (c === 0x22) return 'a string';
  if (c === 0x74 || c === 0x66) return 'a boolean';
  if (c === 0x6e) return 'null';
  return 'a number';
}

function listed(names: readonly string[]): string {
  return names.length > MAX_LISTED ? `${names.slice(0, MAX_LISTED).join(', ')}, ...` : names.join(', ');
}

/** Position of the field whose key bytes equal b[ks..ke), trying `from` first; -1 when none. */
function findKey(keys: readonly Buffer[], b: Buffer, ks: number, ke: number, from: number): number {
  const len = ke - ks;
  const n = keys.length;
  for (let j = 0; j < n; j++) {
    const p = from + j < n ? from + j : from + j - n;
    const k = keys[p];
    if (k.length !== len) continue;
    let i = 0;
    while (i < len && k[i] === b[ks + i]) i++;
    if (i === len) return p;
  }
  return -1;
}

function hasBackslash(b: Buffer, ks: number, ke: number): boolean {
  for (let i = ks; i < ke; i++) if (b[i] === 0x5c) return true;
  return false;
}

const checkCache = new WeakMap<SchemaLayout, FieldCheck[]>();

function checksOf(layout: SchemaLayout): FieldCheck[] {
  let checks = checkCache.get(layout);
  if (!checks) {
    checks = layout.byIndexOrder.map((f) => fieldCheck(f.type));
    checkCache.set(layout, checks);
  }
  return checks;
}

export class SchemaFormatStage implements Stage {
  /** Per-record scratch (process is synchronous): value span of each field position, or -1. */
  private starts = new Int32Array(16);
  private ends = new Int32Array(16);
  private readonly member: MemberSpan = { keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0 };

  process(records: IngestRecord[], store: StoreView): (IngestRecord | Rejection)[] {
    if (store.dataType !== 'schema') return records;
    const schema = store.schema;
    if (!schema) {
      const r = reject(
        'TSS_ERR_SCHEMA_REQUIRED',
        `store has no schema: set one with PUT /api/stores/${store.name}/schema or with tsstore schema set ${store.name} FILE, before inserting`,
      );
      return records.map(() => r);
    }
    const layout = layoutOf(schema);
    if (this.starts.length < layout.byIndexOrder.length) {
      this.starts = new Int32Array(layout.byIndexOrder.length);
      this.ends = new Int32Array(layout.byIndexOrder.length);
    }
    const checks = checksOf(layout);
    return records.map((r) => this.record(r, schema, layout, checks));
  }

  private record(r: IngestRecord, schema: StoreSchema, layout: SchemaLayout, checks: readonly FieldCheck[]): IngestRecord | Rejection {
    const b = r.payload;
    const c = firstByte(b);
    if (c !== LBRACE) return violation(`data must be a flat JSON object of schema fields, got ${kindOf(c)}`);
    const compact = r.schemaFormat === 'compact';
    const fields = layout.byIndexOrder;
    const keys = compact ? layout.indexBytes : layout.nameBytes;
    const { starts, ends } = this;
    for (let i = 0; i < fields.length; i++) starts[i] = -1;
    const m = this.member;
    let size = 2;
    let present = 0;
    let next = 0;
    for (let i = nextMember(b, objectStart(b), m); i !== -1; i = nextMember(b, i, m)) {
      const ks = m.keyStart,
        ke = m.keyEnd,
        s = m.valueStart,
        e = m.valueEnd;
      let pos = findKey(keys, b, ks, ke, next);
      if (pos === -1 && hasBackslash(b, ks, ke)) {
        const key = memberKey(b, ks, ke);
        pos = (compact ? layout.positionByIndexKey.get(key) : layout.positionByName.get(key)) ?? -1;
      }
      if (pos === -1) {
        const key = JSON.stringify(shown(memberKey(b, ks, ke)));
        return violation(
          compact
            ? `unknown field index ${key} (compact data is keyed by the schema's field indices: ${listed(fields.map((f) => String(f.index)))})`
            : `unknown field ${key} (the schema's fields are ${listed(schema.fields.map((f) => f.name))})`,
        );
      }
      const field = fields[pos];
      if (starts[pos] !== -1) return violation(`field "${field.name}" appears more than once`);
      const bad = checkValue(checks[pos], b, s, e);
      if (bad !== undefined) return violation(`field "${field.name}" (${field.type}): ${bad}`);
      starts[pos] = s;
      ends[pos] = e;
      size += layout.compactKeys[pos].length + (e - s);
      present++;
      next = pos + 1 < fields.length ? pos + 1 : 0;
    }
    if (present > 1) size += present - 1;
    const out = Buffer.allocUnsafe(size);
    out[0] = LBRACE;
    let at = 1;
    for (let i = 0; i < fields.length; i++) {
      const s = starts[i];
      if (s === -1) continue;
      if (at > 1) out[at++] = COMMA;
      const key = layout.compactKeys[i];
      for (let k = 0; k < key.length; k++) out[at++] = key[k];
      const e = ends[i];
      // Short spans copy faster byte by byte than through Buffer#copy's native call.
      if (e - s < 64) for (let k = s; k < e; k++) out[at++] = b[k];
      else at += b.copy(out, at, s, e);
    }
    out[at] = RBRACE;
    r.payload = out;
    r.parsed = undefined;
    r.wellFormed = true;
    r.format = 'json';
    return r;
  }
}
