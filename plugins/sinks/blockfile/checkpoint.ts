/**
 * Checkpoint of the block index (`blockfile.ckpt`), so a store opens without reading its whole
 * data file. README.md ("Checkpoint") has the byte layout and the recovery algorithm.
 *
 * The file is a base record (every live block's index entry) followed by delta records (the
 * entries of the blocks written since the record before, from the block that was newest then).
 * A delta is appended; a base replaces the file atomically (temp file, fsync, rename). Every
 * record carries CRC-32s of its header and body: reading stops at the first record that does not
 * verify, and whatever it described is found again by scanning the data file after it.
 * Nothing in the checkpoint is served without the data file agreeing (see `BlockFileStore.open`).
 */
import os from 'node:os';
import path from 'node:path';
import { BlockRing } from './block-ring.js';
import { crc32 } from './crc32.js';
import type { Geometry, Meta } from './format.js';
import type { BlockFileHandle, BlockFileIO } from './io.js';

export const CHECKPOINT_FILE = 'blockfile.ckpt';
export const CHECKPOINT_HEADER_SIZE = 128;
const MAGIC = 'TSBFCKPT';
/** 2: the write limit (offset 112) and recount entries. Files of version 1 are not used (full scan). */
const VERSION = 2;
const KIND_BASE = 1;
const KIND_DELTA = 2;
const ENTRY_SIZE = 16;
const DELETION_SIZE = 16;
/** A deletion entry with this count: the block's delete marks may be changing; recount them from the data at open. */
export const RECOUNT = 0xffff_ffff;
/** The index arrays are written as they lie in memory, which is little-endian here. */
export const checkpointSupported = os.endianness() === 'LE';

export function checkpointPath(dir: string): string {
  return path.join(dir, CHECKPOINT_FILE);
}

export interface Totals {
  count: number;
  deleted: number;
  bytes: number;
}

/** What a checkpoint restores. */
export interface CheckpointImage {
  readonly ring: BlockRing;
  readonly newestTs: bigint | undefined;
  readonly totals: Totals;
  /**
   * Writes after the checkpoint touched no block at or above this sequence number (nor below the
   * newest one it lists): the blocks in the slots of [nextSeq, writeLimit) are the ones an open
   * must verify.
   */
  readonly writeLimit: number;
  /** Blocks whose deletion counts must be recounted from the data file (a soft delete was in flight). */
  readonly recount: Set<number>;
}

interface Header {
  kind: number;
  generation: number;
  numBlocks: number;
  blockSize: number;
  entries: number;
  firstSeq: number;
  oldestSeq: number;
  nextSeq: number;
  newestTs: bigint | undefined;
  deletions: number;
  seqBase: number;
  totals: Totals;
  bodyLength: number;
  bodyCrc: number;
  writeLimit: number;
}

function writeU53(buf: Buffer, value: number, off: number): void {
  buf.writeUInt32LE(value % 0x1_0000_0000, off);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), off + 4);
}

function readU53(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * 0x1_0000_0000;
}

function encodeHeader(h: Header): Buffer {
  const b = Buffer.alloc(CHECKPOINT_HEADER_SIZE);
  b.write(MAGIC, 0, 'latin1');
  b.writeUInt32LE(VERSION, 8);
  b.writeUInt32LE(h.kind, 12);
  b.writeUInt32LE(h.generation, 16);
  b.writeUInt32LE(h.numBlocks, 20);
  b.writeUInt32LE(h.blockSize, 24);
  b.writeUInt32LE(h.entries, 28);
  writeU53(b, h.firstSeq, 32);
  writeU53(b, h.oldestSeq, 40);
  writeU53(b, h.nextSeq, 48);
  b.writeBigInt64LE(h.newestTs ?? 0n, 56);
  b.writeUInt32LE(h.newestTs === undefined ? 0 : 1, 64);
  b.writeUInt32LE(h.deletions, 68);
  writeU53(b, h.seqBase, 72);
  writeU53(b, h.totals.count, 80);
  writeU53(b, h.totals.deleted, 88);
  writeU53(b, h.totals.bytes, 96);
  b.writeUInt32LE(h.bodyLength, 104);
  b.writeUInt32LE(h.bodyCrc, 108);
  writeU53(b, h.writeLimit, 112);
  b.writeUInt32LE(crc32(b, 0, 124), 124);
  return b;
}

