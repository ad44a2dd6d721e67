/**
 * Rebuilds a store's block index from the data file alone. Nothing in memory or in a side file is
 * trusted: every block header and every record checksum is verified.
 *
 * 1. Read every block; keep headers whose checksum, generation and slot (seq % numBlocks) agree.
 * 2. The live window is the `numBlocks` sequence numbers ending at the highest valid one.
 * 3. Walk it oldest to newest: a packed block keeps its leading run of valid records (stopping at
 *    the first bad checksum, foreign sequence number or non-increasing timestamp); a spanning
 *    record counts only when all its blocks are present and its checksum matches; anything else
 *    becomes an empty slot. Timestamps must keep increasing across blocks.
 * 4. Leading empty slots are dropped; the unused tail of the newest block is zeroed so leftovers
 *    of a torn write can never be mistaken for records appended later.
 */
import { BlockRing } from './block-ring.js';
import type { CheckpointImage } from './checkpoint.js';
import { crc32 } from './crc32.js';
import {
  BLOCK_HEADER_SIZE,
  BlockKind,
  Geometry,
  RECORD_HEADER_SIZE,
  decodeBlockHeader,
  decodeRecordHeader,
  forEachSpanPiece,
  RECORD_CRC_FROM,
  recordHeaderCrc,
  seqLow,
  spanBlocksFor,
} from './format.js';
import type { BlockFileHandle } from './io.js';

const READ_CHUNK = 8 << 20;

export interface PackedScan {
  count: number;
  deleted: number;
  /** Data bytes of the live records. */
  bytes: number;
  deletedBytes: number;
  firstTs: bigint;
  lastTs: bigint;
  endOffset: number;
}

export interface RecoveredStore {
  readonly ring: BlockRing;
  readonly generation: number;
  readonly newestTs?: bigint;
  readonly totals: { count: number; deleted: number; bytes: number };
  /**
   * Blocks of the live window that should hold records but yield none (torn, damaged, a span
   * not whole, a header destroyed): their records are lost.
   */
  readonly discardedBlocks: number;
  /** Kept packed blocks (not the newest) cut short: bytes after their last valid record are not zero, so records there were lost. */
  readonly damagedBlocks: number;
}

/** Whether bytes follow the valid records of a packed block (where the next record would start). */
function tailDirty(buf: Buffer, off: number, endOffset: number, blockSize: number): boolean {
  for (let i = endOffset; i < Math.min(blockSize, endOffset + RECORD_HEADER_SIZE); i++) if (buf[off + i] !== 0) return true;
  return false;
}

/**
 * Valid records at the start of a packed block held in `buf` at `off`, from `from` (the block
 * header's end unless earlier records were verified already) with timestamps above `after`.
 */
export function scanPackedBlock(buf: Buffer, off: number, blockSize: number, seq: number, from = BLOCK_HEADER_SIZE, after?: bigint): PackedScan {
  const scan: PackedScan = { count: 0, deleted: 0, bytes: 0, deletedBytes: 0, firstTs: 0n, lastTs: after ?? 0n, endOffset: from };
  let pos = from;
  while (pos + RECORD_HEADER_SIZE <= blockSize) {
    const rh = decodeRecordHeader(buf, off + pos);
    if (!rh || rh.seqLow !== seqLow(seq)) break;
    const end = pos + RECORD_HEADER_SIZE + rh.dataLength;
    if (end > blockSize) break;
    const crc = crc32(buf, off + pos + RECORD_CRC_FROM, off + end);
    if (crc !== rh.crc) break;
    if ((scan.count > 0 || after !== undefined) && rh.timestamp <= scan.lastTs) break;
    if (scan.count === 0) scan.firstTs = rh.timestamp;
    scan.lastTs = rh.timestamp;
    scan.count++;
    if (rh.deleted) {
      scan.deleted++;
      scan.deletedBytes += rh.dataLength;
    } else scan.bytes += rh.dataLength;
    pos = end;
  }
  scan.endOffset = pos;
  return scan;
}

