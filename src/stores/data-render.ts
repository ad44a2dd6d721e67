/** Stored bytes → the JSON text of `data` in read responses, per the store's data type. */
import type { SchemaFormat } from '../plugin/record.js';
import type { StoreView } from '../plugin/stage.js';
import { expandCompact } from '../core/schema-layout.js';

export function renderData(view: StoreView, data: Buffer, format: SchemaFormat = 'full'): string {
  switch (view.dataType) {
    case 'json':
      return data.toString('utf8');
    case 'schema':
      // Schema stores hold compact records; `full` names the fields again.
      return format === 'compact' || !view.schema ? data.toString('utf8') : expandCompact(view.schema, data);
    case 'text':
      return JSON.stringify(data.toString('utf8'));
    case 'binary':
      return JSON.stringify(data.toString('base64'));
  }
}
