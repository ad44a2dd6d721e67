/**
 * Writes data directories in the reference Go ts-store's format, for tests and benchmarks of
 * `tsstore migrate`. Written from the format description in docs/coming-from-ts-store.md: it
 * follows the reference's write algorithm (packed appends, new blocks, spanning records, the ring
 * reclaiming its tail, soft deletes that clear an index entry, partitions that roll over) so the
 * files look like ones a real Go server left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  BLOCK_HEADER_SIZE,
  DATA_FILE,
  FLAG_CONTINUATION,
  FLAG_PACKED,
  FLAG_PRIMARY,
  GO_DATA_TYPES,
  INDEX_ENTRY_SIZE,
  INDEX_FILE,
  KEYS_FILE,
  KEY_REGISTRY_FILE,
  META_FILE,
  OBJECT_HEADER_SIZE,
  OBJ_CONTINUES,
  OBJ_LAST_IN_BLOCK,
  SCHEMA_FILE,
  WS_CONNECTIONS_FILE,
  crc32c,
  decodeBlockHeader,
  decodeIndexEntry,
  decodeObjectHeader,
  encodeBlockHeader,
  encodeIndexEntry,
  encodeMetaV1,
  encodeMetaV2,
  encodeObjectHeader,
  encodePartitionMeta,
  indexFileSize,
  type GoDataType,
} from './go-format.js';

export interface GoStoreOptions {
  readonly dataType: GoDataType;
  readonly numBlocks: number;
  readonly dataBlockSize: number;
  readonly indexBlockSize?: number;
  /** `circular` (one ring, TSSTORE1) or `partitioned` (TSSTORE2, `numPartitions` linear partitions). */
  readonly layout?: 'circular' | 'partitioned';
  readonly numPartitions?: number;
  /** Stamp a CRC-32C of the used data area in every block header (newer reference versions do). */
  readonly checksums?: boolean;
}

/** One ring of blocks: the whole store (circular) or one partition (linear). */
class Area {
  readonly data: Buffer;
  readonly index: Buffer;
  head = 0;
  tail = 0;
  writeOffset = 0;
  objectCount = 0n;
  bytesUsed = 0n;
  minTs = 0n;
  maxTs = 0n;
  sealed = false;
  /** Bumped when a block is reclaimed: records written into it before are gone. */
  readonly generation: Uint32Array;
  /** Span bookkeeping per continuation block: where its own piece ends (the reference appends after it). */
  readonly pieceEnd = new Map<number, { end: number; spanTs: bigint }>();

  constructor(
    readonly id: number,
    readonly numBlocks: number,
    readonly blockSize: number,
    indexBlockSize: number,
    private readonly checksums: boolean,
  ) {
    this.data = Buffer.alloc(numBlocks * blockSize);
    this.index = Buffer.alloc(indexFileSize(numBlocks, indexBlockSize));
    this.generation = new Uint32Array(numBlocks);
  }

  off(block: number): number {
    return block * this.blockSize;
  }

  blockEmpty(block: number): boolean {
    const h = decodeBlockHeader(this.data, this.off(block));
    return h.flags === 0 && h.dataLen === 0;
  }

  writeHeader(block: number, timestamp: bigint, dataLen: number, flags: number): void {
    const o = this.off(block);
    const checksum = this.checksums && dataLen > 0 ? crc32c(this.data, o + BLOCK_HEADER_SIZE, o + BLOCK_HEADER_SIZE + dataLen) : undefined;
    encodeBlockHeader(this.data, o, { timestamp, dataLen, flags, ...(checksum === undefined ? {} : { checksum }) });
  }

  /** Re-stamps the checksum after the data area changed under an unchanged header. */
  restamp(block: number): void {
    const h = decodeBlockHeader(this.data, this.off(block));
    this.writeHeader(block, h.timestamp, h.dataLen, h.flags);
  }