/** Reads `count` consecutive blocks starting at `seq` (wrapping at the end of the file). */
export async function readBlocks(fh: BlockFileHandle, g: Geometry, seq: number, count: number): Promise<Buffer> {
  const buf = Buffer.alloc(count * g.blockSize);
  const slot = seq % g.numBlocks;
  const first = Math.min(count, g.numBlocks - slot);
  await fh.read(buf, 0, first * g.blockSize, slot * g.blockSize);
  if (first < count) await fh.read(buf, first * g.blockSize, (count - first) * g.blockSize, 0);
  return buf;
}

/**
 * Whether the span of `blocks` blocks starting at `seq` is whole: its record's checksum over every
 * piece matches (and, given a generation, every block header is the one it must be).
 */
export async function spanIsValid(fh: BlockFileHandle, g: Geometry, seq: number, blocks: number, generation?: number): Promise<boolean> {
  const buf = await readBlocks(fh, g, seq, blocks);
  const rh = decodeRecordHeader(buf, BLOCK_HEADER_SIZE);
  if (!rh || rh.seqLow !== seqLow(seq) || spanBlocksFor(rh.dataLength, g.blockSize) !== blocks) return false;
  for (let i = 0; generation !== undefined && i < blocks; i++) {
    const h = decodeBlockHeader(buf, i * g.blockSize);
    if (!h || h.seq !== seq + i || h.generation !== generation || h.kind !== (i === 0 ? BlockKind.SpanHead : BlockKind.SpanCont) || h.spanIndex !== i)
      return false;
  }
  let crc = recordHeaderCrc(buf, BLOCK_HEADER_SIZE);
  forEachSpanPiece(rh.dataLength, g.blockSize, (block, offset, length) => {
    const start = block * g.blockSize + offset;
    crc = crc32(buf, start, start + length, crc);
  });
  return crc === rh.crc;
}

/**
 * @param generation the generation in the meta file; undefined when the meta file was lost
 *   (the highest generation found in the data is taken).
 * @param seqBase first sequence number of that generation.
 *
 * Memory: the ring's own arrays (16 bytes per block) hold each slot's scan result, plus 16 bytes
 * per block (sequence number, last timestamp) while recovering; no object per block.
 */
