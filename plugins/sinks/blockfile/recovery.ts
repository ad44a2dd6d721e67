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
import { BlockInfo, BlockRing } from './block-ring.js';
import { crc32 } from './crc32.js';
import {
  BLOCK_HEADER_SIZE, BlockHeader, BlockKind, Geometry, RECORD_HEADER_SIZE, RecordHeader,
  decodeBlockHeader, decodeRecordHeader, forEachSpanPiece, recordHeaderCrc, seqLow, spanBlocksFor,
} from './format.js';
import type { BlockFileHandle } from './io.js';

const READ_CHUNK = 8 << 20;

interface PackedScan {
  count: number;
  deleted: number;
  bytes: number;
  firstTs: bigint;
  lastTs: bigint;
  endOffset: number;
}

interface SlotScan {
  header: BlockHeader;
  packed?: PackedScan;
  spanRecord?: RecordHeader;
}

export interface RecoveredStore {
  readonly ring: BlockRing;
  readonly generation: number;
  readonly newestTs?: bigint;
  readonly totals: { count: number; deleted: number; bytes: number };
  /** Blocks found with a valid header that could not be used (torn or damaged). */
  readonly discardedBlocks: number;
}

/** Valid records at the start of a packed block held in `buf` at `off`. */
export function scanPackedBlock(buf: Buffer, off: number, blockSize: number, seq: number): PackedScan {
  const scan: PackedScan = { count: 0, deleted: 0, bytes: 0, firstTs: 0n, lastTs: 0n, endOffset: BLOCK_HEADER_SIZE };
  let pos = BLOCK_HEADER_SIZE;
  while (pos + RECORD_HEADER_SIZE <= blockSize) {
    const rh = decodeRecordHeader(buf, off + pos);
    if (!rh || rh.seqLow !== seqLow(seq)) break;
    const end = pos + RECORD_HEADER_SIZE + rh.dataLength;
    if (end > blockSize) break;
    const crc = crc32(buf, off + pos + RECORD_HEADER_SIZE, off + end, recordHeaderCrc(buf, off + pos));
    if (crc !== rh.crc) break;
    if (scan.count > 0 && rh.timestamp <= scan.lastTs) break;
    if (scan.count === 0) scan.firstTs = rh.timestamp;
    scan.lastTs = rh.timestamp;
    scan.count++;
    if (rh.deleted) scan.deleted++;
    else scan.bytes += rh.dataLength;
    pos = end;
  }
  scan.endOffset = pos;
  return scan;
}

