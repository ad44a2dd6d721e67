/** Stored bytes → the JSON text of `data` in read responses, per the store's data type. */
import type { SchemaFormat } from '../plugin/record.js';
import type { StoreView } from '../plugin/stage.js';

export function renderData(view: StoreView, data: Buffer, _format: SchemaFormat = 'full'): string {
  switch (view.dataType) {
    case 'json':
    case 'schema':
      return data.toString('utf8');
    case 'text':
      return JSON.stringify(data.toString('utf8'));
    case 'binary':
      return JSON.stringify(data.toString('base64'));
  }
}
