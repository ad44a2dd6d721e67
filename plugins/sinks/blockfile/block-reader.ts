/** Decoding of committed blocks for reads (the bytes were verified when written or recovered). */
import { BlockInfo } from './block-ring.js';
import { BLOCK_HEADER_SIZE, BlockKind, DELETED_MARK, RECORD_HEADER_SIZE, RECORD_MARK_OFFSET, forEachSpanPiece } from './format.js';

/** One record as found in a block. */
export interface RecordView {
  readonly timestamp: bigint;
  /** Offset of the record header inside its block. */
  readonly offset: number;
  readonly size: number;
  readonly deleted: boolean;
  readonly data?: Buffer;
}

/** Records of a packed block whose committed bytes [0, endOffset) are in `buf`. */
export function packedRecords(buf: Buffer, endOffset: number, withData: boolean): RecordView[] {
  const out: RecordView[] = [];
  for (let pos = BLOCK_HEADER_SIZE; pos + RECORD_HEADER_SIZE <= endOffset; ) {
    const size = buf.readUInt32LE(pos + 8);
    const dataStart = pos + RECORD_HEADER_SIZE;
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

/** The record of a span whose blocks (head first) are in `buf`, or just its head block's start. */
export function spanRecord(buf: Buffer, blockSize: number, withData: boolean): RecordView {
  const size = buf.readUInt32LE(BLOCK_HEADER_SIZE + 8);
  let data: Buffer | undefined;
  if (withData) {
    const d = Buffer.allocUnsafe(size);
    forEachSpanPiece(size, blockSize, (block, offset, length, dataOffset) => {
      buf.copy(d, dataOffset, block * blockSize + offset, block * blockSize + offset + length);
    });
    data = d;
  }
  return {
    timestamp: buf.readBigInt64LE(BLOCK_HEADER_SIZE + 16),
    offset: BLOCK_HEADER_SIZE,
    size,
    deleted: buf[BLOCK_HEADER_SIZE + RECORD_MARK_OFFSET] === DELETED_MARK,
    data,
  };
}

/** Bytes to read from the start of a block to see its records (without span data). */
export function committedLength(b: BlockInfo): number {
  return b.kind === BlockKind.Packed ? b.endOffset : BLOCK_HEADER_SIZE + RECORD_HEADER_SIZE;
}
