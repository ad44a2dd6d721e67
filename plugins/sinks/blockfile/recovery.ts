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
import { crc32 } from './crc32.js';
import {
  BLOCK_HEADER_SIZE, BlockKind, Geometry, RECORD_HEADER_SIZE,
  decodeBlockHeader, decodeRecordHeader, forEachSpanPiece, recordHeaderCrc, seqLow, spanBlocksFor,
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
  /** Blocks found with a valid header that could not be used (torn or damaged). */
  readonly discardedBlocks: number;
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
    const crc = crc32(buf, off + pos + RECORD_HEADER_SIZE, off + end, recordHeaderCrc(buf, off + pos));
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

/** Whether the span of `blocks` blocks starting at `seq` is whole: its record's checksum over every piece matches. */
export async function spanIsValid(fh: BlockFileHandle, g: Geometry, seq: number, blocks: number): Promise<boolean> {
  const buf = await readBlocks(fh, g, seq, blocks);
  const rh = decodeRecordHeader(buf, BLOCK_HEADER_SIZE);
  if (!rh || rh.seqLow !== seqLow(seq) || spanBlocksFor(rh.dataLength, g.blockSize) !== blocks) return false;
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
  let validHeaders = 0;
  for (let slot = 0; slot < numBlocks; slot++) {
    if (seqs[slot] < 0) continue;
    if ((gens && gens[slot] !== gen) || seqs[slot] < seqBase) seqs[slot] = -1;
    else {
      validHeaders++;
      maxSeq = Math.max(maxSeq, seqs[slot]);
    }
  }
  if (maxSeq < 0) {
    ring.clear(seqBase);
    return { ring, generation: gen as number, totals: { count: 0, deleted: 0, bytes: 0 }, discardedBlocks: 0 };
  }

  // 2. The live window, oldest to newest; each slot's scan result becomes its final entry.
  let prevTs: bigint | undefined;
  let kept = 0;
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
      kept++;
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
        kept += blocks;
        seq += blocks - 1;
        continue;
      }
    }
    ring.push({ seq, kind: BlockKind.Empty, count: 0, key: ring.newestKey(), aux: 0, sealed: true });
  }
  ring.dropLeadingEmpty();
  return { ring, generation: gen as number, newestTs: prevTs, totals: ring.sumTotals(), discardedBlocks: validHeaders - kept };
}
