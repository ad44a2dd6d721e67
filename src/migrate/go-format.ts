/**
 * The reference Go ts-store's on-disk format, as far as `tsstore migrate` reads it (and the
 * fixture writer writes it). docs/coming-from-ts-store.md describes every field in prose; this
 * module holds the numbers: sizes, offsets, flags, magics, and the header codecs. All integers
 * are little-endian.
 */

/** `meta.tsdb` of a circular (V1) store starts with "TSSTORE1" read as a little-endian u64. */
export const MAGIC_V1 = 0x545353544f524531n;
/** `meta.tsdb` of a partitioned (V2) store: "TSSTORE2". */
export const MAGIC_V2 = 0x545353544f524532n;
export const META_V1_SIZE = 64;
export const META_V2_SIZE = 128;
export const PARTITION_META_SIZE = 64;
export const MAX_PARTITIONS = 16;

export const BLOCK_HEADER_SIZE = 24;
export const OBJECT_HEADER_SIZE = 24;
export const INDEX_ENTRY_SIZE = 16;
export const MIN_BLOCK_SIZE = 64;

/** Block flags. */
export const FLAG_PRIMARY = 1;
export const FLAG_PACKED = 2;
export const FLAG_CONTINUATION = 4;

/** Object flags. */
export const OBJ_CONTINUES = 2;
export const OBJ_LAST_IN_BLOCK = 4;

/** High 32 bits of a block header's reserved u64 when its low 32 bits are a CRC-32C of the used data. */
export const CHECKSUM_MAGIC = 0xc32c0001;

export const META_FILE = 'meta.tsdb';
export const DATA_FILE = 'data.tsdb';
export const INDEX_FILE = 'index.tsdb';
export const KEYS_FILE = 'keys.json';
export const KEY_REGISTRY_FILE = 'keys.registry.json';
export const SCHEMA_FILE = 'schema.json';
export const WS_CONNECTIONS_FILE = 'ws_connections.json';

export type GoDataType = 'binary' | 'text' | 'json' | 'schema';
export const GO_DATA_TYPES: readonly GoDataType[] = ['binary', 'text', 'json', 'schema'];

export interface MetaV1 {
  readonly numBlocks: number;
  readonly dataBlockSize: number;
  readonly indexBlockSize: number;
  readonly headBlock: number;
  readonly tailBlock: number;
  readonly writeOffset: number;
  /** Raw byte; GO_DATA_TYPES[dataType] when valid. */
  readonly dataType: number;
}

export interface MetaV2 {
  readonly numPartitions: number;
  readonly blocksPerPartition: number;
  readonly blockSize: number;
  readonly dataType: number;
  readonly currentPartition: number;
  readonly oldestPartition: number;
  /** Partition ids from oldest to newest; only the first `activeCount` count. */
  readonly partitionOrder: readonly number[];
  readonly activeCount: number;
}

export interface PartitionMeta {
  readonly partitionId: number;
  readonly numBlocks: number;
  readonly headBlock: number;
  readonly writeOffset: number;
  readonly minTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly objectCount: bigint;
  readonly bytesUsed: bigint;
  readonly sealed: boolean;
}

export interface BlockHeader {
  /** Timestamp of the block's first object (0 for continuation blocks). */
  readonly timestamp: bigint;
  /** Used bytes after the block header (object headers included). */
  readonly dataLen: number;
  readonly flags: number;
  /** CRC-32C of the used data area, when the block carries one. */
  readonly checksum?: number;
}

export interface ObjectHeader {
  readonly timestamp: bigint;
  /** The object's whole length (also when it spans blocks). */
  readonly dataLen: number;
  readonly flags: number;
  /** Offset of the next object header in the block; 0 for none. */
  readonly nextOffset: number;
  /** Schema stores: the schema version the record was written under (0: untagged). */
  readonly reserved: number;
}

