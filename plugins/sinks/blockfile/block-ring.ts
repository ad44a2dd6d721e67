/**
 * In-memory index of the live blocks, in ring order (oldest sequence number to newest).
 * It is what makes time lookups O(log n): every block carries a sort key that never decreases
 * from oldest to newest, so a binary search finds the block to start reading from.
 */
import { BlockKind } from './format.js';

export interface BlockInfo {
  readonly seq: number;
  kind: BlockKind;
  /** Records starting in this block (deleted ones included). */
  count: number;
  deleted: number;
  /** Data bytes of the live (not deleted) records starting here. */
  bytes: number;
  firstTs: bigint;
  lastTs: bigint;
  /**
   * Binary-search key: firstTs for blocks where records start; for continuation and empty
   * blocks the timestamp of the record before them, so keys never decrease along the ring.
   */
  key: bigint;
  /** Packed: offset after the last record. */
  endOffset: number;
  /** SpanHead: number of blocks of the span (head included). */
  spanBlocks: number;
  /** No further records may be appended (set after a failed write). */
  sealed: boolean;
}

export function holdsRecords(b: BlockInfo): boolean {
  return (b.kind === BlockKind.Packed || b.kind === BlockKind.SpanHead) && b.count > 0;
}

export class BlockRing {
  private readonly slots: (BlockInfo | undefined)[];
  /** Sequence number of the oldest live block; `newestSeq < oldestSeq` means empty. */
  oldestSeq: number;
  newestSeq: number;

  constructor(readonly numBlocks: number, nextSeq: number) {
    this.slots = new Array<BlockInfo | undefined>(numBlocks);
    this.oldestSeq = nextSeq;
    this.newestSeq = nextSeq - 1;
  }

  get size(): number {
    return this.newestSeq - this.oldestSeq + 1;
  }

  slotOf(seq: number): number {
    return seq % this.numBlocks;
  }

  /** The block with this sequence number when it is still live. */
  get(seq: number): BlockInfo | undefined {
    if (seq < this.oldestSeq || seq > this.newestSeq) return undefined;
    const b = this.slots[seq % this.numBlocks];
    return b && b.seq === seq ? b : undefined;
  }

  newest(): BlockInfo | undefined {
    return this.get(this.newestSeq);
  }

  /** Appends the block following the newest one. The caller reclaimed its slot first. */
  push(b: BlockInfo): void {
    if (b.seq !== this.newestSeq + 1) throw new Error(`block ${b.seq} does not follow ${this.newestSeq}`);
    if (this.size >= this.numBlocks) throw new Error('ring full: reclaim first');
    this.slots[b.seq % this.numBlocks] = b;
    this.newestSeq = b.seq;
  }

  dropOldest(): BlockInfo | undefined {
    if (this.size <= 0) return undefined;
    const b = this.get(this.oldestSeq);
    this.slots[this.oldestSeq % this.numBlocks] = undefined;
    this.oldestSeq++;
    return b;
  }

  /** Empties the ring; the next block pushed must be `nextSeq`. */
  clear(nextSeq: number): void {
    this.slots.fill(undefined);
    this.oldestSeq = nextSeq;
    this.newestSeq = nextSeq - 1;
  }

  /** Largest live seq whose key is <= ts, or oldestSeq - 1 when there is none. */
  lastAtOrBefore(ts: bigint): number {
    let lo = this.oldestSeq;
    let hi = this.newestSeq;
    let found = this.oldestSeq - 1;
    while (lo <= hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const b = this.get(mid);
      if (b && b.key <= ts) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** From `seq`, the nearest block at or before it where records start; oldestSeq - 1 if none. */
  recordBlockAtOrBefore(seq: number): number {
    for (let s = Math.min(seq, this.newestSeq); s >= this.oldestSeq; s--) {
      const b = this.get(s);
      if (b && holdsRecords(b)) return s;
    }
    return this.oldestSeq - 1;
  }
}
