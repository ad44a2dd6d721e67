/** Reads of schema stores: stored compact records expand to field names in schema order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoreSchema, StoreView } from '../src/plugin/stage.js';
import { renderData } from '../src/core/render-data.js';

describe('renderData for schema stores', () => {
  it('expands compact records in schema order, value bytes verbatim; compact reads are the stored bytes', () => {
    const s: StoreSchema = {
      version: 1,
      fields: [
        { index: 3, name: 'room', type: 'string' },
        { index: 1, name: 'temp', type: 'float64' },
        { index: 2, name: 'n', type: 'uint64' },
      ],
    };
    const v: StoreView = { name: 'o', dataType: 'schema', schema: s };
    const stored = Buffer.from('{"1":72.50,"2":18446744073709551615,"3":"a\\u00e9\\"b"}');
    assert.equal(renderData(v, stored, 'full'), '{"room":"a\\u00e9\\"b","temp":72.50,"n":18446744073709551615}');
    assert.equal(renderData(v, stored, 'compact'), stored.toString());
  });

  it('writes escaped and non-ASCII field names as JSON', () => {
    const s: StoreSchema = {
      version: 1,
      fields: [
        { index: 1, name: 'température', type: 'int16' },
        { index: 2, name: 'a"b', type: 'bool' },
      ],
    };
    const v: StoreView = { name: 'u', dataType: 'schema', schema: s };
    assert.equal(renderData(v, Buffer.from('{"1":7,"2":false}')), '{"température":7,"a\\"b":false}');
  });
});
