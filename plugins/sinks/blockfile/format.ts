/**
 * On-disk format of a block-file store (README.md has the byte-level tables).
 *
 * `blockfile.data` is `numBlocks` blocks of `blockSize` bytes. Every block in use starts with a
 * 32-byte block header; records (24-byte header + data) follow it. `blockfile.meta` holds the
 * geometry and the generation that every block header must carry to count.
 */
import { crc32 } from './crc32.js';

export const DATA_FILE = 'blockfile.data';
export const META_FILE = 'blockfile.meta';
export const FORMAT_VERSION = 1;

export const BLOCK_HEADER_SIZE = 32;
export const RECORD_HEADER_SIZE = 24;
export const META_SIZE = 64;

const BLOCK_MAGIC = 0x4b425354; // "TSBK"
const META_MAGIC = 'TSBFMETA';
export const RECORD_MAGIC = 0xa5;
export const DELETED_MARK = 0x44; // "D"
/** Offset of the soft-delete mark inside a record header (outside the checksum). */
export const RECORD_MARK_OFFSET = 5;

/** What a block holds. `Empty` exists only in memory (a slot with nothing readable). */
export const BlockKind = { Packed: 1, SpanHead: 2, SpanCont: 3, Empty: 0 } as const;
export type BlockKind = (typeof BlockKind)[keyof typeof BlockKind];

export interface BlockHeader {
  readonly generation: number;
  readonly kind: BlockKind;
  readonly seq: number;
  /** Position of a continuation block inside its span (1..n-1); 0 otherwise. */
  readonly spanIndex: number;
}

export interface Geometry {
  readonly numBlocks: number;
  readonly blockSize: number;
}

export function payloadSize(blockSize: number): number {
  return blockSize - BLOCK_HEADER_SIZE;
}

/** Blocks a record of `dataLength` bytes occupies when it has to span. */
export function spanBlocksFor(dataLength: number, blockSize: number): number {
  return Math.ceil((RECORD_HEADER_SIZE + dataLength) / payloadSize(blockSize));
}

function writeU53(buf: Buffer, value: number, off: number): void {
  buf.writeUInt32LE(value % 0x1_0000_0000, off);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), off + 4);
}

function readU53(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * 0x1_0000_0000;
}

export function encodeBlockHeader(buf: Buffer, off: number, h: BlockHeader): void {
  buf.writeUInt32LE(BLOCK_MAGIC, off);
  buf.writeUInt32LE(h.generation, off + 8);
  buf[off + 12] = h.kind;
  buf[off + 13] = FORMAT_VERSION;
  buf.writeUInt16LE(0, off + 14);
  writeU53(buf, h.seq, off + 16);
  buf.writeUInt32LE(h.spanIndex, off + 24);
  buf.writeUInt32LE(0, off + 28);
  buf.writeUInt32LE(crc32(buf, off + 8, off + BLOCK_HEADER_SIZE), off + 4);
}

/** The header at `off`, or null when it is not a valid block header. */
export function decodeBlockHeader(buf: Buffer, off: number): BlockHeader | null {
  if (buf.readUInt32LE(off) !== BLOCK_MAGIC) return null;
  if (buf.readUInt32LE(off + 4) !== crc32(buf, off + 8, off + BLOCK_HEADER_SIZE)) return null;
  const kind = buf[off + 12];
  if (kind !== BlockKind.Packed && kind !== BlockKind.SpanHead && kind !== BlockKind.SpanCont) return null;
  if (buf[off + 13] !== FORMAT_VERSION) return null;
  return { generation: buf.readUInt32LE(off + 8), kind, seq: readU53(buf, off + 16), spanIndex: buf.readUInt32LE(off + 24) };
}

/**
 * Writes a record header at `off`. The checksum is left for `sealRecord` because the data of a
 * spanning record is scattered over several blocks.
 */
export function encodeRecordHeader(buf: Buffer, off: number, dataLength: number, seq: number, timestamp: bigint): void {
  buf[off + 4] = RECORD_MAGIC;
  buf[off + 5] = 0;
  buf.writeUInt16LE(0, off + 6);
  buf.writeUInt32LE(dataLength, off + 8);
  buf.writeUInt32LE(seq % 0x1_0000_0000, off + 12);
  writeTimestamp(buf, off + 16, timestamp);
}

/**
 * Scratch for the 8 bytes of a timestamp: storing a bigint into a BigInt64Array is a plain store
 * for V8, cheaper than Buffer#writeBigInt64LE (range checks and four BigInt operations).
 */