export async function recoverStore(fh: BlockFileHandle, g: Geometry, generation: number | undefined, seqBase: number): Promise<RecoveredStore> {
  const { numBlocks, blockSize } = g;
  const ring = new BlockRing(numBlocks, blockSize, seqBase);
  const { keys, words, aux } = ring;
  const seqs = new Float64Array(numBlocks).fill(-1);
  const lastTs = new BigInt64Array(numBlocks);
  const gens = generation === undefined ? new Uint32Array(numBlocks) : undefined;
  const deletedBySlot = new Map<number, { count: number; bytes: number }>();
  const dirty = new Uint8Array(numBlocks);
  const kindAt = (slot: number): number => words[slot] >>> 27;

  // 1. Every slot, in file order.
  const blocksPerChunk = Math.max(1, Math.floor(READ_CHUNK / blockSize));
  const buf = Buffer.alloc(Math.min(numBlocks, blocksPerChunk) * blockSize);
  for (let first = 0; first < numBlocks; first += blocksPerChunk) {
    const count = Math.min(blocksPerChunk, numBlocks - first);
    const bytesRead = await fh.read(buf, 0, count * blockSize, first * blockSize);
    buf.fill(0, bytesRead, count * blockSize);
    for (let i = 0; i < count; i++) {
      const slot = first + i;
      const off = i * blockSize;
      const header = decodeBlockHeader(buf, off);
      if (!header || header.seq % numBlocks !== slot) continue;
      if (gens) gens[slot] = header.generation;
      else if (header.generation !== generation) continue;
      seqs[slot] = header.seq;
      keys[slot] = 0n;
      aux[slot] = 0;
      words[slot] = header.kind << 27;
      if (header.kind === BlockKind.Packed) {
        const p = scanPackedBlock(buf, off, blockSize, header.seq);
        words[slot] = ((BlockKind.Packed << 27) | p.count) >>> 0;
        keys[slot] = p.firstTs;
        lastTs[slot] = p.lastTs;
        aux[slot] = p.endOffset;
        dirty[slot] = tailDirty(buf, off, p.endOffset, blockSize) ? 1 : 0;
        if (p.deleted > 0) deletedBySlot.set(slot, { count: p.deleted, bytes: p.deletedBytes });
      } else if (header.kind === BlockKind.SpanHead) {
        const rh = decodeRecordHeader(buf, off + BLOCK_HEADER_SIZE);
        if (rh) {
          words[slot] = ((BlockKind.SpanHead << 27) | 1) >>> 0;
          keys[slot] = rh.timestamp;
          aux[slot] = rh.dataLength;
          if (rh.deleted) deletedBySlot.set(slot, { count: 1, bytes: rh.dataLength });
        }
      } else {
        aux[slot] = header.spanIndex;
      }
    }
  }
  let gen = generation;
  if (gens) gen = gens.reduce((max, x, slot) => (seqs[slot] >= 0 ? Math.max(max, x) : max), 0);
  let maxSeq = -1;
  let minSeq = Infinity;
  for (let slot = 0; slot < numBlocks; slot++) {
    if (seqs[slot] < 0) continue;
    if ((gens && gens[slot] !== gen) || seqs[slot] < seqBase) seqs[slot] = -1;
    else {
      maxSeq = Math.max(maxSeq, seqs[slot]);
      minSeq = Math.min(minSeq, seqs[slot]);
    }
  }
  if (maxSeq < 0) {
    ring.clear(seqBase);
    return { ring, generation: gen as number, totals: { count: 0, deleted: 0, bytes: 0 }, discardedBlocks: 0, damagedBlocks: 0 };
  }

  // 2. The live window, oldest to newest; each slot's scan result becomes its final entry.
  let prevTs: bigint | undefined;
  let discarded = 0;
  let damaged = 0;
  const lo = Math.max(seqBase, maxSeq - numBlocks + 1);
  ring.oldestSeq = lo;
  ring.newestSeq = lo - 1;
  const present = (seq: number): boolean => seqs[seq % numBlocks] === seq;
  for (let seq = lo; seq <= maxSeq; seq++) {
    const slot = seq % numBlocks;
    const kind = present(seq) ? kindAt(slot) : BlockKind.Empty;
    const count = words[slot] & ((1 << 27) - 1);
    const key = keys[slot];
    if (kind === BlockKind.Packed && count > 0 && (prevTs === undefined || key > prevTs)) {
      ring.push({ seq, kind: BlockKind.Packed, count, key, aux: aux[slot], sealed: false });
      const d = deletedBySlot.get(slot);
      if (d) ring.deletions.set(seq, d);
      prevTs = lastTs[slot];
      // The newest block's tail is the open's to judge (a torn append is zeroed there).
      if (dirty[slot] && seq < maxSeq) damaged++;
      continue;
    }
    if (kind === BlockKind.SpanHead && count === 1 && (prevTs === undefined || key > prevTs)) {
      const length = aux[slot];
      const blocks = spanBlocksFor(length, blockSize);
      let complete = blocks > 1 && seq + blocks - 1 <= maxSeq;
      for (let i = 1; complete && i < blocks; i++) {
        const c = (seq + i) % numBlocks;
        complete = present(seq + i) && kindAt(c) === BlockKind.SpanCont && aux[c] === i;
      }
      if (complete && (await spanIsValid(fh, g, seq, blocks))) {
        ring.push({ seq, kind: BlockKind.SpanHead, count: 1, key, aux: length, sealed: true });
        const d = deletedBySlot.get(slot);
        if (d) ring.deletions.set(seq, d);
        for (let i = 1; i < blocks; i++) ring.push({ seq: seq + i, kind: BlockKind.SpanCont, count: 0, key, aux: 0, sealed: true });
        prevTs = key;
        seq += blocks - 1;
        continue;
      }
    }
    // Every block from the generation's first one on was written. What yields no record is lost,
    // except continuations at the old end whose head the ring had already reclaimed.
    const orphan = present(seq) && kindAt(slot) === BlockKind.SpanCont && seq - aux[slot] < lo;
    if (seq >= minSeq && !orphan) discarded++;
    ring.push({ seq, kind: BlockKind.Empty, count: 0, key: ring.newestKey(), aux: 0, sealed: true });
  }
  ring.dropLeadingEmpty();
  return { ring, generation: gen as number, newestTs: prevTs, totals: ring.sumTotals(), discardedBlocks: discarded, damagedBlocks: damaged };
}