  setIndex(block: number, timestamp: bigint): void {
    encodeIndexEntry(this.index, block * INDEX_ENTRY_SIZE, { timestamp, blockNum: block });
  }

  indexTs(block: number): bigint {
    return decodeIndexEntry(this.index, block * INDEX_ENTRY_SIZE).timestamp;
  }

  /** The reference's link fix-up: walk the block's object chain and point its last object at `newOffset`. */
  linkPrevious(block: number, newOffset: number): void {
    let offset = BLOCK_HEADER_SIZE;
    const o = this.off(block);
    while (offset < this.writeOffset && offset + OBJECT_HEADER_SIZE <= this.blockSize) {
      const h = decodeObjectHeader(this.data, o + offset);
      if (h.flags & OBJ_LAST_IN_BLOCK) {
        encodeObjectHeader(this.data, o + offset, { ...h, nextOffset: newOffset, flags: h.flags & ~OBJ_LAST_IN_BLOCK });
        return;
      }
      if (h.nextOffset === 0) return;
      offset = h.nextOffset;
    }
  }
}

interface Entry {
  readonly timestamp: bigint;
  readonly data: Buffer;
  readonly area: Area;
  readonly block: number;
  readonly generation: number;
}

export class GoStoreWriter {
  private readonly entries: Entry[] = [];
  private readonly deleted = new Set<bigint>();
  /** Spanning records whose tail the reference overwrote with the next record (its write offset is 24 bytes short). */
  private readonly clobbered = new Set<bigint>();
  private readonly layout: 'circular' | 'partitioned';
  private readonly areas = new Map<number, Area>();
  /** Partitioned: ids oldest → newest. */
  private order: number[] = [];
  private current: Area;
  private readonly indexBlockSize: number;
  private readonly numPartitions: number;
  private readonly blocksPerPartition: number;
  private dropped = new Set<number>();

  constructor(
    readonly name: string,
    readonly options: GoStoreOptions,
  ) {
    this.layout = options.layout ?? 'circular';
    this.indexBlockSize = options.indexBlockSize ?? 4096;
    this.numPartitions = options.numPartitions ?? 6;
    this.blocksPerPartition = this.layout === 'partitioned' ? Math.max(1, Math.floor(options.numBlocks / this.numPartitions)) : options.numBlocks;
    this.current = this.newArea(0);
    if (this.layout === 'partitioned') this.order = [0];
  }

  private newArea(id: number): Area {
    const a = new Area(id, this.blocksPerPartition, this.options.dataBlockSize, this.indexBlockSize, this.options.checksums ?? false);
    this.areas.set(id, a);
    return a;
  }

  private get usable(): number {
    return this.options.dataBlockSize - BLOCK_HEADER_SIZE;
  }

  /** Stores one record the way the reference's PutObject does (no ordering check: tests may write disorder). */
  put(timestamp: bigint, data: Buffer, schemaVersion = 0): void {
    const objSize = OBJECT_HEADER_SIZE + data.length;
    if (this.layout === 'partitioned') {
      if (!this.hasSpace(this.current, objSize)) this.roll();
      const p = this.current;
      p.objectCount++;
      p.bytesUsed += BigInt(objSize);
      if (p.minTs === 0n || timestamp < p.minTs) p.minTs = timestamp;
      if (timestamp > p.maxTs) p.maxTs = timestamp;
    }
    const a = this.current;
    let block: number;
    if (a.writeOffset !== 0 && objSize <= a.blockSize - a.writeOffset) block = this.append(a, timestamp, data, schemaVersion);
    else if (objSize <= this.usable) block = this.single(a, timestamp, data, schemaVersion);
    else block = this.span(a, timestamp, data, schemaVersion);
    this.entries.push({ timestamp, data, area: a, block, generation: a.generation[block] });
  }