function decodeHeader(b: Buffer): Header | null {
  if (b.length < CHECKPOINT_HEADER_SIZE || b.toString('latin1', 0, 8) !== MAGIC) return null;
  if (b.readUInt32LE(124) !== crc32(b, 0, 124) || b.readUInt32LE(8) !== VERSION) return null;
  return {
    kind: b.readUInt32LE(12),
    generation: b.readUInt32LE(16),
    numBlocks: b.readUInt32LE(20),
    blockSize: b.readUInt32LE(24),
    entries: b.readUInt32LE(28),
    firstSeq: readU53(b, 32),
    oldestSeq: readU53(b, 40),
    nextSeq: readU53(b, 48),
    newestTs: b.readUInt32LE(64) & 1 ? b.readBigInt64LE(56) : undefined,
    deletions: b.readUInt32LE(68),
    seqBase: readU53(b, 72),
    totals: { count: readU53(b, 80), deleted: readU53(b, 88), bytes: readU53(b, 96) },
    bodyLength: b.readUInt32LE(104),
    bodyCrc: b.readUInt32LE(108),
    writeLimit: readU53(b, 112),
  };
}

/** Byte views of the ring's entries [from, to) in sequence order: keys, words, aux (each 1-2 pieces for the wrap). */
function entryViews(ring: BlockRing, from: number, to: number): Uint8Array[] {
  const n = to - from;
  if (n <= 0) return [];
  const start = from % ring.numBlocks;
  const first = Math.min(n, ring.numBlocks - start);
  const out: Uint8Array[] = [];
  for (const [arr, size] of [
    [ring.keys, 8],
    [ring.words, 4],
    [ring.aux, 4],
  ] as const) {
    out.push(new Uint8Array(arr.buffer, arr.byteOffset + start * size, first * size));
    if (first < n) out.push(new Uint8Array(arr.buffer, arr.byteOffset, (n - first) * size));
  }
  return out;
}

function deletionBytes(ring: BlockRing, seqs: Iterable<number>, recount: ReadonlySet<number>): Buffer {
  const list = [...new Set([...seqs, ...recount])].filter((s) => ring.has(s));
  const b = Buffer.alloc(list.length * DELETION_SIZE);
  list.forEach((seq, i) => {
    const d = ring.deletions.get(seq);
    writeU53(b, seq, i * DELETION_SIZE);
    b.writeUInt32LE(recount.has(seq) ? RECOUNT : (d?.count ?? 0), i * DELETION_SIZE + 8);
    b.writeUInt32LE(d?.bytes ?? 0, i * DELETION_SIZE + 12);
  });
  return b;
}

function applyDeletions(ring: BlockRing, b: Buffer, recount: Set<number>): void {
  for (let off = 0; off + DELETION_SIZE <= b.length; off += DELETION_SIZE) {
    const seq = readU53(b, off);
    const count = b.readUInt32LE(off + 8);
    if (!ring.has(seq)) continue;
    recount.delete(seq);
    // A recount entry keeps the counts known before; the open recounts the block's marks.
    if (count === RECOUNT) recount.add(seq);
    else if (count === 0) ring.deletions.delete(seq);
    else ring.deletions.set(seq, { count, bytes: b.readUInt32LE(off + 12) });
  }
}

/**
 * CRC-32 continued over `parts`. Empty parts are skipped: zlib.crc32 returns 0 for empty input
 * whatever the value it continues from.
 */
function crcOf(parts: readonly Uint8Array[], crc = 0): number {
  for (const p of parts) if (p.length > 0) crc = crc32(p, 0, p.length, crc);
  return crc;
}