/** What `resumeStore` found after the checkpoint. */
export interface ResumedStore extends RecoveredStore {
  /** Blocks found in the data file after the checkpoint's newest one. */
  readonly tailBlocks: number;
}

/**
 * Opening from a checkpoint: the index it restored is checked against the data file (its newest
 * block must still be there as recorded, though it may have gained records), then only the blocks
 * written after it are read and verified, in sequence order, until the first slot that does not
 * hold the next block (each reclaims the oldest block in its slot, as the write did), and the
 * oldest block left must still be there. Returns the reason when the checkpoint is stale.
 */
export async function resumeStore(fh: BlockFileHandle, g: Geometry, generation: number, image: CheckpointImage): Promise<ResumedStore | string> {
  const { numBlocks, blockSize } = g;
  const { ring } = image;
  const totals = { ...image.totals };
  let newestTs = image.newestTs;
  const headerIs = (buf: Buffer, off: number, seq: number, kind?: number): boolean => {
    const h = decodeBlockHeader(buf, off);
    return h !== null && h.seq === seq && h.generation === generation && (kind === undefined || h.kind === kind);
  };

  ring.dropLeadingEmpty();
  const lappedAt = async (seq: number): Promise<boolean> => {
    const h = decodeBlockHeader(await readBlocks(fh, g, seq, 1), 0);
    return h !== null && h.generation === generation && h.seq > seq;
  };
  if (ring.size === 0 && ring.oldestSeq > 0 && (await lappedAt(ring.oldestSeq - 1))) return 'stale: the data file has newer blocks';
  if (ring.size > 0) {
    const newest = ring.newestSeq;
    const kind = ring.kind(newest);
    const buf = await readBlocks(fh, g, newest, 1);
    if (kind !== BlockKind.Empty && !headerIs(buf, 0, newest, kind)) return 'stale: its newest block is not in the data file';
    if (kind === BlockKind.Packed) {
      const p = scanPackedBlock(buf, 0, blockSize, newest);
      const had = ring.count(newest);
      if (p.count < had || p.firstTs !== ring.key(newest) || p.endOffset < ring.endOffset(newest) || (p.count > had && ring.sealed(newest))) {
        return 'stale: its newest block differs from the data file';
      }
      const bytesBefore = ring.liveBytes(newest);
      const deletedBefore = ring.deleted(newest);
      ring.appendTo(newest, p.count - had, p.endOffset);
      if (p.deleted > 0) ring.deletions.set(newest, { count: p.deleted, bytes: p.deletedBytes });
      else ring.deletions.delete(newest);
      totals.count += p.count - had;
      totals.deleted += p.deleted - deletedBefore;
      totals.bytes += ring.liveBytes(newest) - bytesBefore;
      if (newestTs === undefined || p.lastTs > newestTs) newestTs = p.lastTs;
    }
  }

  const reclaimFor = (seq: number): void => {
    while (ring.size > 0 && ring.oldestSeq <= seq - numBlocks) {
      const r = ring.dropOldest();
      if (!r) break;
      totals.count -= r.count;
      totals.deleted -= r.deleted;
      totals.bytes -= r.bytes;
    }
  };
  let tailBlocks = 0;
  let seq = ring.newestSeq + 1;
  const tailStart = seq;
  const blocksPerChunk = Math.max(1, Math.floor(READ_CHUNK / blockSize));
  let buf = Buffer.alloc(0);
  scan: for (;;) {
    const slot = seq % numBlocks;
    const count = Math.min(blocksPerChunk, numBlocks - slot);
    if (buf.length < count * blockSize) buf = Buffer.alloc(count * blockSize);
    const bytesRead = await fh.read(buf, 0, count * blockSize, slot * blockSize);
    buf.fill(0, bytesRead, count * blockSize);
    for (let i = 0; i < count; i++, seq++) {
      const off = i * blockSize;
      const h = decodeBlockHeader(buf, off);
      if (!h || h.seq !== seq || h.generation !== generation) break scan;
      if (h.kind === BlockKind.Packed) {
        const p = scanPackedBlock(buf, off, blockSize, seq);
        if (p.count === 0 || (newestTs !== undefined && p.firstTs <= newestTs)) break scan;
        reclaimFor(seq);
        ring.push({ seq, kind: BlockKind.Packed, count: p.count, key: p.firstTs, aux: p.endOffset, sealed: false });
        if (p.deleted > 0) ring.deletions.set(seq, { count: p.deleted, bytes: p.deletedBytes });
        totals.count += p.count;
        totals.deleted += p.deleted;
        totals.bytes += p.bytes;
        newestTs = p.lastTs;
        tailBlocks++;
        continue;
      }
      if (h.kind !== BlockKind.SpanHead) break scan;
      const rh = decodeRecordHeader(buf, off + BLOCK_HEADER_SIZE);
      if (!rh || (newestTs !== undefined && rh.timestamp <= newestTs)) break scan;
      const blocks = spanBlocksFor(rh.dataLength, blockSize);
      if (blocks < 2 || blocks > numBlocks || !(await spanIsValid(fh, g, seq, blocks, generation))) break scan;
      for (let j = 0; j < blocks; j++) {
        reclaimFor(seq + j);
        ring.push({
          seq: seq + j,
          kind: j === 0 ? BlockKind.SpanHead : BlockKind.SpanCont,
          count: j === 0 ? 1 : 0,
          key: rh.timestamp,
          aux: j === 0 ? rh.dataLength : 0,
          sealed: true,
        });
      }
      if (rh.deleted) ring.deletions.set(seq, { count: 1, bytes: rh.dataLength });
      totals.count++;
      if (rh.deleted) totals.deleted++;
      else totals.bytes += rh.dataLength;
      newestTs = rh.timestamp;
      tailBlocks += blocks;
      seq += blocks;
      continue scan;
    }
  }
  // The writes after the checkpoint stayed below its write limit, so only the slots of
  // [where the scan stopped, limit) may hold bytes the checkpoint does not describe: a power cut
  // can leave them torn, or holding blocks written after a gap. None may hold a block newer than
  // the checkpoint, and every block the index still lists there must verify in full.
  const zoneEnd = Math.min(Math.max(image.writeLimit, seq + 1), tailStart + numBlocks);
  const problem = await verifyZone(fh, g, generation, ring, tailStart, seq, zoneEnd);
  if (problem) return problem;
  const recounted = await recountDeletions(fh, g, generation, ring, image.recount, totals);
  if (recounted) return recounted;
  ring.dropLeadingEmpty();
  // The oldest block left from the checkpoint must still be there: a write torn at the slot where
  // the scan stopped may have damaged it.
  const oldest = ring.oldestSeq;
  if (ring.size > 0 && oldest < tailStart && !headerIs(await readBlocks(fh, g, oldest, 1), 0, oldest, ring.kind(oldest))) {
    return 'stale: its oldest block is no longer in the data file';
  }
  // Everything kept was verified: a block that did not verify sent the open to the full scan.
  return { ring, generation, newestTs, totals, discardedBlocks: 0, damagedBlocks: 0, tailBlocks };
}

