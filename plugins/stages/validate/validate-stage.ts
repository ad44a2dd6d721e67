/**
 * Checks each record's data against its store's data type and turns it into the bytes to store:
 * json (and schema) — valid JSON, kept byte for byte; text — a JSON string (or a raw UTF-8 body),
 * stored as UTF-8; binary — base64 in JSON (or a raw body), stored as bytes.
 */
import { isUtf8 } from 'node:buffer';
import { type IngestRecord, invalidJsonMessage, isJson, reject, type Rejection, type Stage, type StoreView } from 'tsstore/plugin';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The value of a json payload, checked strictly first (JSON.parse alone would take invalid UTF-8). */
function parsedValue(r: IngestRecord): { value: unknown } | Rejection {
  if (r.parsed !== undefined) return { value: r.parsed };
  if (!r.wellFormed && !isJson(r.payload)) return reject('TSS_ERR_INVALID_JSON', invalidJsonMessage(r.payload));
  return { value: JSON.parse(r.payload.toString('utf8')) };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

export class ValidateStage implements Stage {
  process(records: IngestRecord[], store: StoreView): (IngestRecord | Rejection)[] {
    switch (store.dataType) {
      case 'json':
        return records.map((r) => this.json(r));
      case 'schema':
        return records.map((r) => this.json(r));
      case 'text':
        return records.map((r) => this.text(r));
      case 'binary':
        return records.map((r) => this.binary(r));
    }
  }

  /**
   * json and schema stores: the payload must be one valid JSON value in valid UTF-8. The strict
   * byte scan builds nothing (schema_format reads the raw bytes, never a parsed value); a payload
   * that `decodeEnvelope` found was checked in that same pass and is not scanned again.
   */
  private json(r: IngestRecord): IngestRecord | Rejection {
    if (r.wellFormed || r.parsed !== undefined) return r;
    if (!isJson(r.payload)) return reject('TSS_ERR_INVALID_JSON', invalidJsonMessage(r.payload));
    r.wellFormed = true;
    r.format = 'json';
    return r;
  }

  private text(r: IngestRecord): IngestRecord | Rejection {
    if (r.format === 'raw') {
      return isUtf8(r.payload) ? r : reject('TSS_ERR_INVALID_DATA', 'invalid data: text must be valid UTF-8');
    }
    const v = parsedValue(r);
    if ('ok' in v) return v;
    if (typeof v.value !== 'string') {
      return reject('TSS_ERR_DATA_TYPE_MISMATCH', `data does not match store's data type: text stores take a JSON string, got ${describe(v.value)}`);
    }
    r.payload = Buffer.from(v.value, 'utf8');
    r.format = 'raw';
    r.parsed = undefined;
    r.wellFormed = false;
    return r;
  }

  private binary(r: IngestRecord): IngestRecord | Rejection {
    if (r.format === 'raw') return r;
    const v = parsedValue(r);
    if ('ok' in v) return v;
    if (typeof v.value !== 'string' || !BASE64.test(v.value)) {
      return reject(
        'TSS_ERR_DATA_TYPE_MISMATCH',
        `data does not match store's data type: binary stores take a base64 string, got ${typeof v.value === 'string' ? 'a string that is not base64' : describe(v.value)}`,
      );
    }
    r.payload = Buffer.from(v.value, 'base64');
    r.format = 'raw';
    r.parsed = undefined;
    r.wellFormed = false;
    return r;
  }
}