const TS_SCRATCH = new BigInt64Array(1);
const TS_BYTES = new Uint8Array(TS_SCRATCH.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `timestamp` (0..2^63-1, checked by the caller) as a little-endian int64 at `off`. */
function writeTimestamp(buf: Buffer, off: number, timestamp: bigint): void {
  if (!LITTLE_ENDIAN) {
    buf.writeBigInt64LE(timestamp, off);
    return;
  }
  TS_SCRATCH[0] = timestamp;
  const b = TS_BYTES;
  buf[off] = b[0];
  buf[off + 1] = b[1];
  buf[off + 2] = b[2];
  buf[off + 3] = b[3];
  buf[off + 4] = b[4];
  buf[off + 5] = b[5];
  buf[off + 6] = b[6];
  buf[off + 7] = b[7];
}

/** The record checksum covers the header from this offset (data length, seq, timestamp) and then the data. */
export const RECORD_CRC_FROM = 8;

/** Checksum of the header fields (bytes 8..24), to be continued over the data. */
export function recordHeaderCrc(buf: Buffer, off: number): number {
  return crc32(buf, off + RECORD_CRC_FROM, off + RECORD_HEADER_SIZE);
}

export interface RecordHeader {
  readonly crc: number;
  readonly deleted: boolean;
  readonly dataLength: number;
  readonly seqLow: number;
  readonly timestamp: bigint;
}

/** Header fields at `off`, or null when the magic byte is wrong (not a record start). */
export function decodeRecordHeader(buf: Buffer, off: number): RecordHeader | null {
  if (buf[off + 4] !== RECORD_MAGIC) return null;
  return {
    crc: buf.readUInt32LE(off),
    deleted: buf[off + RECORD_MARK_OFFSET] === DELETED_MARK,
    dataLength: buf.readUInt32LE(off + 8),
    seqLow: buf.readUInt32LE(off + 12),
    timestamp: buf.readBigInt64LE(off + 16),
  };
}

export function seqLow(seq: number): number {
  return seq % 0x1_0000_0000;
}

export interface Meta extends Geometry {
  readonly generation: number;
  /** First block sequence number of this generation (sequence numbers never repeat). */
  readonly seqBase: number;
}

export function encodeMeta(m: Meta): Buffer {
  const buf = Buffer.alloc(META_SIZE);
  buf.write(META_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(FORMAT_VERSION, 8);
  buf.writeUInt32LE(m.numBlocks, 12);
  buf.writeUInt32LE(m.blockSize, 16);
  buf.writeUInt32LE(m.generation, 20);
  writeU53(buf, m.seqBase, 24);
  buf.writeUInt32LE(crc32(buf, 0, META_SIZE - 4), META_SIZE - 4);
  return buf;
}

export function decodeMeta(buf: Buffer): Meta | null {
  if (buf.length < META_SIZE || buf.toString('latin1', 0, 8) !== META_MAGIC) return null;
  if (buf.readUInt32LE(META_SIZE - 4) !== crc32(buf, 0, META_SIZE - 4)) return null;
  if (buf.readUInt32LE(8) !== FORMAT_VERSION) return null;
  return {
    numBlocks: buf.readUInt32LE(12),
    blockSize: buf.readUInt32LE(16),
    generation: buf.readUInt32LE(20),
    seqBase: readU53(buf, 24),
  };
}

export function isValidGeometry(g: Geometry): boolean {
  const { numBlocks, blockSize } = g;
  return (
    Number.isInteger(numBlocks) &&
    numBlocks >= 1 &&
    numBlocks <= 0xffff_ffff &&
    Number.isInteger(blockSize) &&
    blockSize >= 64 &&
    blockSize <= 1 << 30 &&
    (blockSize & (blockSize - 1)) === 0 &&
    numBlocks * blockSize <= Number.MAX_SAFE_INTEGER
  );
}

/**
 * Calls `piece` for each part of a spanning record's data, in order: `block` is the index inside
 * the span (0 = head), `offset` the offset inside that block, `dataOffset` the position in the data.
 */
export function forEachSpanPiece(
  dataLength: number,
  blockSize: number,
  piece: (block: number, offset: number, length: number, dataOffset: number) => void,
): void {
  const firstOffset = BLOCK_HEADER_SIZE + RECORD_HEADER_SIZE;
  let done = Math.min(dataLength, blockSize - firstOffset);
  piece(0, firstOffset, done, 0);
  for (let block = 1; done < dataLength; block++) {
    const n = Math.min(dataLength - done, payloadSize(blockSize));
    piece(block, BLOCK_HEADER_SIZE, n, done);
    done += n;
  }
}