/**
 * Checks the slots of sequence numbers [from, to) after a checkpoint's scan stopped at `from`
 * (`tailStart`: the first block the checkpoint did not list). Returns why the checkpoint cannot
 * be trusted, or undefined: no slot holds a block written after the checkpoint, and every block
 * of the index in those slots (the checkpoint's, one lap earlier) is whole, as recorded.
 */
async function verifyZone(
  fh: BlockFileHandle,
  g: Geometry,
  generation: number,
  ring: BlockRing,
  tailStart: number,
  from: number,
  to: number,
): Promise<string | undefined> {
  const { numBlocks, blockSize } = g;
  const blocksPerChunk = Math.max(1, Math.floor(READ_CHUNK / blockSize));
  const spansChecked = new Set<number>();
  const spanOk = async (head: number): Promise<boolean> => {
    if (spansChecked.has(head)) return true;
    spansChecked.add(head);
    return spanIsValid(fh, g, head, ring.spanBlocks(head), generation);
  };
  let buf = Buffer.alloc(0);
  for (let seq = from; seq < to;) {
    const slot = seq % numBlocks;
    const count = Math.min(blocksPerChunk, numBlocks - slot, to - seq);
    if (buf.length < count * blockSize) buf = Buffer.alloc(count * blockSize);
    const bytesRead = await fh.read(buf, 0, count * blockSize, slot * blockSize);
    buf.fill(0, bytesRead, count * blockSize);
    for (let i = 0; i < count; i++, seq++) {
      const off = i * blockSize;
      const h = decodeBlockHeader(buf, off);
      if (h && h.generation === generation && h.seq >= tailStart) return 'stale: a block written after the checkpoint lies beyond a gap';
      const old = seq - numBlocks;
      if (!ring.has(old)) continue;
      const kind = ring.kind(old);
      if (kind === BlockKind.Empty) continue;
      if (!h || h.seq !== old || h.generation !== generation || h.kind !== kind) return 'stale: a block it lists was overwritten';
      if (kind === BlockKind.Packed) {
        if (ring.count(old) === 0) continue;
        const p = scanPackedBlock(buf, off, blockSize, old);
        if (p.count !== ring.count(old) || p.firstTs !== ring.key(old) || p.endOffset !== ring.endOffset(old) || p.deleted !== ring.deleted(old)) {
          return 'stale: a block it lists differs from the data file';
        }
      } else if (kind === BlockKind.SpanHead) {
        if (!(await spanOk(old))) return 'stale: a record it lists is no longer whole';
      } else {
        // A continuation: its span must still be whole (when its head is live).
        const head = ring.recordBlockAtOrBefore(old);
        if (ring.holdsRecords(head) && ring.kind(head) === BlockKind.SpanHead && head + ring.spanBlocks(head) > old && !(await spanOk(head))) {
          return 'stale: a record it lists is no longer whole';
        }
      }
    }
  }
  return undefined;
}