export interface IndexEntry {
  /** The block's first object timestamp; 0 for an empty, reclaimed, continuation or soft-deleted slot. */
  readonly timestamp: bigint;
  readonly blockNum: number;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

export function decodeMetaV1(b: Buffer): MetaV1 {
  return {
    numBlocks: b.readUInt32LE(12),
    dataBlockSize: b.readUInt32LE(16),
    indexBlockSize: b.readUInt32LE(20),
    headBlock: b.readUInt32LE(24),
    tailBlock: b.readUInt32LE(28),
    writeOffset: b.readUInt32LE(32),
    dataType: b[36],
  };
}

export function encodeMetaV1(m: MetaV1): Buffer {
  const b = Buffer.alloc(META_V1_SIZE);
  b.writeBigUInt64LE(MAGIC_V1, 0);
  b.writeUInt32LE(1, 8);
  b.writeUInt32LE(m.numBlocks, 12);
  b.writeUInt32LE(m.dataBlockSize, 16);
  b.writeUInt32LE(m.indexBlockSize, 20);
  b.writeUInt32LE(m.headBlock, 24);
  b.writeUInt32LE(m.tailBlock, 28);
  b.writeUInt32LE(m.writeOffset, 32);
  b[36] = m.dataType;
  return b;
}

export function decodeMetaV2(b: Buffer): MetaV2 {
  return {
    numPartitions: b.readUInt32LE(12),
    blocksPerPartition: b.readUInt32LE(16),
    blockSize: b.readUInt32LE(20),
    dataType: b[24],
    currentPartition: b.readUInt32LE(25),
    oldestPartition: b.readUInt32LE(29),
    partitionOrder: [...b.subarray(33, 49)],
    activeCount: b[49],
  };
}

export function encodeMetaV2(m: MetaV2): Buffer {
  const b = Buffer.alloc(META_V2_SIZE);
  b.writeBigUInt64LE(MAGIC_V2, 0);
  b.writeUInt32LE(2, 8);
  b.writeUInt32LE(m.numPartitions, 12);
  b.writeUInt32LE(m.blocksPerPartition, 16);
  b.writeUInt32LE(m.blockSize, 20);
  b[24] = m.dataType;
  b.writeUInt32LE(m.currentPartition, 25);
  b.writeUInt32LE(m.oldestPartition, 29);
  m.partitionOrder.slice(0, MAX_PARTITIONS).forEach((id, i) => {
    b[33 + i] = id;
  });
  b[49] = m.activeCount;
  return b;
}

export function decodePartitionMeta(b: Buffer): PartitionMeta {
  return {
    partitionId: b.readUInt32LE(0),
    numBlocks: b.readUInt32LE(4),
    headBlock: b.readUInt32LE(8),
    writeOffset: b.readUInt32LE(12),
    minTimestamp: b.readBigInt64LE(16),
    maxTimestamp: b.readBigInt64LE(24),
    objectCount: b.readBigUInt64LE(32),
    bytesUsed: b.readBigUInt64LE(40),
    sealed: b[48] === 1,
  };
}

export function encodePartitionMeta(m: PartitionMeta): Buffer {
  const b = Buffer.alloc(PARTITION_META_SIZE);
  b.writeUInt32LE(m.partitionId, 0);
  b.writeUInt32LE(m.numBlocks, 4);
  b.writeUInt32LE(m.headBlock, 8);
  b.writeUInt32LE(m.writeOffset, 12);
  b.writeBigInt64LE(m.minTimestamp, 16);
  b.writeBigInt64LE(m.maxTimestamp, 24);
  b.writeBigUInt64LE(m.objectCount, 32);
  b.writeBigUInt64LE(m.bytesUsed, 40);
  b[48] = m.sealed ? 1 : 0;
  return b;
}

export function decodeBlockHeader(b: Buffer, off: number): BlockHeader {
  const hi = b.readUInt32LE(off + 20);
  return {
    timestamp: b.readBigInt64LE(off),
    dataLen: b.readUInt32LE(off + 8),
    flags: b.readUInt32LE(off + 12),
    ...(hi === CHECKSUM_MAGIC ? { checksum: b.readUInt32LE(off + 16) } : {}),
  };
}

export function encodeBlockHeader(b: Buffer, off: number, h: BlockHeader): void {
  b.writeBigInt64LE(h.timestamp, off);
  b.writeUInt32LE(h.dataLen, off + 8);
  b.writeUInt32LE(h.flags, off + 12);
  b.writeUInt32LE(h.checksum ?? 0, off + 16);
  b.writeUInt32LE(h.checksum === undefined ? 0 : CHECKSUM_MAGIC, off + 20);
}

export function decodeObjectHeader(b: Buffer, off: number): ObjectHeader {
  return {
    timestamp: b.readBigInt64LE(off),
    dataLen: b.readUInt32LE(off + 8),
    flags: b.readUInt32LE(off + 12),
    nextOffset: b.readUInt32LE(off + 16),
    reserved: b.readUInt32LE(off + 20),
  };
}

export function encodeObjectHeader(b: Buffer, off: number, h: ObjectHeader): void {
  b.writeBigInt64LE(h.timestamp, off);
  b.writeUInt32LE(h.dataLen, off + 8);
  b.writeUInt32LE(h.flags, off + 12);
  b.writeUInt32LE(h.nextOffset, off + 16);
  b.writeUInt32LE(h.reserved, off + 20);
}

export function decodeIndexEntry(b: Buffer, off: number): IndexEntry {
  return { timestamp: b.readBigInt64LE(off), blockNum: b.readUInt32LE(off + 8) };
}

export function encodeIndexEntry(b: Buffer, off: number, e: IndexEntry): void {
  b.writeBigInt64LE(e.timestamp, off);
  b.writeUInt32LE(e.blockNum, off + 8);
  b.writeUInt32LE(0, off + 12);
}

/** Size of `index.tsdb`: whole index blocks holding one 16-byte entry per data block. */
export function indexFileSize(numBlocks: number, indexBlockSize: number): number {
  const perBlock = Math.floor(indexBlockSize / INDEX_ENTRY_SIZE);
  return Math.ceil(numBlocks / perBlock) * indexBlockSize;
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `buf[start, end)`, as the reference stamps block payloads. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC32C_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
