/**
 * Reads one reference Go ts-store store directory: its metadata, then every record it holds,
 * oldest first, straight from the files (read-only; nothing is ever written to the source).
 * Damage is survived the way the reference's own recovery would: what can be read is returned
 * and every loss is recorded with its reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  BLOCK_HEADER_SIZE,
  DATA_FILE,
  FLAG_CONTINUATION,
  FLAG_PACKED,
  GO_DATA_TYPES,
  INDEX_ENTRY_SIZE,
  INDEX_FILE,
  MAGIC_V1,
  MAGIC_V2,
  MAX_PARTITIONS,
  META_FILE,
  META_V1_SIZE,
  META_V2_SIZE,
  MIN_BLOCK_SIZE,
  OBJECT_HEADER_SIZE,
  OBJ_CONTINUES,
  OBJ_LAST_IN_BLOCK,
  PARTITION_META_SIZE,
  crc32c,
  decodeBlockHeader,
  decodeMetaV1,
  decodeMetaV2,
  decodeObjectHeader,
  decodePartitionMeta,
  isPowerOfTwo,
  type BlockHeader,
  type GoDataType,
} from './go-format.js';

export interface GoRecord {
  readonly timestamp: bigint;
  readonly data: Buffer;
  /** Schema stores: the version the record was tagged with (0 = untagged). */
  readonly schemaVersion: number;
}

/** Why records (or blocks) were not read. */
export type LossReason = 'soft-deleted' | 'truncated' | 'torn' | 'checksum' | 'broken-span' | 'clobbered' | 'orphan-continuation' | 'bad-header';

export interface Loss {
  readonly reason: LossReason;
  /** Records known to be lost (0 when only blocks can be counted). */
  records: number;
  blocks: number;
  /** First example, for the summary. */
  readonly detail: string;
}

export interface GoStoreInfo {
  readonly name: string;
  readonly dir: string;
  readonly layout: 'circular' | 'partitioned';
  readonly dataType: GoDataType;
  readonly numBlocks: number;
  readonly dataBlockSize: number;
  readonly indexBlockSize: number;
  /** Notes on the store as a whole (missing index, orphan blocks recovered, ...). */
  readonly notes: string[];
}

export class GoStoreError extends Error {}

const LOSS_TEXT: Record<LossReason, string> = {
  'soft-deleted': 'soft-deleted in the reference (they stay deleted)',
  truncated: 'beyond the end of a truncated data file',
  torn: 'torn writes (a record header without all of its bytes)',
  checksum: 'blocks whose checksum does not match their data',
  'broken-span': 'records spanning blocks with a missing or damaged part',
  clobbered:
    'spanning records whose last bytes the reference overwrote with the record written after them (a reference bug: it resumes writing 24 bytes before the end of the span)',
  'orphan-continuation': 'pieces of a record whose first block was reclaimed or lost',
  'bad-header': 'blocks with an impossible header',
};

export function describeLoss(l: Loss): string {
  const what = l.records > 0 ? `${l.records} record${l.records === 1 ? '' : 's'}` : `${l.blocks} block${l.blocks === 1 ? '' : 's'}`;
  return `${what} ${LOSS_TEXT[l.reason]} (${l.detail})`;
}

/** Positional, windowed reads of one data file; a missing tail reads as absent bytes. */
class BlockFile {
  private window = Buffer.alloc(0);
  private winStart = -1;
  private winBlocks = 0;
  readonly size: number;

  constructor(
    private readonly fd: number,
    readonly file: string,
    readonly numBlocks: number,
    readonly blockSize: number,
  ) {
    this.size = fs.fstatSync(fd).size;
    this.winBlocks = Math.max(1, Math.floor((1 << 20) / blockSize));
  }

  /** Bytes of block `n` present in the file (0..blockSize). */
  avail(n: number): number {
    return Math.max(0, Math.min(this.blockSize, this.size - n * this.blockSize));
  }

  /** Block `n` (zero-filled past the end of the file). */
  block(n: number): Buffer {
    if (this.winStart < 0 || n < this.winStart || n >= this.winStart + this.winBlocks) {
      this.winStart = n;
      const count = Math.min(this.winBlocks, this.numBlocks - n);
      if (this.window.length !== count * this.blockSize) this.window = Buffer.alloc(count * this.blockSize);
      else this.window.fill(0);
      let done = 0;
      const want = Math.min(this.window.length, Math.max(0, this.size - n * this.blockSize));
      while (done < want) {
        const got = fs.readSync(this.fd, this.window, done, want - done, n * this.blockSize + done);
        if (got === 0) break;
        done += got;
      }
    }
    const at = (n - this.winStart) * this.blockSize;
    return this.window.subarray(at, at + this.blockSize);
  }
}