async function readExactly(fh: BlockFileHandle, target: Uint8Array, position: number): Promise<boolean> {
  const buf = Buffer.from(target.buffer, target.byteOffset, target.byteLength);
  let done = 0;
  while (done < target.length) {
    const bytesRead = await fh.read(buf, done, target.length - done, position + done);
    if (bytesRead === 0) return false;
    done += bytesRead;
  }
  return true;
}

/** Reads, appends and replaces one store's checkpoint file. One instance per open store. */
export class Checkpoint {
  /** Bytes of the file that hold verified records (appends go there; anything after is cut off). */
  private validLength = 0;
  private baseLength = 0;
  /** Sequence number after the newest block at the last checkpoint; -1: no usable file (next write is a base). */
  private nextSeqAtLast = -1;
  /** Blocks whose deletion counts changed since the last checkpoint. */
  private readonly changedDeletions = new Set<number>();
  /** Blocks with a soft delete in flight: recorded as RECOUNT until it is done. */
  private readonly pendingDeletions = new Set<number>();
  /**
   * No write may touch a block at or above this sequence number until a new checkpoint is
   * recorded. Infinity when no checkpoint file exists (its removal was synced): nothing to keep.
   */
  private limit = Infinity;

  constructor(
    private readonly io: BlockFileIO,
    private readonly dir: string,
    private readonly geometry: Geometry,
  ) {}

  get file(): string {
    return checkpointPath(this.dir);
  }

  /** Sequence number after the newest block the last checkpoint recorded; -1 when there is none. */
  get recordedNextSeq(): number {
    return this.nextSeqAtLast;
  }

  /** Blocks at or above this sequence number may be written only after a new checkpoint (Infinity: no checkpoint file). */
  get writeLimit(): number {
    return this.limit;
  }

  deletionChanged(seq: number): void {
    this.pendingDeletions.delete(seq);
    this.changedDeletions.add(seq);
  }

  /** A soft delete in block `seq` is about to write its mark: the next record lists the block for a recount. */
  deletionPending(seq: number): void {
    this.pendingDeletions.add(seq);
  }