/**
 * Blocks the checkpoint listed for a recount (a soft delete was in flight): their deletion counts
 * are taken from the data file's marks. Returns why the checkpoint cannot be trusted, or undefined.
 */
async function recountDeletions(
  fh: BlockFileHandle,
  g: Geometry,
  generation: number,
  ring: BlockRing,
  seqs: ReadonlySet<number>,
  totals: { count: number; deleted: number; bytes: number },
): Promise<string | undefined> {
  for (const seq of seqs) {
    if (!ring.holdsRecords(seq)) continue;
    const kind = ring.kind(seq);
    const buf = await readBlocks(fh, g, seq, 1);
    const h = decodeBlockHeader(buf, 0);
    if (!h || h.seq !== seq || h.generation !== generation || h.kind !== kind) return 'stale: a block it lists was overwritten';
    let deleted = 0;
    let deletedBytes = 0;
    if (kind === BlockKind.Packed) {
      const p = scanPackedBlock(buf, 0, g.blockSize, seq);
      if (p.count !== ring.count(seq)) return 'stale: a block it lists differs from the data file';
      deleted = p.deleted;
      deletedBytes = p.deletedBytes;
    } else {
      const rh = decodeRecordHeader(buf, BLOCK_HEADER_SIZE);
      if (!rh) return 'stale: a record it lists is no longer whole';
      if (rh.deleted) {
        deleted = 1;
        deletedBytes = rh.dataLength;
      }
    }
    const bytesBefore = ring.liveBytes(seq);
    totals.deleted += deleted - ring.deleted(seq);
    if (deleted > 0) ring.deletions.set(seq, { count: deleted, bytes: deletedBytes });
    else ring.deletions.delete(seq);
    totals.bytes += ring.liveBytes(seq) - bytesBefore;
  }
  return undefined;
}
