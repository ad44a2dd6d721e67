/**
 * Stored bytes as the read API and the outputs show them: the JSON text of a record's `data` per
 * the store's data type, and the substring filter of the read routes (`filter`,
 * `filter_ignore_case`) over that text.
 */
import type { StoreView } from '../plugin/stage.js';
import type { SchemaFormat } from '../plugin/record.js';
import { expandCompact } from './schema-layout.js';

/** The JSON text of `data` for stored bytes, per the store's data type (as the read API renders it). */
export function renderData(view: StoreView, data: Buffer, format: SchemaFormat = 'full'): string {
  switch (view.dataType) {
    case 'json':
      return data.toString('utf8');
    case 'schema':
      return format === 'compact' || !view.schema ? data.toString('utf8') : expandCompact(view.schema, data);
    case 'text':
      return JSON.stringify(data.toString('utf8'));
    case 'binary':
      return JSON.stringify(data.toString('base64'));
  }
}

/** A substring test over rendered text; undefined (no filter) for an empty needle. */
export function substringFilter(needle: string | undefined, ignoreCase: boolean): ((text: string) => boolean) | undefined {
  if (needle === undefined || needle === '') return undefined;
  if (ignoreCase) {
    const lower = needle.toLowerCase();
    return (text) => text.toLowerCase().includes(lower);
  }
  return (text) => text.includes(needle);
}