  /**
   * The index the checkpoint file describes for this meta (generation, seqBase, geometry), or
   * the reason it cannot be used. Throws only on I/O errors other than a missing file.
   */
  async load(meta: Meta): Promise<CheckpointImage | string> {
    let fh: BlockFileHandle;
    let size: number;
    try {
      size = await this.io.size(this.file);
      fh = await this.io.open(this.file, 'read');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'no checkpoint file';
      throw err;
    }
    try {
      const { numBlocks, blockSize } = this.geometry;
      const ring = new BlockRing(numBlocks, blockSize, meta.seqBase);
      let newestTs: bigint | undefined;
      let totals: Totals = { count: 0, deleted: 0, bytes: 0 };
      let writeLimit = 0;
      const recount = new Set<number>();
      let pos = 0;
      let records = 0;
      const hb = Buffer.alloc(CHECKPOINT_HEADER_SIZE);
      while (pos + CHECKPOINT_HEADER_SIZE <= size) {
        if (!(await readExactly(fh, hb, pos))) break;
        const h = decodeHeader(hb);
        if (!h) break;
        const end = pos + CHECKPOINT_HEADER_SIZE + h.bodyLength;
        if (end > size || h.bodyLength !== h.entries * ENTRY_SIZE + h.deletions * DELETION_SIZE) break;
        if (h.generation !== meta.generation || h.seqBase !== meta.seqBase || h.numBlocks !== numBlocks || h.blockSize !== blockSize) {
          if (records === 0) return `checkpoint is of generation ${h.generation}, the store is at ${meta.generation}`;
          break;
        }
        if (h.nextSeq < h.oldestSeq || h.nextSeq - h.oldestSeq > numBlocks || h.firstSeq + h.entries !== h.nextSeq || h.oldestSeq < meta.seqBase) break;
        if (h.writeLimit < h.nextSeq || h.writeLimit > h.nextSeq + numBlocks) break;
        if (records === 0) {
          if (h.kind !== KIND_BASE) return 'checkpoint file does not start with a base record';
          if (h.firstSeq !== h.oldestSeq) break;
          // Straight into the ring's arrays: no copy of what may be hundreds of MiB.
          const views = entryViews(ring, h.oldestSeq, h.nextSeq);
          let off = pos + CHECKPOINT_HEADER_SIZE;
          let crc = 0;
          let ok = true;
          for (const v of views) {
            if (!(await readExactly(fh, v, off))) {
              ok = false;
              break;
            }
            crc = crcOf([v], crc);
            off += v.length;
          }
          const del = Buffer.alloc(h.deletions * DELETION_SIZE);
          if (ok && !(await readExactly(fh, del, off))) ok = false;
          if (!ok || crcOf([del], crc) !== h.bodyCrc) return 'checkpoint base record is torn or damaged';
          ring.oldestSeq = h.oldestSeq;
          ring.newestSeq = h.nextSeq - 1;
          applyDeletions(ring, del, recount);
          this.baseLength = end;
        } else {
          if (h.kind !== KIND_DELTA) break;
          // Contiguous with what was read before: blocks it does not restate must be known already.
          if (h.oldestSeq < ring.oldestSeq || h.firstSeq < h.oldestSeq || (h.firstSeq > ring.newestSeq + 1 && h.oldestSeq !== h.firstSeq)) break;
          const body = Buffer.alloc(h.bodyLength);
          if (!(await readExactly(fh, body, pos + CHECKPOINT_HEADER_SIZE)) || crcOf([body]) !== h.bodyCrc) break;
          const views = entryViews(ring, h.firstSeq, h.nextSeq);
          let off = 0;
          for (const v of views) {
            v.set(body.subarray(off, off + v.length));
            off += v.length;
          }
          ring.oldestSeq = h.oldestSeq;
          ring.newestSeq = h.nextSeq - 1;
          for (const s of ring.deletions.keys()) if (!ring.has(s)) ring.deletions.delete(s);
          for (const s of recount) if (!ring.has(s)) recount.delete(s);
          applyDeletions(ring, body.subarray(off), recount);
        }
        newestTs = h.newestTs;
        totals = { ...h.totals };
        writeLimit = h.writeLimit;
        records++;
        pos = end;
      }
      if (records === 0) return 'checkpoint file is torn or damaged';
      this.validLength = pos;
      this.nextSeqAtLast = ring.newestSeq + 1;
      this.limit = writeLimit;
      return { ring, newestTs, totals, writeLimit, recount };
    } finally {
      await fh.close();
    }
  }

  /**
   * Records the index. The data file must already hold (and, for power loss, have synced)
   * everything the ring describes. Appends a delta unless the deltas would outgrow the base.
   * `writeLimit`: the writes until the next checkpoint stay below this sequence number (at most
   * one lap past the newest block); an open verifies the blocks in the slots up to it.
   */
  async write(ring: BlockRing, newestTs: bigint | undefined, totals: Totals, meta: Meta, writeLimit: number): Promise<void> {
    if (!checkpointSupported) return;
    const next = ring.newestSeq + 1;
    writeLimit = Math.min(Math.max(writeLimit, next), next + ring.numBlocks);
    for (const seq of this.pendingDeletions) if (!ring.has(seq)) this.pendingDeletions.delete(seq);
    const from = Math.max(ring.oldestSeq, this.nextSeqAtLast - 1);
    const deltaBytes =
      CHECKPOINT_HEADER_SIZE + (ring.newestSeq + 1 - from) * ENTRY_SIZE + (this.changedDeletions.size + this.pendingDeletions.size) * DELETION_SIZE;
    const useDelta =
      this.nextSeqAtLast >= 0 &&
      this.validLength > 0 &&
      from <= this.nextSeqAtLast &&
      this.validLength - this.baseLength + deltaBytes <= Math.max(this.baseLength, 1 << 20);
    try {
      if (useDelta) await this.appendDelta(ring, newestTs, totals, meta, from, writeLimit);
      else await this.writeBase(ring, newestTs, totals, meta, writeLimit);
    } catch (err) {
      // The record may have landed although the call failed: the lower of both limits binds.
      this.limit = Math.min(this.limit, writeLimit);
      throw err;
    }
    this.limit = writeLimit;
    this.nextSeqAtLast = ring.newestSeq + 1;
    this.changedDeletions.clear();
  }