async function readSlots(fh: BlockFileHandle, g: Geometry): Promise<(SlotScan | undefined)[]> {
  const { numBlocks, blockSize } = g;
  const slots = new Array<SlotScan | undefined>(numBlocks);
  const blocksPerChunk = Math.max(1, Math.floor(READ_CHUNK / blockSize));
  const buf = Buffer.alloc(blocksPerChunk * blockSize);
  for (let first = 0; first < numBlocks; first += blocksPerChunk) {
    const count = Math.min(blocksPerChunk, numBlocks - first);
    const bytesRead = await fh.read(buf, 0, count * blockSize, first * blockSize);
    buf.fill(0, bytesRead, count * blockSize);
    for (let i = 0; i < count; i++) {
      const slot = first + i;
      const off = i * blockSize;
      const header = decodeBlockHeader(buf, off);
      if (!header || header.seq % numBlocks !== slot) continue;
      const s: SlotScan = { header };
      if (header.kind === BlockKind.Packed) s.packed = scanPackedBlock(buf, off, blockSize, header.seq);
      if (header.kind === BlockKind.SpanHead) s.spanRecord = decodeRecordHeader(buf, off + BLOCK_HEADER_SIZE) ?? undefined;
      slots[slot] = s;
    }
  }
  return slots;
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

async function spanIsValid(fh: BlockFileHandle, g: Geometry, seq: number, rh: RecordHeader, blocks: number): Promise<boolean> {
  if (rh.seqLow !== seqLow(seq)) return false;
  const buf = await readBlocks(fh, g, seq, blocks);
  let crc = recordHeaderCrc(buf, BLOCK_HEADER_SIZE);
  forEachSpanPiece(rh.dataLength, g.blockSize, (block, offset, length) => {
    const start = block * g.blockSize + offset;
    crc = crc32(buf, start, start + length, crc);
  });
  return crc === rh.crc;
}

function emptyInfo(seq: number, key: bigint): BlockInfo {
  return { seq, kind: BlockKind.Empty, count: 0, deleted: 0, bytes: 0, firstTs: key, lastTs: key, key, endOffset: 0, spanBlocks: 0, sealed: true };
}

/**
 * @param generation the generation in the meta file; undefined when the meta file was lost
 *   (the highest generation found in the data is taken).
 * @param seqBase first sequence number of that generation.
 */
export async function recoverStore(fh: BlockFileHandle, g: Geometry, generation: number | undefined, seqBase: number): Promise<RecoveredStore> {
  const { numBlocks } = g;
  const slots = await readSlots(fh, g);
  let gen = generation;
  if (gen === undefined) gen = slots.reduce((max, s) => Math.max(max, s ? s.header.generation : 0), 0);
  let maxSeq = -1;
  let validHeaders = 0;
  for (let i = 0; i < numBlocks; i++) {
    const s = slots[i];
    if (!s || s.header.generation !== gen || s.header.seq < seqBase) slots[i] = undefined;
    else {
      validHeaders++;
      maxSeq = Math.max(maxSeq, s.header.seq);
    }
  }
  if (maxSeq < 0) {
    return { ring: new BlockRing(numBlocks, seqBase), generation: gen, totals: { count: 0, deleted: 0, bytes: 0 }, discardedBlocks: 0 };
  }

  const infos: BlockInfo[] = [];
  const totals = { count: 0, deleted: 0, bytes: 0 };
  let prevTs: bigint | undefined;
  const lo = Math.max(seqBase, maxSeq - numBlocks + 1);
  const slotAt = (seq: number): SlotScan | undefined => {
    const s = slots[seq % numBlocks];
    return s && s.header.seq === seq ? s : undefined;
  };
  for (let seq = lo; seq <= maxSeq; seq++) {
    const s = slotAt(seq);
    const key = prevTs ?? -1n;
    if (s?.packed && s.packed.count > 0 && (prevTs === undefined || s.packed.firstTs > prevTs)) {
      const p = s.packed;
      infos.push({ seq, kind: BlockKind.Packed, count: p.count, deleted: p.deleted, bytes: p.bytes, firstTs: p.firstTs, lastTs: p.lastTs, key: p.firstTs, endOffset: p.endOffset, spanBlocks: 0, sealed: false });
      totals.count += p.count;
      totals.deleted += p.deleted;
      totals.bytes += p.bytes;
      prevTs = p.lastTs;
      continue;
    }
    const rh = s?.spanRecord;
    if (rh && (prevTs === undefined || rh.timestamp > prevTs)) {
      const blocks = spanBlocksFor(rh.dataLength, g.blockSize);
      let complete = blocks > 1 && seq + blocks - 1 <= maxSeq;
      for (let i = 1; complete && i < blocks; i++) {
        const c = slotAt(seq + i);
        complete = c !== undefined && c.header.kind === BlockKind.SpanCont && c.header.spanIndex === i;
      }
      if (complete && (await spanIsValid(fh, g, seq, rh, blocks))) {
        const ts = rh.timestamp;
        infos.push({ seq, kind: BlockKind.SpanHead, count: 1, deleted: rh.deleted ? 1 : 0, bytes: rh.deleted ? 0 : rh.dataLength, firstTs: ts, lastTs: ts, key: ts, endOffset: 0, spanBlocks: blocks, sealed: true });
        for (let i = 1; i < blocks; i++) {
          infos.push({ seq: seq + i, kind: BlockKind.SpanCont, count: 0, deleted: 0, bytes: 0, firstTs: ts, lastTs: ts, key: ts, endOffset: 0, spanBlocks: 0, sealed: true });
        }
        totals.count++;
        if (rh.deleted) totals.deleted++;
        else totals.bytes += rh.dataLength;
        prevTs = ts;
        seq += blocks - 1;
        continue;
      }
    }
    infos.push(emptyInfo(seq, key));
  }

  let first = 0;
  while (first < infos.length && infos[first].kind !== BlockKind.Packed && infos[first].kind !== BlockKind.SpanHead) first++;
  const live = infos.slice(first);
  const ring = new BlockRing(numBlocks, live.length ? live[0].seq : maxSeq + 1);
  for (const b of live) ring.push(b);
  const discardedBlocks = validHeaders - infos.filter((b) => b.kind !== BlockKind.Empty).length;
  return { ring, generation: gen, newestTs: prevTs, totals, discardedBlocks };
}
