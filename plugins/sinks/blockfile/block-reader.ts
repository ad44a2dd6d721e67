/**
 * Decoding of committed blocks for reads. The index says what a block holds; the bytes read are
 * still checked (block header: magic, checksum, generation, sequence number; each record: magic,
 * sequence number, checksum), so a block the data file no longer holds is never served.
 */
import { crc32 } from './crc32.js';
import {
  BLOCK_HEADER_SIZE,
  BlockKind,
  DELETED_MARK,
  RECORD_HEADER_SIZE,
  RECORD_MAGIC,
  RECORD_MARK_OFFSET,
  decodeBlockHeader,
  forEachSpanPiece,
  recordHeaderCrc,
  seqLow,
} from './format.js';

/** One record as found in a block. */
export interface RecordView {
  readonly timestamp: bigint;
  /** Offset of the record header inside its block. */
  readonly offset: number;
  readonly size: number;
  readonly deleted: boolean;
  readonly data?: Buffer;
}

/** Whether `buf` starts with the header of block `seq` of `generation`, of the given kind. */
export function blockHeaderMatches(buf: Buffer, seq: number, generation: number, kind: BlockKind): boolean {
  const h = buf.length >= BLOCK_HEADER_SIZE ? decodeBlockHeader(buf, 0) : null;
  return h !== null && h.seq === seq && h.generation === generation && h.kind === kind;
}

/**
 * Records of packed block `seq` whose committed bytes [0, endOffset) are in `buf`; stops at the
 * first record that does not verify.
 */
export function packedRecords(buf: Buffer, endOffset: number, withData: boolean, seq: number): RecordView[] {
  const out: RecordView[] = [];
  const low = seqLow(seq);
  for (let pos = BLOCK_HEADER_SIZE; pos + RECORD_HEADER_SIZE <= endOffset;) {
    const size = buf.readUInt32LE(pos + 8);
    const dataStart = pos + RECORD_HEADER_SIZE;
    if (buf[pos + 4] !== RECORD_MAGIC || buf.readUInt32LE(pos + 12) !== low || dataStart + size > endOffset) break;
    if (crc32(buf, dataStart, dataStart + size, recordHeaderCrc(buf, pos)) !== buf.readUInt32LE(pos)) break;
    out.push({
      timestamp: buf.readBigInt64LE(pos + 16),
      offset: pos,
      size,
      deleted: buf[pos + RECORD_MARK_OFFSET] === DELETED_MARK,
      data: withData ? buf.subarray(dataStart, dataStart + size) : undefined,
    });
    pos = dataStart + size;
  }
  return out;
}

/**
 * The record of span `seq` whose blocks (head first) are in `buf` (with its data, checksum
 * verified), or from its head block's start only; null when it does not verify.
 */
export function spanRecord(buf: Buffer, blockSize: number, withData: boolean, seq: number): RecordView | null {
  const h = BLOCK_HEADER_SIZE;
  if (buf[h + 4] !== RECORD_MAGIC || buf.readUInt32LE(h + 12) !== seqLow(seq)) return null;
  const size = buf.readUInt32LE(h + 8);
  let data: Buffer | undefined;
  if (withData) {
    const d = Buffer.allocUnsafe(size);
    let crc = recordHeaderCrc(buf, h);
    forEachSpanPiece(size, blockSize, (block, offset, length, dataOffset) => {
      const start = block * blockSize + offset;
      crc = crc32(buf, start, start + length, crc);
      buf.copy(d, dataOffset, start, start + length);
    });
    if (crc !== buf.readUInt32LE(h)) return null;
    data = d;
  }
  return {
    timestamp: buf.readBigInt64LE(h + 16),
    offset: h,
    size,
    deleted: buf[h + RECORD_MARK_OFFSET] === DELETED_MARK,
    data,
  };
}

/** Bytes to read from the start of a block to see its records (without span data). */
export function committedLength(kind: BlockKind, endOffset: number): number {
  return kind === BlockKind.Packed ? endOffset : BLOCK_HEADER_SIZE + RECORD_HEADER_SIZE;
}
