/**
 * Hand-built JSON for the answers that carry bigint timestamps (JSON.stringify cannot write
 * bigints, and converting to number would round them) or raw stored JSON bytes.
 */
import type { Accepted, StoredRecord } from '../../plugin/record.js';

/** `{"timestamp":T,"block_num":B,"size":S}` */
export function acceptedJson(r: Accepted): string {
  return `{"timestamp":${r.timestamp},"block_num":${r.blockNum},"size":${r.size}}`;
}

/** One stored record; `dataJson` is the record's data already rendered as JSON text. */
export function storedJson(r: StoredRecord, dataJson?: string): string {
  const head = `{"timestamp":${r.timestamp},"block_num":${r.blockNum},"size":${r.size}`;
  return dataJson === undefined ? head + '}' : `${head},"data":${dataJson}}`;
}
