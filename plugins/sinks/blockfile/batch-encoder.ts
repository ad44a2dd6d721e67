/**
 * Group commit, encoding half: turns the records queued by many write() calls into one
 * contiguous byte range of the ring (block headers, records, zero padding) in a single Buffer.
 * Timestamps are assigned and checked here, in queue order, against the newest record including
 * the ones encoded earlier in the same batch.
 */
import { assignTimestamp, type RecordResult, reject, type SinkRecord, toTssError } from 'tsstore/plugin';
import { BlockRing, NewBlock } from './block-ring.js';
import { crc32 } from './crc32.js';
import {
  BLOCK_HEADER_SIZE,
  BlockKind,
  Geometry,
  RECORD_CRC_FROM,
  RECORD_HEADER_SIZE,
  encodeBlockHeader,
  encodeRecordHeader,
  forEachSpanPiece,
  payloadSize,
  recordHeaderCrc,
  spanBlocksFor,
} from './format.js';

/** One write() call waiting in a store's queue. */
export interface PendingWrite {
  readonly records: readonly SinkRecord[];
  readonly results: RecordResult[];
  /** Index of the first record not yet encoded. */
  next: number;
  readonly resolve: (results: RecordResult[]) => void;
}

export interface EncoderState {
  readonly ring: BlockRing;
  readonly geometry: Geometry;
  readonly generation: number;
  readonly newestTs: bigint | undefined;
}

export interface EncodedBatch {
  buffer: Buffer;
  /** Bytes of `buffer` to write. 0 when every record of the batch was rejected. */
  length: number;
  /** Where the range starts: block `startSeq`, `startOffset` bytes in. */
  startSeq: number;
  startOffset: number;
  /** The committed block this batch appends to (its seq), and what to add to it once written. */
  appendTo?: number;
  appendCount: number;
  appendEnd: number;
  newBlocks: NewBlock[];
  /**
   * Live blocks with a sequence number below this one are overwritten by the batch. The encoder
   * leaves the ring untouched: the store drops them once encoding succeeded, before writing.
   */
  reclaimBelow: number;
  /** An unexpected error while encoding: nothing of the batch may be written; its records are rejected. */
  error?: unknown;
  newestTs: bigint | undefined;
  accepted: number;
  acceptedBytes: number;
  /** Per job, the index range encoded by this batch (to reject on a failed write). */
  ranges: { job: PendingWrite; from: number; to: number }[];
  /** Jobs whose every record is now decided. */
  finished: PendingWrite[];
}

function newBlock(seq: number, kind: BlockKind, key: bigint): NewBlock {
  return { seq, kind, count: 0, key, aux: kind === BlockKind.Packed ? BLOCK_HEADER_SIZE : 0, sealed: kind !== BlockKind.Packed };
}

/**
 * Encodes queued records, front first, until the queue is empty, the batch would exceed
 * `buffer` (only a lone oversized record gets a bigger one), or it would touch more than numBlocks blocks (one write never covers a block twice).
 * Consumed jobs are removed from `queue`; a partly encoded job stays at its head.
 */