  /**
   * What a correct reader returns, oldest first: records still in the ring (or a kept
   * partition), not soft-deleted, not damaged by the reference itself, and in increasing order.
   */
  expected(): { timestamp: bigint; data: Buffer }[] {
    const out: { timestamp: bigint; data: Buffer }[] = [];
    let last: bigint | undefined;
    for (const e of this.entries) {
      if (this.areas.get(e.area.id) !== e.area || e.area.generation[e.block] !== e.generation) continue;
      if (this.deleted.has(e.timestamp) || this.clobbered.has(e.timestamp)) continue;
      if (last !== undefined && e.timestamp <= last) continue;
      last = e.timestamp;
      out.push({ timestamp: e.timestamp, data: e.data });
    }
    return out;
  }

  /** Spanning records the reference damaged by appending the next record over their end. */
  damagedByReference(): bigint[] {
    return [...this.clobbered];
  }

  /** The reference's soft delete: clears the index entry of the block whose first record has `timestamp`. */
  softDelete(timestamp: bigint): boolean {
    for (const a of this.areas.values()) {
      for (let b = 0; b < a.numBlocks; b++) {
        if (a.indexTs(b) === timestamp) {
          a.setIndex(b, 0n);
          this.deleted.add(timestamp);
          return true;
        }
      }
    }
    return false;
  }

  private append(a: Area, ts: bigint, data: Buffer, ver: number): number {
    const block = a.head;
    const at = a.writeOffset;
    const piece = a.pieceEnd.get(block);
    if (piece && at < piece.end) this.clobbered.add(piece.spanTs);
    a.pieceEnd.delete(block);
    a.linkPrevious(block, at);
    const o = a.off(block);
    encodeObjectHeader(a.data, o + at, { timestamp: ts, dataLen: data.length, flags: OBJ_LAST_IN_BLOCK, nextOffset: 0, reserved: ver });
    data.copy(a.data, o + at + OBJECT_HEADER_SIZE);
    const h = decodeBlockHeader(a.data, o);
    a.writeOffset = at + OBJECT_HEADER_SIZE + data.length;
    a.writeHeader(block, h.timestamp, a.writeOffset - BLOCK_HEADER_SIZE, h.flags);
    return block;
  }

  private single(a: Area, ts: bigint, data: Buffer, ver: number): number {
    const block = this.allocate(a);
    const o = a.off(block);
    encodeObjectHeader(a.data, o + BLOCK_HEADER_SIZE, { timestamp: ts, dataLen: data.length, flags: OBJ_LAST_IN_BLOCK, nextOffset: 0, reserved: ver });
    data.copy(a.data, o + BLOCK_HEADER_SIZE + OBJECT_HEADER_SIZE);
    a.writeHeader(block, ts, OBJECT_HEADER_SIZE + data.length, FLAG_PRIMARY | FLAG_PACKED);
    a.setIndex(block, ts);
    a.head = block;
    a.writeOffset = BLOCK_HEADER_SIZE + OBJECT_HEADER_SIZE + data.length;
    return block;
  }

  private span(a: Area, ts: bigint, data: Buffer, ver: number): number {
    const firstUsable = this.usable - OBJECT_HEADER_SIZE;
    const first = this.allocate(a);
    a.head = first;
    const chunk = Math.min(firstUsable, data.length);
    const o = a.off(first);
    encodeObjectHeader(a.data, o + BLOCK_HEADER_SIZE, {
      timestamp: ts,
      dataLen: data.length,
      flags: OBJ_LAST_IN_BLOCK | (chunk < data.length ? OBJ_CONTINUES : 0),
      nextOffset: 0,
      reserved: ver,
    });
    data.copy(a.data, o + BLOCK_HEADER_SIZE + OBJECT_HEADER_SIZE, 0, chunk);
    a.writeHeader(first, ts, OBJECT_HEADER_SIZE + chunk, FLAG_PRIMARY | FLAG_PACKED);
    a.setIndex(first, ts);
    let pos = chunk;
    while (pos < data.length) {
      const n = Math.min(this.usable, data.length - pos);
      const block = this.allocate(a);
      a.head = block;
      data.copy(a.data, a.off(block) + BLOCK_HEADER_SIZE, pos, pos + n);
      a.writeHeader(block, 0n, n, FLAG_PRIMARY | FLAG_PACKED | FLAG_CONTINUATION);
      a.setIndex(block, 0n);
      pos += n;
      if (pos >= data.length) a.pieceEnd.set(block, { end: BLOCK_HEADER_SIZE + n, spanTs: ts });
    }
    // The reference's own arithmetic: the last piece taken as length % usable, ignoring that the
    // first block also holds the object header. Later appends land there.
    const last = data.length % this.usable;
    a.writeOffset = BLOCK_HEADER_SIZE + (last === 0 ? this.usable : last);
    return first;
  }

