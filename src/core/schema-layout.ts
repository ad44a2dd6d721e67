/**
 * A schema compiled for the hot paths: field lookups by name and by compact index key, the
 * compact key bytes in index order, and expansion of stored compact records for reads.
 * Compiled once per schema version (StoreSchema objects are immutable and replaced on change).
 */
import { memberKey, scanMembers } from './json/index.js';
import type { SchemaField, StoreSchema } from '../plugin/stage.js';

export interface SchemaLayout {
  /** Fields sorted by index: the order of compact records. */
  readonly byIndexOrder: readonly SchemaField[];
  /** `"<index>":` for each field of `byIndexOrder`. */
  readonly compactKeys: readonly Buffer[];
  /** Unescaped key text of each field of `byIndexOrder`, as UTF-8 bytes: its name, and its index. */
  readonly nameBytes: readonly Buffer[];
  readonly indexBytes: readonly Buffer[];
  /** Field name → position in `byIndexOrder`. */
  readonly positionByName: ReadonlyMap<string, number>;
  /** Index as a compact key string (`"3"`) → position in `byIndexOrder`. */
  readonly positionByIndexKey: ReadonlyMap<string, number>;
  /** For expansion: compact key string → `"name":` (JSON-escaped), and the schema's field order. */
  readonly nameKeyByIndexKey: ReadonlyMap<string, string>;
  readonly schemaOrder: readonly string[];
}

const cache = new WeakMap<StoreSchema, SchemaLayout>();

export function layoutOf(schema: StoreSchema): SchemaLayout {
  let layout = cache.get(schema);
  if (!layout) {
    const byIndexOrder = [...schema.fields].sort((a, b) => a.index - b.index);
    layout = {
      byIndexOrder,
      compactKeys: byIndexOrder.map((f) => Buffer.from(`"${f.index}":`)),
      nameBytes: byIndexOrder.map((f) => Buffer.from(f.name, 'utf8')),
      indexBytes: byIndexOrder.map((f) => Buffer.from(String(f.index), 'latin1')),
      positionByName: new Map(byIndexOrder.map((f, i) => [f.name, i])),
      positionByIndexKey: new Map(byIndexOrder.map((f, i) => [String(f.index), i])),
      nameKeyByIndexKey: new Map(schema.fields.map((f) => [String(f.index), `${JSON.stringify(f.name)}:`])),
      schemaOrder: schema.fields.map((f) => String(f.index)),
    };
    cache.set(schema, layout);
  }
  return layout;
}

/**
 * Stored compact bytes `{"1":72.5,"3":"room-1"}` → `{"temperature":72.5,"room":"room-1"}` in
 * the schema's field order, each value's stored bytes copied verbatim (numbers never pass
 * through a JS number). Fields the record lacks (e.g. added by a later version) are left out;
 * a key the schema does not know is kept under its index so nothing stored is hidden.
 */
export function expandCompact(schema: StoreSchema, stored: Buffer): string {
  let i = 0;
  while (i < stored.length && (stored[i] === 0x20 || stored[i] === 0x0a || stored[i] === 0x0d || stored[i] === 0x09)) i++;
  if (stored[i] !== 0x7b) return stored.toString('utf8');
  const layout = layoutOf(schema);
  const values = new Map<string, string>();
  scanMembers(stored, (ks, ke, s, e) => {
    values.set(memberKey(stored, ks, ke), stored.toString('utf8', s, e));
  });
  const parts: string[] = [];
  for (const key of layout.schemaOrder) {
    const v = values.get(key);
    if (v !== undefined) {
      parts.push(layout.nameKeyByIndexKey.get(key)! + v);
      values.delete(key);
    }
  }
  for (const [key, v] of values) parts.push(`${JSON.stringify(key)}:${v}`);
  return `{${parts.join(',')}}`;
}
