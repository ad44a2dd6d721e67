/**
 * In-memory index of the live blocks, in ring order (oldest sequence number to newest).
 * It is what makes time lookups O(log n): every block carries a sort key that never decreases
 * from oldest to newest, so a binary search finds the block to start reading from.
 *
 * Compact layout: three typed arrays indexed by slot (`seq % numBlocks`), 16 bytes per block and
 * no JS object or BigInt per block:
 *
 *   keys[slot]  BigInt64  sort key (first record's timestamp; see `key`)
 *   words[slot] Uint32    bits 0..26 records starting here, 27..28 kind, 29 sealed
 *   aux[slot]   Uint32    packed: offset after the last record; span head: the record's data length
 *
 * A block's live data bytes are derived (packed: endOffset − block header − record headers;
 * span head: its data length) minus what was soft-deleted, which is kept in a small map holding
 * only the blocks that have deleted records.
 */
import { BLOCK_HEADER_SIZE, BlockKind, RECORD_HEADER_SIZE, spanBlocksFor } from './format.js';

const COUNT_MASK = (1 << 27) - 1;
const KIND_SHIFT = 27;
const SEALED_BIT = 1 << 29;

/** A block about to enter the ring (the encoder and recovery build these; the ring copies them). */
export interface NewBlock {
  readonly seq: number;
  kind: BlockKind;
  /** Records starting in this block. */
  count: number;
  key: bigint;
  /** Packed: offset after the last record; SpanHead: data length of its record; else 0. */
  aux: number;
  sealed: boolean;
}

/** What a reclaimed block held (for the store's totals). */
export interface Reclaimed {
  count: number;
  deleted: number;
  bytes: number;
}

export class BlockRing {
  readonly keys: BigInt64Array;
  readonly words: Uint32Array;
  readonly aux: Uint32Array;
  /** Blocks with soft-deleted records: seq → deleted records and their data bytes. */
  readonly deletions = new Map<number, { count: number; bytes: number }>();
  /** Sequence number of the oldest live block; `newestSeq < oldestSeq` means empty. */
  oldestSeq: number;
  newestSeq: number;

  constructor(
    readonly numBlocks: number,
    readonly blockSize: number,
    nextSeq: number,
  ) {
    this.keys = new BigInt64Array(numBlocks);
    this.words = new Uint32Array(numBlocks);
    this.aux = new Uint32Array(numBlocks);
    this.oldestSeq = nextSeq;
    this.newestSeq = nextSeq - 1;
  }

  get size(): number {
    return this.newestSeq - this.oldestSeq + 1;
  }

  slotOf(seq: number): number {
    return seq % this.numBlocks;
  }

  has(seq: number): boolean {
    return seq >= this.oldestSeq && seq <= this.newestSeq;
  }

  kind(seq: number): BlockKind {
    return ((this.words[seq % this.numBlocks] >>> KIND_SHIFT) & 3) as BlockKind;
  }

  count(seq: number): number {
    return this.words[seq % this.numBlocks] & COUNT_MASK;
  }

  sealed(seq: number): boolean {
    return (this.words[seq % this.numBlocks] & SEALED_BIT) !== 0;
  }

  /**
   * Binary-search key: the first timestamp for blocks where records start; for continuation
   * blocks the timestamp of their record, for empty blocks the key of the block before them, so
   * keys never decrease along the ring.
   */
  key(seq: number): bigint {
    return this.keys[seq % this.numBlocks];
  }

  /** Packed: offset after the last record. */
  endOffset(seq: number): number {
    return this.aux[seq % this.numBlocks];
  }

  /** SpanHead: data length of its record. */
  spanLength(seq: number): number {
    return this.aux[seq % this.numBlocks];
  }

  /** SpanHead: blocks of the span, head included. */
  spanBlocks(seq: number): number {
    return spanBlocksFor(this.spanLength(seq), this.blockSize);
  }

  /** Whether records start in this live block. */
  holdsRecords(seq: number): boolean {
    if (!this.has(seq)) return false;
    const w = this.words[seq % this.numBlocks];
    const kind = (w >>> KIND_SHIFT) & 3;
    return (kind === BlockKind.Packed || kind === BlockKind.SpanHead) && (w & COUNT_MASK) > 0;
  }

  deleted(seq: number): number {
    return this.deletions.get(seq)?.count ?? 0;
  }

  /** Data bytes of the live (not deleted) records starting in this block. */
  liveBytes(seq: number): number {
    const kind = this.kind(seq);
    const del = this.deletions.get(seq)?.bytes ?? 0;
    if (kind === BlockKind.Packed) return this.endOffset(seq) - BLOCK_HEADER_SIZE - RECORD_HEADER_SIZE * this.count(seq) - del;
    if (kind === BlockKind.SpanHead) return this.spanLength(seq) - del;
    return 0;
  }