/** One ring (circular store) or one partition: the blocks to walk and what their index says. */
interface Area {
  readonly label: string;
  readonly data: BlockFile;
  /** The index entry timestamp per block, or undefined when the index cannot tell. */
  readonly indexTs: (block: number) => bigint | undefined;
  /** Block numbers oldest → newest. */
  readonly sequence: readonly number[];
  /** Blocks found past the recorded head (crash recovery): their index may never have been written. */
  readonly orphans: ReadonlySet<number>;
}

export class GoStoreReader {
  readonly info: GoStoreInfo;
  readonly losses = new Map<LossReason, Loss>();
  /** Records recovered that the reference stored behind a spanning record and never returned. */
  hiddenRecovered = 0;
  private readonly areas: Area[] = [];
  private readonly fds: number[] = [];

  /** Opens `dir` read-only. Throws GoStoreError when the store cannot be read at all. */
  constructor(dir: string) {
    const name = path.basename(dir);
    const notes: string[] = [];
    const metaBuf = readSmall(path.join(dir, META_FILE));
    if (!metaBuf) throw new GoStoreError(`${META_FILE} is missing: the store's geometry is unknown`);
    if (metaBuf.length < 8) throw new GoStoreError(`${META_FILE} is ${metaBuf.length} bytes long: too short`);
    const magic = metaBuf.readBigUInt64LE(0);
    try {
      if (magic === MAGIC_V1) {
        if (metaBuf.length < META_V1_SIZE) throw new GoStoreError(`${META_FILE} is ${metaBuf.length} bytes long, expected ${META_V1_SIZE}`);
        const m = decodeMetaV1(metaBuf);
        const dataType = checkGeometry(m.numBlocks, m.dataBlockSize, m.dataType, metaBuf.readUInt32LE(8), 1);
        if (m.headBlock >= m.numBlocks || m.tailBlock >= m.numBlocks)
          throw new GoStoreError(`${META_FILE}: head ${m.headBlock} / tail ${m.tailBlock} outside ${m.numBlocks} blocks`);
        const data = this.openData(path.join(dir, DATA_FILE), DATA_FILE, m.numBlocks, m.dataBlockSize, notes);
        const indexTs = this.openIndex(path.join(dir, INDEX_FILE), INDEX_FILE, notes);
        this.areas.push(ringArea(DATA_FILE, data, indexTs, m.headBlock, m.tailBlock, notes));
        this.info = {
          name,
          dir,
          layout: 'circular',
          dataType,
          numBlocks: m.numBlocks,
          dataBlockSize: m.dataBlockSize,
          indexBlockSize: m.indexBlockSize,
          notes,
        };
      } else if (magic === MAGIC_V2) {
        if (metaBuf.length < META_V2_SIZE) throw new GoStoreError(`${META_FILE} is ${metaBuf.length} bytes long, expected ${META_V2_SIZE}`);
        const m = decodeMetaV2(metaBuf);
        const dataType = checkGeometry(m.blocksPerPartition, m.blockSize, m.dataType, metaBuf.readUInt32LE(8), 2);
        if (m.numPartitions < 1 || m.numPartitions > MAX_PARTITIONS || m.activeCount > m.numPartitions) {
          throw new GoStoreError(`${META_FILE}: ${m.activeCount} active of ${m.numPartitions} partitions is impossible`);
        }
        for (const id of m.partitionOrder.slice(0, m.activeCount)) {
          const area = this.openPartition(dir, id, m.blockSize, notes);
          if (area) this.areas.push(area);
        }
        this.info = {
          name,
          dir,
          layout: 'partitioned',
          dataType,
          numBlocks: m.blocksPerPartition * m.numPartitions,
          dataBlockSize: m.blockSize,
          indexBlockSize: 4096,
          notes,
        };
      } else {
        throw new GoStoreError(`${META_FILE} does not start with the TSSTORE1 or TSSTORE2 magic: not a ts-store store`);
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  close(): void {
    for (const fd of this.fds.splice(0)) fs.closeSync(fd);
  }

  private openData(file: string, label: string, numBlocks: number, blockSize: number, notes: string[]): BlockFile {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      throw new GoStoreError(`${label} cannot be opened (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): no record can be read`);
    }
    this.fds.push(fd);
    const bf = new BlockFile(fd, label, numBlocks, blockSize);
    const expected = numBlocks * blockSize;
    if (bf.size < expected) notes.push(`${label} is ${bf.size} bytes, expected ${expected}: truncated`);
    return bf;
  }

  private openIndex(file: string, label: string, notes: string[]): (block: number) => bigint | undefined {
    const index = readSmall(file);
    if (!index) {
      notes.push(
        `${label} is missing: records were read from the data file alone, so soft deletes (kept in the index) cannot be seen and those records are migrated as live`,
      );
      return () => undefined;
    }
    return (block) => (block * INDEX_ENTRY_SIZE + INDEX_ENTRY_SIZE <= index.length ? index.readBigInt64LE(block * INDEX_ENTRY_SIZE) : undefined);
  }

  private openPartition(dir: string, id: number, blockSize: number, notes: string[]): Area | undefined {
    const label = `partition-${id}`;
    const pdir = path.join(dir, label);
    const metaBuf = readSmall(path.join(pdir, META_FILE));
    if (!metaBuf || metaBuf.length < PARTITION_META_SIZE) {
      this.loss('truncated', 0, 1, `${label}/${META_FILE} is missing or short: the partition cannot be read`);
      return undefined;
    }
    const m = decodePartitionMeta(metaBuf);
    if (m.numBlocks < 1 || m.headBlock >= m.numBlocks) {
      this.loss('bad-header', 0, 1, `${label}/${META_FILE}: head ${m.headBlock} of ${m.numBlocks} blocks`);
      return undefined;
    }
    let data: BlockFile;
    try {
      data = this.openData(path.join(pdir, DATA_FILE), `${label}/${DATA_FILE}`, m.numBlocks, blockSize, notes);
    } catch (err) {
      this.loss('truncated', Number(m.objectCount), m.headBlock + 1, (err as Error).message);
      return undefined;
    }
    const indexTs = this.openIndex(path.join(pdir, INDEX_FILE), `${label}/${INDEX_FILE}`, notes);
    const sequence: number[] = [];
    const orphans = new Set<number>();
    if (!(m.objectCount === 0n && empty(data, 0))) {
      for (let b = 0; b <= m.headBlock; b++) sequence.push(b);
      for (let b = m.headBlock + 1; b < m.numBlocks && !empty(data, b); b++) {
        sequence.push(b);
        orphans.add(b);
      }
      if (orphans.size) notes.push(`${label}: ${orphans.size} block(s) written after the last metadata update were recovered`);
    }
    return { label: `${label}/${DATA_FILE}`, data, indexTs, sequence, orphans };
  }

  loss(reason: LossReason, records: number, blocks: number, detail: string): void {
    const l = this.losses.get(reason);
    if (l) {
      l.records += records;
      l.blocks += blocks;
    } else this.losses.set(reason, { reason, records, blocks, detail });
  }

  /** Every record, oldest first (the order the reference wrote them). */
  *records(): Generator<GoRecord> {
    for (const area of this.areas) yield* this.walk(area);
  }

  private *walk(area: Area): Generator<GoRecord> {
    const { data, sequence } = area;
    const bs = data.blockSize;
    const where = (b: number): string => `${area.label} block ${b}`;
    let i = 0;
    while (i < sequence.length) {
      const b = sequence[i];
      const avail = data.avail(b);
      if (avail < BLOCK_HEADER_SIZE) {
        this.loss('truncated', 0, 1, `${where(b)} and later`);
        i++;
        continue;
      }
      const buf = data.block(b);
      const h = decodeBlockHeader(buf, 0);
      if (h.flags === 0 && h.dataLen === 0) {
        i++;
        continue;
      }
      if (h.dataLen > bs - BLOCK_HEADER_SIZE) {
        this.loss('bad-header', 0, 1, `${where(b)} claims ${h.dataLen} bytes of data`);
        i++;
        continue;
      }
      if (!this.checksumOk(buf, h, avail)) {
        this.loss('checksum', countObjects(buf, h), 1, where(b));
        i++;
        continue;
      }
      if (h.flags & FLAG_CONTINUATION) {
        this.loss('orphan-continuation', 0, 1, where(b));
        i++;
        continue;
      }
      const indexTs = area.indexTs(b);
      const firstDeleted = indexTs === 0n && !area.orphans.has(b);
      if (!(h.flags & FLAG_PACKED)) {
        // Oldest format: one record per block, its data right after the block header.
        const end = BLOCK_HEADER_SIZE + h.dataLen;
        const ts = indexTs !== undefined && indexTs !== 0n ? indexTs : h.timestamp;
        if (firstDeleted) this.loss('soft-deleted', 1, 0, `timestamp ${h.timestamp}`);
        else if (end > avail) this.loss('truncated', 1, 0, `${where(b)}`);
        else yield { timestamp: ts, data: Buffer.from(buf.subarray(BLOCK_HEADER_SIZE, end)), schemaVersion: 0 };
        i++;
        continue;
      }
      const used = BLOCK_HEADER_SIZE + h.dataLen;
      let off = BLOCK_HEADER_SIZE;
      let first = true;
      let next = i + 1;
      let linksOn = false;
      while (off + OBJECT_HEADER_SIZE <= used) {
        const o = decodeObjectHeader(buf, off);
        if (o.timestamp === 0n) break;
        linksOn = !(o.flags & OBJ_LAST_IN_BLOCK) && o.nextOffset === off + OBJECT_HEADER_SIZE + o.dataLen;
        const deleted = first && firstDeleted;
        first = false;
        if (o.flags & OBJ_CONTINUES) {
          const span = this.readSpan(area, buf, off, used, o.dataLen, i);
          next = span.next;
          if (span.clobbered) {
            this.loss('clobbered', 1, 0, `the record at ${o.timestamp} (${where(b)})`);
          } else if (!span.data) {
            this.loss('broken-span', 1, 0, `the record at ${o.timestamp} (${where(b)})`);
          } else if (deleted) {
            this.loss('soft-deleted', 1, 0, `timestamp ${o.timestamp}`);
          } else {
            yield { timestamp: o.timestamp, data: span.data, schemaVersion: o.reserved };
          }
          if (span.tail) yield* this.afterSpan(area, span.tail.block, span.tail.offset);
          break;
        }
        const end = off + OBJECT_HEADER_SIZE + o.dataLen;
        if (end > used || end > bs) {
          this.loss('torn', 1, 0, `the record at ${o.timestamp} (${where(b)}) is longer than the block's written data`);
          break;
        }
        if (end > avail) {
          this.loss('truncated', 1, 0, `${where(b)}`);
          break;
        }
        if (deleted) this.loss('soft-deleted', 1, 0, `timestamp ${o.timestamp}`);
        else yield { timestamp: o.timestamp, data: Buffer.from(buf.subarray(off + OBJECT_HEADER_SIZE, end)), schemaVersion: o.reserved };
        off = end;
      }
      // The last committed record links to one more: written in part when the writer stopped
      // (the reference links before it writes the data and the block length). Say so.
      if (linksOn && off === used && off + OBJECT_HEADER_SIZE <= Math.min(bs, avail)) {
        const o = decodeObjectHeader(buf, off);
        if (o.timestamp !== 0n) this.loss('torn', 1, 0, `the record at ${o.timestamp} (${where(b)}) was never completed`);
      }
      i = next;
    }
  }

  /**
   * A record spanning blocks: its first piece fills the rest of block `sequence[i]`, the others
   * follow in continuation blocks. Returns the data (or none when a piece is missing), where the
   * walk goes on, and where the last continuation block's own records start, if it has any.
   */
  private readSpan(
    area: Area,
    buf: Buffer,
    off: number,
    used: number,
    total: number,
    i: number,
  ): {
    data?: Buffer;
    next: number;
    tail?: { block: number; offset: number };
    clobbered?: boolean;
  } {
    const parts: Buffer[] = [Buffer.from(buf.subarray(off + OBJECT_HEADER_SIZE, used))];
    let remaining = total - parts[0].length;
    let j = i + 1;
    let tail: { block: number; offset: number } | undefined;
    while (remaining > 0) {
      if (j >= area.sequence.length) return { next: j };
      const b = area.sequence[j];
      const avail = area.data.avail(b);
      const cb = area.data.block(b);
      const ch = decodeBlockHeader(cb, 0);
      if (avail < BLOCK_HEADER_SIZE || !(ch.flags & FLAG_CONTINUATION)) return { next: j };
      if (!this.checksumOk(cb, ch, avail)) return { next: j + 1 };
      const take = Math.min(ch.dataLen, remaining);
      if (BLOCK_HEADER_SIZE + take > avail) return { next: j + 1 };
      parts.push(Buffer.from(cb.subarray(BLOCK_HEADER_SIZE, BLOCK_HEADER_SIZE + take)));
      remaining -= take;
      if (remaining === 0 && ch.dataLen > take) {
        // The reference appends the next records at 24 + total % usable: 24 bytes short of
        // the piece's end when that is not a whole number of blocks (overwriting it), or past it.
        const usable = area.data.blockSize - BLOCK_HEADER_SIZE;
        const offset = BLOCK_HEADER_SIZE + (total % usable === 0 ? usable : total % usable);
        tail = { block: b, offset };
        if (offset < BLOCK_HEADER_SIZE + take) return { next: j + 1, tail, clobbered: true };
      }
      j++;
    }
    return { data: Buffer.concat(parts), next: j, tail };
  }

  /**
   * The reference keeps appending small records into the last block of a spanning record (its
   * write offset points there) but never reads them back. They are there, whole: recover them.
   */
  private *afterSpan(area: Area, block: number, start: number): Generator<GoRecord> {
    const buf = area.data.block(block);
    const h = decodeBlockHeader(buf, 0);
    const used = BLOCK_HEADER_SIZE + h.dataLen;
    const avail = area.data.avail(block);
    let off = start;
    while (off + OBJECT_HEADER_SIZE <= used) {
      const o = decodeObjectHeader(buf, off);
      if (o.timestamp === 0n) break;
      const end = off + OBJECT_HEADER_SIZE + o.dataLen;
      if (o.flags & OBJ_CONTINUES || end > used || end > avail) {
        this.loss('torn', 1, 0, `the record at ${o.timestamp} (${area.label} block ${block})`);
        break;
      }
      this.hiddenRecovered++;
      yield { timestamp: o.timestamp, data: Buffer.from(buf.subarray(off + OBJECT_HEADER_SIZE, end)), schemaVersion: o.reserved };
      off = end;
    }
  }

  private checksumOk(buf: Buffer, h: BlockHeader, avail: number): boolean {
    if (h.checksum === undefined) return true;
    const end = BLOCK_HEADER_SIZE + h.dataLen;
    return end <= avail && crc32c(buf, BLOCK_HEADER_SIZE, end) === h.checksum;
  }
}

function readSmall(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new GoStoreError(`${path.basename(file)} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function checkGeometry(numBlocks: number, blockSize: number, dataType: number, version: number, wantVersion: number): GoDataType {
  if (version !== wantVersion) throw new GoStoreError(`${META_FILE}: format version ${version}, expected ${wantVersion}`);
  if (numBlocks < 1) throw new GoStoreError(`${META_FILE}: ${numBlocks} blocks`);
  if (!isPowerOfTwo(blockSize) || blockSize < MIN_BLOCK_SIZE)
    throw new GoStoreError(`${META_FILE}: block size ${blockSize} is not a power of two >= ${MIN_BLOCK_SIZE}`);
  const t = GO_DATA_TYPES[dataType];
  if (!t) throw new GoStoreError(`${META_FILE}: unknown data type ${dataType}`);
  return t;
}

function empty(data: BlockFile, b: number): boolean {
  if (data.avail(b) < BLOCK_HEADER_SIZE) return true;
  const h = decodeBlockHeader(data.block(b), 0);
  return h.flags === 0 && h.dataLen === 0;
}

/** The ring's blocks oldest → newest, after the reference's own crash recovery of the head. */
function ringArea(label: string, data: BlockFile, indexTs: (b: number) => bigint | undefined, head: number, tail: number, notes: string[]): Area {
  const n = data.numBlocks;
  const sequence: number[] = [];
  const orphans = new Set<number>();
  if (!(head === tail && empty(data, head))) {
    for (let b = tail; ; b = (b + 1) % n) {
      sequence.push(b);
      if (b === head) break;
    }
    // A block written before a crash but after the last metadata update sits past the head. (Past
    // the head also lie the left-over pieces of a reclaimed spanning record: no orphan starts with one.)
    for (let b = (head + 1) % n; b !== tail && !empty(data, b) && sequence.length < n; b = (b + 1) % n) {
      if (orphans.size === 0 && decodeBlockHeader(data.block(b), 0).flags & FLAG_CONTINUATION) break;
      sequence.push(b);
      orphans.add(b);
    }
    if (orphans.size) notes.push(`${orphans.size} block(s) written after the last metadata update were recovered (the reference recovers them too)`);
  }
  return { label, data, indexTs, sequence, orphans };
}

/** Records whose headers can be seen in a block (for loss counts). */
function countObjects(buf: Buffer, h: BlockHeader): number {
  if (h.flags & FLAG_CONTINUATION) return 0;
  if (!(h.flags & FLAG_PACKED)) return 1;
  let n = 0;
  let off = BLOCK_HEADER_SIZE;
  const used = Math.min(buf.length, BLOCK_HEADER_SIZE + h.dataLen);
  while (off + OBJECT_HEADER_SIZE <= used) {
    const o = decodeObjectHeader(buf, off);
    if (o.timestamp === 0n) break;
    n++;
    if (o.flags & OBJ_CONTINUES) break;
    off += OBJECT_HEADER_SIZE + o.dataLen;
  }
  return n;
}
