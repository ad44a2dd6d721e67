/**
 * Hand-built JSON for responses that carry bigint timestamps (JSON.stringify cannot write
 * bigints, and converting to number would round them) or raw stored JSON bytes.
 */
import type { Accepted, StoredRecord } from '../plugin/record.js';

/** `{"timestamp":T,"block_num":B,"size":S}` */
export function acceptedJson(r: Accepted): string {
  return `{"timestamp":${r.timestamp},"block_num":${r.blockNum},"size":${r.size}}`;
}

/** One stored record; `dataJson` is the record's data already rendered as JSON text. */
export function storedJson(r: StoredRecord, dataJson?: string): string {
  const head = `{"timestamp":${r.timestamp},"block_num":${r.blockNum},"size":${r.size}`;
  return dataJson === undefined ? head + '}' : `${head},"data":${dataJson}}`;
}

/**
 * JSON.stringify that writes bigints as full-digit integers. Used for small management bodies
 * (stats, status); hot paths build their strings directly.
 */
export function stringifyExact(value: unknown, space?: number): string {
  const marks: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') { marks.push(v.toString()); return `\u0000BIGINT${marks.length - 1}\u0000`; }
    return v;
  }, space);
  return marks.length === 0 ? text : text.replace(/"\\u0000BIGINT(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]);
}