  newestKey(): bigint {
    return this.size > 0 ? this.key(this.newestSeq) : -1n;
  }

  private setSlot(seq: number, kind: BlockKind, count: number, key: bigint, aux: number, sealed: boolean): void {
    if (count > COUNT_MASK) throw new Error(`too many records in block ${seq}`);
    const slot = seq % this.numBlocks;
    this.keys[slot] = key;
    this.words[slot] = (count | (kind << KIND_SHIFT) | (sealed ? SEALED_BIT : 0)) >>> 0;
    this.aux[slot] = aux;
  }

  /** Appends the block following the newest one. The caller reclaimed its slot first. */
  push(b: NewBlock): void {
    if (b.seq !== this.newestSeq + 1) throw new Error(`block ${b.seq} does not follow ${this.newestSeq}`);
    if (this.size >= this.numBlocks) throw new Error('ring full: reclaim first');
    this.setSlot(b.seq, b.kind, b.count, b.key, b.aux, b.sealed);
    this.newestSeq = b.seq;
  }

  /** Records appended to a live packed block. */
  appendTo(seq: number, count: number, endOffset: number): void {
    this.setSlot(seq, this.kind(seq), this.count(seq) + count, this.key(seq), endOffset, this.sealed(seq));
  }

  /** No further records may be appended to this block. */
  seal(seq: number): void {
    if (this.has(seq)) this.words[seq % this.numBlocks] |= SEALED_BIT;
  }

  /** A record of `size` data bytes in block `seq` was soft-deleted. */
  markDeleted(seq: number, size: number): void {
    const d = this.deletions.get(seq);
    if (d) {
      d.count++;
      d.bytes += size;
    } else this.deletions.set(seq, { count: 1, bytes: size });
  }

  /** A live block turns empty (its bytes no longer verify); returns what it held. Its key stays, so keys keep their order. */
  discard(seq: number): Reclaimed {
    const out: Reclaimed = this.holdsRecords(seq)
      ? { count: this.count(seq), deleted: this.deleted(seq), bytes: this.liveBytes(seq) }
      : { count: 0, deleted: 0, bytes: 0 };
    if (this.has(seq)) {
      this.deletions.delete(seq);
      this.setSlot(seq, BlockKind.Empty, 0, this.key(seq), 0, true);
    }
    return out;
  }

  /** Removes the oldest block; returns what it held, or undefined when the ring is empty. */
  dropOldest(): Reclaimed | undefined {
    if (this.size <= 0) return undefined;
    const seq = this.oldestSeq;
    const holds = this.holdsRecords(seq);
    const out: Reclaimed = holds ? { count: this.count(seq), deleted: this.deleted(seq), bytes: this.liveBytes(seq) } : { count: 0, deleted: 0, bytes: 0 };
    this.deletions.delete(seq);
    this.words[seq % this.numBlocks] = 0;
    this.oldestSeq++;
    return out;
  }

  /** Empties the ring; the next block pushed must be `nextSeq`. */
  clear(nextSeq: number): void {
    this.words.fill(0);
    this.deletions.clear();
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
      if (this.keys[mid % this.numBlocks] <= ts) {
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
      if (this.holdsRecords(s)) return s;
    }
    return this.oldestSeq - 1;
  }

  /** The oldest block where records start, or undefined. */
  firstRecordBlock(): number | undefined {
    for (let s = this.oldestSeq; s <= this.newestSeq; s++) if (this.holdsRecords(s)) return s;
    return undefined;
  }

  /** Drops blocks at the old end where no record starts (a reclaimed span's continuations, empty slots). */
  dropLeadingEmpty(): void {
    while (this.size > 0 && !this.holdsRecords(this.oldestSeq)) this.dropOldest();
  }

  /** Memory the index holds: the three arrays plus the deletion map's entries (estimated at 64 bytes each). */
  memoryBytes(): number {
    return this.keys.byteLength + this.words.byteLength + this.aux.byteLength + this.deletions.size * 64;
  }

  /** Live data bytes, records and deleted records, summed over the ring (O(blocks)). */
  sumTotals(): Reclaimed {
    const t: Reclaimed = { count: 0, deleted: 0, bytes: 0 };
    for (let s = this.oldestSeq; s <= this.newestSeq; s++) {
      if (!this.holdsRecords(s)) continue;
      t.count += this.count(s);
      t.deleted += this.deleted(s);
      t.bytes += this.liveBytes(s);
    }
    return t;
  }
}