export function encodeBatch(queue: PendingWrite[], state: EncoderState, buffer: Buffer): EncodedBatch {
  const { ring, generation } = state;
  const { numBlocks, blockSize } = state.geometry;
  const payload = payloadSize(blockSize);
  const cur = ring.size > 0 ? ring.newestSeq : -1;
  const appendable = cur >= 0 && ring.kind(cur) === BlockKind.Packed && !ring.sealed(cur) && ring.endOffset(cur) + RECORD_HEADER_SIZE <= blockSize;
  const startSeq = appendable ? cur : ring.newestSeq + 1;
  const startOffset = appendable ? ring.endOffset(cur) : 0;
  const batch: EncodedBatch = {
    buffer,
    length: 0,
    startSeq,
    startOffset,
    appendTo: appendable ? cur : undefined,
    appendCount: 0,
    appendEnd: startOffset,
    newBlocks: [],
    reclaimBelow: ring.oldestSeq,
    newestTs: state.newestTs,
    accepted: 0,
    acceptedBytes: 0,
    ranges: [],
    finished: [],
  };
  let buf = buffer;
  let nextSeq = ring.newestSeq + 1;
  let touched = appendable ? 1 : 0;
  // The block taking small records: its seq, fill level and (for a new block) its info.
  let tgtSeq = appendable ? cur : -1;
  let tgtEnd = startOffset;
  let tgtInfo: NewBlock | undefined;

  const blockPos = (seq: number): number => (seq - startSeq) * blockSize - startOffset;
  const fits = (end: number): boolean => {
    if (end <= buf.length) return true;
    if (batch.length > 0) return false;
    const bigger = Buffer.allocUnsafe(end);
    buf.copy(bigger, 0, 0, batch.length);
    buf = bigger;
    return true;
  };
  const startBlock = (kind: BlockKind, spanIndex: number, key: bigint): NewBlock => {
    const seq = nextSeq++;
    touched++;
    if (seq - numBlocks + 1 > batch.reclaimBelow) batch.reclaimBelow = Math.min(seq - numBlocks + 1, ring.newestSeq + 1);
    const pos = blockPos(seq);
    if (pos > batch.length) buf.fill(0, batch.length, pos);
    encodeBlockHeader(buf, pos, { generation, kind, seq, spanIndex });
    batch.length = pos + BLOCK_HEADER_SIZE;
    const info = newBlock(seq, kind, key);
    batch.newBlocks.push(info);
    return info;
  };

  let stop = false;
  while (queue.length > 0 && !stop) {
    const job = queue[0];
    const from = job.next;
    try {
      for (; job.next < job.records.length; job.next++) {
        const rec = job.records[job.next];
        const size = rec.data.length;
        const need = RECORD_HEADER_SIZE + size;
        const spans = need > payload;
        const blocks = spans ? spanBlocksFor(size, blockSize) : 1;
        if (blocks > numBlocks) {
          job.results[job.next] = reject('TSS_ERR_RECORD_TOO_LARGE');
          continue;
        }
        const ts = assignTimestamp(rec.timestamp, batch.newestTs);
        if (typeof ts !== 'bigint') {
          job.results[job.next] = ts;
          continue;
        }

        const inTarget = !spans && tgtSeq >= 0 && tgtEnd + need <= blockSize;
        let end: number;
        if (inTarget) end = blockPos(tgtSeq) + tgtEnd + need;
        else if (!spans) end = blockPos(nextSeq) + BLOCK_HEADER_SIZE + need;
        else end = blockPos(nextSeq + blocks - 1) + BLOCK_HEADER_SIZE + (need - (blocks - 1) * payload);
        if ((!inTarget && touched + blocks > numBlocks) || !fits(end)) {
          // A record needing the whole ring cannot share a write with the block being appended
          // to: seal that block so the next batch starts fresh (and makes progress).
          if (batch.length === 0 && cur >= 0) ring.seal(cur);
          stop = true;
          break;
        }

        let headSeq: number;
        if (!spans) {
          if (!inTarget) {
            tgtInfo = startBlock(BlockKind.Packed, 0, ts);
            tgtSeq = tgtInfo.seq;
            tgtEnd = BLOCK_HEADER_SIZE;
          }
          headSeq = tgtSeq;
          const pos = blockPos(tgtSeq) + tgtEnd;
          encodeRecordHeader(buf, pos, size, tgtSeq, ts);
          rec.data.copy(buf, pos + RECORD_HEADER_SIZE);
          // The checksummed header fields end where the data starts: one CRC covers both.
          buf.writeUInt32LE(crc32(buf, pos + RECORD_CRC_FROM, pos + need), pos);
          tgtEnd += need;
          batch.length = pos + need;
          if (tgtInfo) {
            if (tgtInfo.count === 0) tgtInfo.key = ts;
            tgtInfo.count++;
            tgtInfo.aux = tgtEnd;
          } else {
            batch.appendCount++;
            batch.appendEnd = tgtEnd;
          }
        } else {
          const head = startBlock(BlockKind.SpanHead, 0, ts);
          headSeq = head.seq;
          head.count = 1;
          head.aux = size;
          const hpos = blockPos(headSeq) + BLOCK_HEADER_SIZE;
          encodeRecordHeader(buf, hpos, size, headSeq, ts);
          let crc = recordHeaderCrc(buf, hpos);
          forEachSpanPiece(size, blockSize, (block, offset, length, dataOffset) => {
            if (block > 0) startBlock(BlockKind.SpanCont, block, ts);
            const pos = blockPos(headSeq + block) + offset;
            rec.data.copy(buf, pos, dataOffset, dataOffset + length);
            crc = crc32(buf, pos, pos + length, crc);
            batch.length = pos + length;
          });
          buf.writeUInt32LE(crc, hpos);
          tgtSeq = -1;
          tgtInfo = undefined;
        }
        batch.newestTs = ts;
        batch.accepted++;
        batch.acceptedBytes += size;
        job.results[job.next] = { ok: true, timestamp: ts, blockNum: headSeq % numBlocks, size };
      }
    } catch (err) {
      // The record being encoded gets the rejection too; the store rejects the whole batch.
      batch.error = err;
      stop = true;
      const e = toTssError(err);
      job.results[job.next] = reject(e.code, e.message);
      job.next++;
    }
    if (job.next > from) batch.ranges.push({ job, from, to: job.next });
    if (job.next >= job.records.length) {
      queue.shift();
      batch.finished.push(job);
    }
  }
  batch.buffer = buf;
  return batch;
}