  /** The next block: the first write's block, else head+1, reclaiming the ring's tail when full. */
  private allocate(a: Area): number {
    if (this.layout === 'partitioned') {
      if (a.writeOffset === 0 && a.head === 0 && a.blockEmpty(0)) return 0;
      if (a.head + 1 >= a.numBlocks) throw new Error('partition full');
      return a.head + 1;
    }
    if (a.indexTs(a.head) === 0n && a.blockEmpty(a.head)) return a.head;
    const next = (a.head + 1) % a.numBlocks;
    if (next !== a.tail) return next;
    const reclaimed = a.tail;
    a.setIndex(reclaimed, 0n);
    a.generation[reclaimed]++;
    a.pieceEnd.delete(reclaimed);
    a.tail = (a.tail + 1) % a.numBlocks;
    while (a.tail !== a.head && decodeBlockHeader(a.data, a.off(a.tail)).flags & FLAG_CONTINUATION) {
      a.setIndex(a.tail, 0n);
      a.generation[a.tail]++;
      a.tail = (a.tail + 1) % a.numBlocks;
    }
    encodeBlockHeader(a.data, a.off(reclaimed), { timestamp: 0n, dataLen: 0, flags: 0 });
    return reclaimed;
  }

  private blocksNeeded(objSize: number): number {
    return objSize <= this.usable ? 1 : 1 + Math.ceil((objSize - this.usable) / this.usable);
  }

  private hasSpace(p: Area, objSize: number): boolean {
    if (p.sealed) return false;
    if (p.writeOffset === 0 && p.head === 0 && p.blockEmpty(0)) return this.blocksNeeded(objSize) <= p.numBlocks;
    if (p.writeOffset > 0 && objSize <= p.blockSize - p.writeOffset) return true;
    return this.blocksNeeded(objSize) <= p.numBlocks - (p.head + 1);
  }

  private roll(): void {
    if (this.current.objectCount > 0n) this.current.sealed = true;
    const nextId = (this.current.id + 1) % this.numPartitions;
    if (this.order.length >= this.numPartitions) {
      const oldest = this.order.shift()!;
      this.areas.delete(oldest);
      this.dropped.add(oldest);
    }
    this.current = this.newArea(nextId);
    this.dropped.delete(nextId);
    this.order.push(nextId);
  }