  private header(
    kind: number,
    ring: BlockRing,
    from: number,
    deletions: number,
    newestTs: bigint | undefined,
    totals: Totals,
    meta: Meta,
    bodyCrc: number,
    writeLimit: number,
  ): Buffer {
    const entries = ring.newestSeq + 1 - from;
    return encodeHeader({
      kind,
      generation: meta.generation,
      numBlocks: ring.numBlocks,
      blockSize: ring.blockSize,
      entries,
      firstSeq: from,
      oldestSeq: ring.oldestSeq,
      nextSeq: ring.newestSeq + 1,
      newestTs,
      deletions,
      seqBase: meta.seqBase,
      totals,
      bodyLength: entries * ENTRY_SIZE + deletions * DELETION_SIZE,
      bodyCrc,
      writeLimit,
    });
  }

  private async appendDelta(ring: BlockRing, newestTs: bigint | undefined, totals: Totals, meta: Meta, from: number, writeLimit: number): Promise<void> {
    const del = deletionBytes(ring, this.changedDeletions, this.pendingDeletions);
    const parts = [...entryViews(ring, from, ring.newestSeq + 1), del];
    const crc = crcOf(parts);
    const record = Buffer.concat([this.header(KIND_DELTA, ring, from, del.length / DELETION_SIZE, newestTs, totals, meta, crc, writeLimit), ...parts]);
    // Written at the end of the verified records: whatever a torn append left after them is
    // overwritten (what might remain beyond fails its header checksum).
    const fh = await this.io.open(this.file, 'update');
    try {
      await fh.write(record, 0, record.length, this.validLength);
      // Synced: were it lost while the data it describes moves on by more than a lap, the scan
      // after the checkpoint before it could stop short.
      await fh.datasync();
    } finally {
      await fh.close();
    }
    this.validLength += record.length;
  }

  private async writeBase(ring: BlockRing, newestTs: bigint | undefined, totals: Totals, meta: Meta, writeLimit: number): Promise<void> {
    const del = deletionBytes(ring, ring.deletions.keys(), this.pendingDeletions);
    const parts = [...entryViews(ring, ring.oldestSeq, ring.newestSeq + 1), del];
    const crc = crcOf(parts);
    const tmp = this.file + '.tmp';
    try {
      const fh = await this.io.open(tmp, 'create');
      try {
        let pos = 0;
        for (const part of [this.header(KIND_BASE, ring, ring.oldestSeq, del.length / DELETION_SIZE, newestTs, totals, meta, crc, writeLimit), ...parts]) {
          await fh.write(Buffer.from(part.buffer, part.byteOffset, part.byteLength), 0, part.byteLength, pos);
          pos += part.byteLength;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.io.rename(tmp, this.file);
      await this.io.syncDir(this.dir);
    } catch (err) {
      await this.io.remove(tmp);
      throw err;
    }
    this.validLength = this.baseLength = CHECKPOINT_HEADER_SIZE + parts.reduce((n, p) => n + p.byteLength, 0);
  }

  /** The loaded file was not used (the open scanned the data file): the next write is a base, nothing of the file carries over. */
  forget(): void {
    this.nextSeqAtLast = -1;
    this.validLength = this.baseLength = 0;
  }

  /** Deletes the file (durably): the next open scans the data file, the next write is a base. */
  async invalidate(): Promise<void> {
    this.nextSeqAtLast = -1;
    this.validLength = this.baseLength = 0;
    await this.io.remove(this.file);
    await this.io.remove(this.file + '.tmp');
    await this.io.syncDir(this.dir);
    // Only once the removal is durable: no checkpoint binds the writes any more.
    this.limit = Infinity;
  }
}