  /** Writes the store directory `<dataDir>/<name>` (meta, data and index files). */
  writeTo(dataDir: string): string {
    const dir = path.join(dataDir, this.name);
    fs.mkdirSync(dir, { recursive: true });
    const dataType = GO_DATA_TYPES.indexOf(this.options.dataType);
    if (this.layout === 'circular') {
      const a = this.current;
      fs.writeFileSync(
        path.join(dir, META_FILE),
        encodeMetaV1({
          numBlocks: a.numBlocks,
          dataBlockSize: a.blockSize,
          indexBlockSize: this.indexBlockSize,
          headBlock: a.head,
          tailBlock: a.tail,
          writeOffset: a.writeOffset,
          dataType,
        }),
      );
      fs.writeFileSync(path.join(dir, DATA_FILE), a.data);
      fs.writeFileSync(path.join(dir, INDEX_FILE), a.index);
      return dir;
    }
    fs.writeFileSync(
      path.join(dir, META_FILE),
      encodeMetaV2({
        numPartitions: this.numPartitions,
        blocksPerPartition: this.blocksPerPartition,
        blockSize: this.options.dataBlockSize,
        dataType,
        currentPartition: this.current.id,
        oldestPartition: this.order[0],
        partitionOrder: this.order,
        activeCount: this.order.length,
      }),
    );
    for (const id of this.dropped) fs.rmSync(path.join(dir, `partition-${id}`), { recursive: true, force: true });
    for (const p of this.areas.values()) {
      const pdir = path.join(dir, `partition-${p.id}`);
      fs.mkdirSync(pdir, { recursive: true });
      fs.writeFileSync(
        path.join(pdir, META_FILE),
        encodePartitionMeta({
          partitionId: p.id,
          numBlocks: p.numBlocks,
          headBlock: p.head,
          writeOffset: p.writeOffset,
          minTimestamp: p.minTs,
          maxTimestamp: p.maxTs,
          objectCount: p.objectCount,
          bytesUsed: p.bytesUsed,
          sealed: p.sealed,
        }),
      );
      fs.writeFileSync(path.join(pdir, DATA_FILE), p.data);
      fs.writeFileSync(path.join(pdir, INDEX_FILE), p.index);
    }
    return dir;
  }
}

/** A reference per-store key entry (`keys.json`). */
export interface GoKeyEntry {
  readonly id: string;
  readonly hash: string;
  readonly created_at: string;
  readonly note?: string;
}

export function writeGoKeys(storeDir: string, storeName: string, keys: readonly GoKeyEntry[], linkedSource?: string): void {
  const doc = { store_name: storeName, ...(linkedSource ? { linked_source: linkedSource } : {}), keys: keys.map((k) => ({ note: '', ...k })) };
  fs.writeFileSync(path.join(storeDir, KEYS_FILE), JSON.stringify(doc, null, 2), { mode: 0o600 });
}

/** A central key registry entry (`keys.registry.json` at the data directory's root). */
export interface GoRegistryKey extends GoKeyEntry {
  readonly grants: readonly { readonly stores: string; readonly access: readonly string[] }[];
  readonly bootstrap?: boolean;
}

export function writeGoKeyRegistry(dataDir: string, keys: readonly GoRegistryKey[]): void {
  fs.writeFileSync(path.join(dataDir, KEY_REGISTRY_FILE), JSON.stringify({ version: 1, keys }, null, 2), { mode: 0o600 });
}

export interface GoSchemaField {
  readonly index: number;
  readonly name: string;
  readonly type: string;
}

/** `schema.json`: every version, keyed by version number, and the current one. */
export function writeGoSchema(storeDir: string, versions: readonly (readonly GoSchemaField[])[]): void {
  const schemas: Record<string, unknown> = {};
  versions.forEach((fields, i) => {
    schemas[String(i + 1)] = { version: i + 1, fields };
  });
  fs.writeFileSync(path.join(storeDir, SCHEMA_FILE), JSON.stringify({ current_version: versions.length, schemas }, null, 2));
}

export interface GoConnection {
  readonly id: string;
  readonly mode: 'push' | 'pull';
  readonly url: string;
  readonly from?: number;
  readonly format?: string;
  readonly headers?: Record<string, string>;
  readonly filter?: string;
  readonly created_at: string;
  readonly [extra: string]: unknown;
}

export function writeGoConnections(storeDir: string, connections: readonly GoConnection[]): void {
  fs.writeFileSync(
    path.join(storeDir, WS_CONNECTIONS_FILE),
    JSON.stringify({ connections: connections.map((c) => ({ from: 0, format: '', headers: null, ...c })) }, null, 2),
  );
}
