/**
 * One store of the block-file engine: a fixed-size ring file, its in-memory block index, a
 * group-commit write queue and the reads.
 *
 *   write() ──► queue ──► encodeBatch (one Buffer) ──► 1-2 pwrite ──► fsync per policy ──► commit
 *                                                                                     └─► resolve
 *
 * Flushes, removes and resets run one at a time (`exclusive`); reads run concurrently and only
 * see what `commit` published, re-checking after each read that the block was not reclaimed.
 */
import {
  type Logger,
  type RecordResult,
  reject,
  type ScanQuery,
  type SinkRecord,
  type SinkStoreStats,
  type StoredRecord,
  type StoreSpec,
  SerialQueue,
  toTssError,
  TssError,
} from 'tsstore/plugin';
import { EncodedBatch, EncoderState, PendingWrite, encodeBatch } from './batch-encoder.js';
import { RecordView, blockHeaderMatches, committedLength, packedRecords, spanRecord } from './block-reader.js';
import { BlockRing, Reclaimed } from './block-ring.js';
import { BlockKind, DELETED_MARK, Geometry, META_SIZE, Meta, RECORD_HEADER_SIZE, RECORD_MARK_OFFSET, forEachSpanPiece, isValidGeometry } from './format.js';
import type { BlockFileHandle, BlockFileIO } from './io.js';
import type { FsyncPolicy } from './options.js';
import { CHECKPOINT_HEADER_SIZE, Checkpoint, checkpointPath, checkpointSupported } from './checkpoint.js';
import { RecoveredStore, readBlocks, recoverStore, resumeStore } from './recovery.js';
import { createDataFile, dataPath, fileSize, readMeta, removeStoreFiles, writeMeta, zeroFill } from './store-files.js';

export interface StoreSettings {
  readonly fsync: FsyncPolicy;
  readonly maxFlushBytes: number;
  readonly logger: Logger;
  /** The file system the engine works on (io.ts; nodeIO in production). */
  readonly io: BlockFileIO;
  /** Keep a checkpoint of the block index (README.md, "Checkpoint"); false: every open scans the data file. */
  readonly checkpoint: boolean;
  /** A checkpoint is written after this many bytes were written since the last one... */
  readonly checkpointBytes: number;
  /** ...or when something was written and this long has passed since the last one. */
  readonly checkpointIntervalMs: number;
}

/** Where a record's bytes lie in the data file (for tests and tooling). */
export interface RecordLayout {
  readonly timestamp: bigint;
  readonly deleted: boolean;
  /** File ranges [start, end) from the start of each block the record occupies to its last byte there. */
  readonly ranges: readonly (readonly [number, number])[];
}

/** Maps a failed write to the error its records get: a full disk or a failing device is 507. */
export function storageError(err: unknown): TssError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EIO') return new TssError('TSS_ERR_DISK_FULL', `storage write failed: ${(err as Error).message}`, { cause: err });
  return toTssError(err);
}

export class BlockFileStore {
  private readonly queue: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  private readonly chain = new SerialQueue();
  private readonly reads = new Set<Promise<unknown>>();
  private flushBuffer: Buffer | undefined;
  private dirty = false;
  /** Index changed since the last checkpoint: bytes written, and whether anything changed at all. */
  private sinceCheckpointBytes = 0;
  private checkpointDue = false;
  private lastCheckpointAt = Date.now();
  private checkpointScheduled = false;
  private checkpointFailedAt = 0;
  private closed = false;
  /** Bumped by reset: reads started before it discard what they read. */
  private epoch = 0;
  private overwritten = 0;
  /** Since open, for stats (metrics): physical group commits and fsync/fdatasync calls. */
  private commits = 0;
  private fsyncs = 0;
  private checkpoints = 0;
  /** Blocks found unreadable by reads since open (and dropped from the index). */
  private discardedAfterOpen = 0;

  private constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly geometry: Geometry,
    private meta: Meta,
    private readonly fh: BlockFileHandle,
    private readonly ring: BlockRing,
    private newestTs: bigint | undefined,
    private readonly totals: { count: number; deleted: number; bytes: number },
    private readonly settings: StoreSettings,
    /** What the open had to discard (stats.extra.discardedBlocksAtOpen / damagedBlocksAtOpen). */
    private readonly lostAtOpen: { readonly discardedBlocks: number; readonly damagedBlocks: number },
    private readonly checkpoint: Checkpoint | undefined,
    /** How this store was opened: 'created', 'checkpoint' or 'scan' (stats.extra.openedFrom). */
    private readonly openedFrom: string,
  ) {}

  /** Creates the files of a new, empty store (throws TSS_ERR_DISK_FULL when they do not fit). */
  static async create(spec: StoreSpec, settings: StoreSettings, generation = 1): Promise<BlockFileStore> {
    const geometry = { numBlocks: spec.numBlocks, blockSize: spec.dataBlockSize };
    if (!isValidGeometry(geometry)) {
      throw new TssError('TSS_ERR_STORE_OPTIONS', 'invalid store options: block size must be a power of two >= 64 and num_blocks >= 1');
    }
    const meta: Meta = { ...geometry, generation, seqBase: 0 };
    await BlockFileStore.checkFreeSpace(spec, settings);
    try {
      await removeStoreFiles(settings.io, spec.dir);
      await createDataFile(settings.io, spec.dir, geometry.numBlocks * geometry.blockSize);
      await writeMeta(settings.io, spec.dir, meta);
    } catch (err) {
      await removeStoreFiles(settings.io, spec.dir).catch(() => undefined);
      throw storageError(err);
    }
    const fh = await settings.io.open(dataPath(spec.dir), 'update');
    const ring = new BlockRing(geometry.numBlocks, geometry.blockSize, 0);
    const checkpoint = BlockFileStore.checkpointFor(spec.dir, geometry, settings);
    const store = new BlockFileStore(
      spec.name,
      spec.dir,
      geometry,
      meta,
      fh,
      ring,
      undefined,
      { count: 0, deleted: 0, bytes: 0 },
      settings,
      { discardedBlocks: 0, damagedBlocks: 0 },
      checkpoint,
      'created',
    );
    await store.writeCheckpoint();
    return store;
  }

  /**
   * Refuses (507, before any byte is written) a store the file system has no room for: the data
   * file, its meta file and a checkpoint base (and its replacement).
   */
  private static async checkFreeSpace(spec: StoreSpec, settings: StoreSettings): Promise<void> {
    const free = await settings.io.freeBytes?.(spec.dir);
    if (free === undefined) return;
    const dataBytes = spec.numBlocks * spec.dataBlockSize;
    const needed = dataBytes + META_SIZE * 2 + (settings.checkpoint ? 2 * (CHECKPOINT_HEADER_SIZE + 16 * spec.numBlocks) : 0);
    if (free < needed) {
      throw new TssError(
        'TSS_ERR_DISK_FULL',
        `not enough free disk space to create store ${spec.name}: it needs ${needed} bytes (a ${dataBytes}-byte ring), the file system of ${spec.dir} has ${free} bytes free`,
      );
    }
  }

  private static checkpointFor(dir: string, geometry: Geometry, settings: StoreSettings): Checkpoint | undefined {
    return settings.checkpoint && checkpointSupported ? new Checkpoint(settings.io, dir, geometry) : undefined;
  }

  /** Attaches an existing store, recovering whatever a crash left behind. Never refuses a torn file. */
  static async open(spec: StoreSpec, settings: StoreSettings): Promise<BlockFileStore> {
    const { logger, io } = settings;
    await io.remove(dataPath(spec.dir) + '.tmp');
    const savedMeta = await readMeta(io, spec.dir);
    const size = await fileSize(io, dataPath(spec.dir));
    if (size === null) {
      logger.warn({ store: spec.name }, 'Block-file data file missing (creation interrupted?); starting the store empty.');
      return BlockFileStore.create(spec, settings, savedMeta ? savedMeta.generation + 1 : 1);
    }
    const geometry = savedMeta ?? { numBlocks: spec.numBlocks, blockSize: spec.dataBlockSize };
    if (!isValidGeometry(geometry)) throw new TssError('TSS_ERR_STORE_OPTIONS', 'invalid store options: bad block geometry');
    if (!savedMeta) logger.warn({ store: spec.name }, 'Block-file meta file missing or damaged; recovering it from the data file.');
    const fileBytes = geometry.numBlocks * geometry.blockSize;
    const fh = await settings.io.open(dataPath(spec.dir), 'update');
    try {
      if (size < fileBytes) {
        await zeroFill(fh, size, fileBytes);
        await fh.datasync();
      }
      const checkpoint = BlockFileStore.checkpointFor(spec.dir, geometry, settings);
      if (!checkpoint) await io.remove(checkpointPath(spec.dir)); // a later open with checkpoints on must not trust an old one
      let rec: RecoveredStore | undefined;
      let tailBlocks = 0;
      if (checkpoint) {
        let why: string;
        if (!savedMeta) why = 'the meta file was rebuilt';
        else if (size < fileBytes) why = 'the data file was short';
        else {
          const image = await checkpoint.load(savedMeta).catch((err: unknown) => `unreadable: ${(err as Error).message}`);
          const resumed = typeof image === 'string' ? image : await resumeStore(fh, geometry, savedMeta.generation, image);
          if (typeof resumed === 'string') why = resumed;
          else {
            rec = resumed;
            tailBlocks = resumed.tailBlocks;
            why = '';
          }
        }
        if (!rec) {
          checkpoint.forget();
          logger.warn({ store: spec.name, reason: why }, `Block-file checkpoint not used (${why}); scanning the whole data file.`);
        }
      }
      rec ??= await recoverStore(fh, geometry, savedMeta?.generation, savedMeta?.seqBase ?? 0);
      const meta: Meta = savedMeta ?? { ...geometry, generation: rec.generation, seqBase: 0 };
      if (!savedMeta) await writeMeta(io, spec.dir, meta);
      const tornTail = await BlockFileStore.zeroNewestTail(fh, geometry, rec.ring);
      const lost = { discardedBlocks: rec.discardedBlocks, damagedBlocks: rec.damagedBlocks + (tornTail ? 1 : 0) };
      if (lost.discardedBlocks > 0 || lost.damagedBlocks > 0) {
        logger.warn(
          { store: spec.name, ...lost, discardedBytes: lost.discardedBlocks * geometry.blockSize, dataFile: dataPath(spec.dir) },
          `Block-file open discarded torn or damaged data of store ${spec.name}: ${lost.discardedBlocks} whole block(s) of ${geometry.blockSize} bytes yielded no record, ${lost.damagedBlocks} block(s) were cut short after their last valid record; those records are lost.`,
        );
      }
      const fromCheckpoint = checkpoint !== undefined && 'tailBlocks' in rec;
      const store = new BlockFileStore(
        spec.name,
        spec.dir,
        geometry,
        meta,
        fh,
        rec.ring,
        rec.newestTs,
        { ...rec.totals },
        settings,
        lost,
        checkpoint,
        fromCheckpoint ? 'checkpoint' : 'scan',
      );
      // After a full scan, or blocks found after the checkpoint, record the index now.
      if (checkpoint && (!fromCheckpoint || tailBlocks > 0)) await store.writeCheckpoint();
      return store;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Leftovers of a torn write after the last valid record must not pass for records appended later. */
  /** Resolves true when the tail held leftovers (a torn append) and was zeroed. */
  private static async zeroNewestTail(fh: BlockFileHandle, g: Geometry, ring: BlockRing): Promise<boolean> {
    const seq = ring.newestSeq;
    if (ring.size === 0 || ring.kind(seq) !== BlockKind.Packed || ring.endOffset(seq) >= g.blockSize) return false;
    const end = ring.endOffset(seq);
    const start = (seq % g.numBlocks) * g.blockSize + end;
    const tail = Buffer.alloc(g.blockSize - end);
    await fh.read(tail, 0, tail.length, start);
    if (tail.every((x) => x === 0)) return false;
    await fh.write(Buffer.alloc(tail.length), 0, tail.length, start);
    await fh.datasync();
    return true;
  }

  // ---- writes ----

  write(records: readonly SinkRecord[]): Promise<RecordResult[]> {
    if (records.length === 0) return Promise.resolve([]);
    return new Promise<RecordResult[]>((resolve) => {
      this.queue.push({ records, results: new Array<RecordResult>(records.length), next: 0, resolve });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.exclusive(() => this.flushOnce());
    } finally {
      this.flushing = undefined;
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.chain.run(fn);
  }

  private encoderState(): EncoderState {
    return {
      ring: this.ring,
      geometry: this.geometry,
      generation: this.meta.generation,
      newestTs: this.newestTs,
    };
  }

  // ---- checkpoint ----

  /**
   * Records the block index (checkpoint.ts). Runs inside `exclusive` (or before the store is
   * shared): the data file is synced first, so the checkpoint never describes bytes the disk might
   * lose. A failure only costs the next open a full scan.
   */
  private async writeCheckpoint(minLimit = 0, window = this.windowBlocks()): Promise<void> {
    const ck = this.checkpoint;
    if (!ck) return;
    try {
      if (this.settings.fsync === 'never' || this.settings.fsync === 'interval') {
        this.fsyncs++;
        await this.fh.datasync();
      }
      await ck.write(this.ring, this.newestTs, this.totals, this.meta, Math.max(minLimit, this.ring.newestSeq + 1 + window));
      this.sinceCheckpointBytes = 0;
      this.checkpointDue = false;
      this.lastCheckpointAt = Date.now();
      this.checkpoints++;
    } catch (err) {
      this.checkpointFailedAt = Date.now();
      this.settings.logger.warn(
        { store: this.name, err: (err as Error).message },
        'Block-file checkpoint could not be written; the next open scans the data file.',
      );
      await ck.invalidate().catch(() => undefined);
    }
  }

  /**
   * How many blocks past the newest one the writes after a checkpoint may reach before the next
   * one (the checkpoint records the limit; an open verifies the blocks in those slots, because a
   * power cut may have torn them): `checkpoint_bytes` worth, at most one lap.
   */
  private windowBlocks(): number {
    const { numBlocks, blockSize } = this.geometry;
    return Math.min(numBlocks, Math.max(1, Math.ceil(this.settings.checkpointBytes / blockSize)));
  }

  /**
   * A batch may write only below the write limit of the durable checkpoint (README, "Checkpoint"):
   * when it would reach it, a checkpoint is written first, describing the ring before the batch
   * reclaims anything, with a limit past the batch. Resolves false when no checkpoint could be
   * written and the old one could not be removed: the batch must not be written.
   */
  private async withinWriteLimit(batch: EncodedBatch): Promise<boolean> {
    const ck = this.checkpoint;
    if (!ck) return true;
    const last = batch.newBlocks.length > 0 ? batch.newBlocks[batch.newBlocks.length - 1].seq : batch.startSeq;
    if (last < ck.writeLimit) return true;
    await this.writeCheckpoint(last + 1);
    return last < ck.writeLimit;
  }

  /** Queues a checkpoint behind the work already queued (once). */
  private scheduleCheckpoint(): void {
    if (this.checkpointScheduled || !this.checkpoint) return;
    this.checkpointScheduled = true;
    void this.exclusive(async () => {
      this.checkpointScheduled = false;
      const coolingDown = Date.now() - this.checkpointFailedAt < this.settings.checkpointIntervalMs;
      if (!this.closed && this.checkpointDue && !coolingDown) await this.writeCheckpoint();
    });
  }

  /** Timer tick (the sink's): a checkpoint when something changed and the interval has passed. */
  checkpointIfDue(now = Date.now()): void {
    if (this.checkpointDue && !this.closed && now - this.lastCheckpointAt >= this.settings.checkpointIntervalMs) this.scheduleCheckpoint();
  }

  /** Drops the live blocks a batch is about to overwrite: only once it is encoded, just before its write starts. */
  private reclaimBelow(seq: number): void {
    while (this.ring.size > 0 && this.ring.oldestSeq < seq) {
      const b = this.ring.dropOldest() as Reclaimed;
      this.overwritten += b.count;
      this.totals.count -= b.count;
      this.totals.deleted -= b.deleted;
      this.totals.bytes -= b.bytes;
    }
  }

  private async flushOnce(): Promise<void> {
    const size = Math.min(this.settings.maxFlushBytes, this.geometry.numBlocks * this.geometry.blockSize);
    this.flushBuffer ??= Buffer.allocUnsafe(size);
    let batch: EncodedBatch | undefined;
    try {
      batch = encodeBatch(this.queue, this.encoderState(), this.flushBuffer);
      if (batch.error !== undefined) this.rejectBatch(batch, batch.error);
      else if (batch.length > 0) {
        if (!(await this.withinWriteLimit(batch))) {
          const b = batch;
          batch = undefined; // nothing written, nothing to wipe
          this.rejectBatch(b, Object.assign(new Error('the checkpoint could not be written nor removed'), { code: 'EIO' }));
          for (const job of b.finished) job.resolve(job.results);
          return;
        }
        this.reclaimBelow(batch.reclaimBelow);
        await this.writeRange(batch.buffer, batch.length, batch.startSeq, batch.startOffset);
        await this.syncForAck();
        this.commit(batch);
      }
    } catch (err) {
      if (batch) await this.failBatch(batch, err);
      else this.failQueue(err);
    }
    if (batch) for (const job of batch.finished) job.resolve(job.results);
  }

  private async writeRange(buf: Buffer, length: number, startSeq: number, startOffset: number): Promise<void> {
    const { numBlocks, blockSize } = this.geometry;
    const position = (startSeq % numBlocks) * blockSize + startOffset;
    const first = Math.min(length, numBlocks * blockSize - position);
    await this.fh.write(buf, 0, first, position);
    if (first < length) await this.fh.write(buf, first, length - first, 0);
  }

  private async syncForAck(): Promise<void> {
    if (this.settings.fsync === 'always') {
      this.fsyncs++;
      await this.fh.sync();
    } else if (this.settings.fsync === 'batch') {
      this.fsyncs++;
      await this.fh.datasync();
    } else this.dirty = true;
  }

  /** Publishes a written batch to readers and to the next batch. */
  private commit(batch: EncodedBatch): void {
    if (batch.appendTo !== undefined && batch.appendCount > 0) this.ring.appendTo(batch.appendTo, batch.appendCount, batch.appendEnd);
    for (const nb of batch.newBlocks) this.ring.push(nb);
    this.commits++;
    this.totals.count += batch.accepted;
    this.totals.bytes += batch.acceptedBytes;
    this.newestTs = batch.newestTs;
    this.checkpointDue = true;
    this.sinceCheckpointBytes += batch.length;
    if (this.sinceCheckpointBytes >= this.settings.checkpointBytes) this.scheduleCheckpoint();
  }

  /**
   * A write or sync failed: its records become rejections, earlier data stays as it was. The
   * range is wiped when possible; if not, the newest timestamp moves past the failed records so
   * nothing appended later can be ordered before a leftover of them.
   */
  private async failBatch(batch: EncodedBatch, err: unknown): Promise<void> {
    this.rejectBatch(batch, err);
    let wiped = false;
    if (batch.length > 0) {
      try {
        batch.buffer.fill(0, 0, batch.length);
        await this.writeRange(batch.buffer, batch.length, batch.startSeq, batch.startOffset);
        wiped = true;
      } catch {
        wiped = false;
      }
    }
    // The blocks of a failed write may be missing from the data file while later ones are there:
    // a checkpoint followed by a scan that stops at the first missing block could lose those.
    // Until the next checkpoint (which records them as empty), an open scans everything.
    await this.checkpoint?.invalidate().catch(() => undefined);
    this.checkpointDue = true;
    if (!wiped && batch.newestTs !== undefined && (this.newestTs === undefined || batch.newestTs > this.newestTs)) this.newestTs = batch.newestTs;
    if (batch.appendTo !== undefined) this.ring.seal(batch.appendTo);
    const key = this.ring.newestKey();
    for (const nb of batch.newBlocks) this.ring.push({ seq: nb.seq, kind: BlockKind.Empty, count: 0, key, aux: 0, sealed: true });
  }

  /** Turns the batch's accepted records into rejections (nothing of it is published). */
  private rejectBatch(batch: EncodedBatch, err: unknown): void {
    const e = storageError(err);
    this.settings.logger.error({ store: this.name, err: e.message }, 'Block-file write failed; its records are rejected.');
    for (const r of batch.ranges) {
      for (let i = r.from; i < r.to; i++) if (r.job.results[i].ok) r.job.results[i] = reject(e.code, e.message);
    }
  }

  /** An unexpected failure before encoding: reject what is queued rather than leave callers hanging. */
  private failQueue(err: unknown): void {
    const e = storageError(err);
    for (const job of this.queue.splice(0)) {
      for (let i = job.next; i < job.records.length; i++) job.results[i] = reject(e.code, e.message);
      job.resolve(job.results);
    }
  }

  /** Background fsync for the `interval` policy. */
  async syncIfDirty(): Promise<void> {
    if (!this.dirty || this.closed) return;
    this.dirty = false;
    try {
      this.fsyncs++;
      await this.fh.datasync();
    } catch (err) {
      this.dirty = true;
      this.settings.logger.error({ store: this.name, err: (err as Error).message }, 'Block-file background fsync failed.');
    }
  }

  // ---- reads ----

  private track<T>(p: Promise<T>): Promise<T> {
    this.reads.add(p);
    const done = (): void => void this.reads.delete(p);
    p.then(done, done);
    return p;
  }

  private stillLive(seq: number, epoch: number): boolean {
    return !this.closed && this.epoch === epoch && this.ring.has(seq);
  }

  /** The committed records of one block, or null when it was reclaimed meanwhile. */
  private async blockRecords(seq: number, withData: boolean): Promise<RecordView[] | null> {
    const ring = this.ring;
    if (!ring.holdsRecords(seq)) return null;
    const epoch = this.epoch;
    const generation = this.meta.generation;
    const kind = ring.kind(seq);
    const { numBlocks, blockSize } = this.geometry;
    let buf: Buffer;
    let length: number;
    if (kind === BlockKind.SpanHead && withData) {
      buf = await readBlocks(this.fh, this.geometry, seq, ring.spanBlocks(seq));
      length = buf.length;
    } else {
      length = committedLength(kind, ring.endOffset(seq));
      buf = Buffer.allocUnsafe(length);
      const bytesRead = await this.fh.read(buf, 0, length, (seq % numBlocks) * blockSize);
      if (bytesRead < length) buf.fill(0, bytesRead);
    }
    if (!this.stillLive(seq, epoch)) return null;
    if (!blockHeaderMatches(buf, seq, generation, kind)) return this.unreadable(seq);
    if (kind === BlockKind.Packed) return packedRecords(buf, length, withData, seq);
    const r = spanRecord(buf, blockSize, withData, seq);
    return r ? [r] : this.unreadable(seq);
  }

  /**
   * A block the index lists but the data file does not hold (damaged since it was verified, e.g.
   * outside what an open from the checkpoint reads): nothing is served from it, and it leaves the
   * index (after the work queued before), so stats count what reads return.
   */
  private unreadable(seq: number): null {
    const epoch = this.epoch;
    void this.exclusive(async () => {
      if (this.closed || this.epoch !== epoch || !this.ring.holdsRecords(seq)) return;
      const lost = this.ring.discard(seq);
      this.totals.count -= lost.count;
      this.totals.deleted -= lost.deleted;
      this.totals.bytes -= lost.bytes;
      this.discardedAfterOpen++;
      this.checkpointDue = true;
      // A delta records only the newest blocks: the next checkpoint must be a base.
      this.checkpoint?.forget();
      this.settings.logger.warn(
        { store: this.name, block: seq % this.geometry.numBlocks, records: lost.count - lost.deleted, dataFile: dataPath(this.dir) },
        `Block-file block of store ${this.name} does not match its index entry: its ${lost.count - lost.deleted} record(s) are lost and no longer counted.`,
      );
    });
    return null;
  }

  private toStored(seq: number, r: RecordView): StoredRecord {
    const blockNum = seq % this.geometry.numBlocks;
    return r.data ? { timestamp: r.timestamp, blockNum, size: r.size, data: r.data } : { timestamp: r.timestamp, blockNum, size: r.size };
  }

  private async locate(ts: bigint, withData: boolean): Promise<{ seq: number; record: RecordView } | null> {
    const ring = this.ring;
    const seq = ring.recordBlockAtOrBefore(ring.lastAtOrBefore(ts));
    if (!ring.holdsRecords(seq) || ts < ring.key(seq) || (this.newestTs !== undefined && ts > this.newestTs)) return null;
    const records = await this.blockRecords(seq, withData);
    const record = records?.find((r) => r.timestamp === ts);
    return record ? { seq, record } : null;
  }

  get(ts: bigint, withData: boolean): Promise<StoredRecord | null> {
    return this.track(
      (async () => {
        const found = await this.locate(ts, withData);
        return found && !found.record.deleted ? this.toStored(found.seq, found.record) : null;
      })(),
    );
  }

  scan(q: ScanQuery): Promise<StoredRecord[]> {
    return this.track(q.order === 'asc' ? this.scanAsc(q) : this.scanDesc(q));
  }

  private wanted(r: RecordView, q: ScanQuery): boolean {
    if (r.deleted) return false;
    if (q.from !== undefined && r.timestamp < q.from) return false;
    if (q.to !== undefined && r.timestamp > q.to) return false;
    return !q.match || q.match(r.data as Buffer);
  }

  private async scanAsc(q: ScanQuery): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    const ring = this.ring;
    const needData = q.withData || q.match !== undefined;
    let seq = q.from === undefined ? ring.oldestSeq : Math.max(ring.oldestSeq, ring.recordBlockAtOrBefore(ring.lastAtOrBefore(q.from)));
    const last = ring.newestSeq;
    for (; seq <= last && out.length < q.limit; seq++) {
      if (!ring.holdsRecords(seq) || ring.count(seq) === ring.deleted(seq)) continue;
      if (q.to !== undefined && ring.key(seq) > q.to) break;
      const records = await this.blockRecords(seq, needData);
      for (const r of records ?? []) {
        if (!this.wanted(r, q)) continue;
        out.push(this.toStored(seq, q.withData ? r : { ...r, data: undefined }));
        if (out.length >= q.limit) break;
      }
    }
    return out;
  }

  private async scanDesc(q: ScanQuery): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    const ring = this.ring;
    const needData = q.withData || q.match !== undefined;
    let seq = q.to === undefined ? ring.newestSeq : ring.lastAtOrBefore(q.to);
    for (; seq >= ring.oldestSeq && out.length < q.limit; seq--) {
      if (!ring.holdsRecords(seq) || ring.count(seq) === ring.deleted(seq)) continue;
      const first = ring.key(seq);
      if (q.to !== undefined && first > q.to) continue;
      const records = (await this.blockRecords(seq, needData)) ?? [];
      for (let i = records.length - 1; i >= 0; i--) {
        const r = records[i];
        if (!this.wanted(r, q)) continue;
        out.push(this.toStored(seq, q.withData ? r : { ...r, data: undefined }));
        if (out.length >= q.limit) break;
      }
      // Blocks before this one hold only records older than its first: none can be >= from.
      if (q.from !== undefined && first < q.from) break;
    }
    return out;
  }

  /** Soft delete: sets the record's delete mark (one byte outside its checksum). */
  remove(ts: bigint): Promise<boolean> {
    return this.exclusive(async () => {
      const found = await this.locate(ts, false);
      if (!found || found.record.deleted) return false;
      const { numBlocks, blockSize } = this.geometry;
      const position = (found.seq % numBlocks) * blockSize + found.record.offset + RECORD_MARK_OFFSET;
      // Until the mark and the new count are both recorded, the checkpoint lists the block for a
      // recount at open: a crash in between must not leave stats and reads disagreeing.
      if (this.checkpoint && this.checkpoint.writeLimit !== Infinity) {
        this.checkpoint.deletionPending(found.seq);
        await this.writeCheckpoint();
      }
      await this.fh.write(Buffer.from([DELETED_MARK]), 0, 1, position);
      await this.syncForAck();
      if (this.ring.has(found.seq)) {
        this.ring.markDeleted(found.seq, found.record.size);
        this.checkpoint?.deletionChanged(found.seq);
        this.checkpointDue = true;
        this.totals.deleted++;
        this.totals.bytes -= found.record.size;
        await this.writeCheckpoint();
      }
      return true;
    });
  }

  /**
   * Empties the store for good: a new generation is recorded in the meta file (atomically) and
   * blocks of older generations never count again, in memory or after a reopen.
   */
  reset(): Promise<void> {
    return this.exclusive(async () => {
      const nextSeq = this.ring.newestSeq + 1;
      const meta: Meta = { ...this.meta, generation: this.meta.generation + 1, seqBase: nextSeq };
      // The checkpoint goes first: were it left, a crash before the meta is replaced would still
      // be safe (generation check), but nothing may ever describe the emptied store's old blocks.
      await this.checkpoint?.invalidate();
      await writeMeta(this.settings.io, this.dir, meta);
      this.meta = meta;
      this.epoch++;
      this.ring.clear(nextSeq);
      this.newestTs = undefined;
      this.totals.count = this.totals.deleted = this.totals.bytes = 0;
      await this.writeCheckpoint();
    });
  }

  stats(): SinkStoreStats {
    const { numBlocks, blockSize } = this.geometry;
    const ring = this.ring;
    const first = ring.firstRecordBlock();
    const oldest = first === undefined ? undefined : ring.key(first);
    return {
      records: this.totals.count - this.totals.deleted,
      bytes: this.totals.bytes,
      oldest,
      newest: this.newestTs,
      capacityBytes: numBlocks * blockSize,
      usedBlocks: ring.size,
      numBlocks,
      fill: ring.size / numBlocks,
      extra: {
        overwrittenRecords: this.overwritten,
        deletedRecords: this.totals.deleted,
        generation: this.meta.generation,
        blockSize,
        fsync: this.settings.fsync,
        discardedBlocksAtOpen: this.lostAtOpen.discardedBlocks,
        damagedBlocksAtOpen: this.lostAtOpen.damagedBlocks,
        discardedBlocksAtRead: this.discardedAfterOpen,
        indexBytes: ring.memoryBytes(),
        openedFrom: this.openedFrom,
        checkpoints: this.checkpoints,
        commits: this.commits,
        fsyncs: this.fsyncs,
      },
    };
  }

  /** Byte ranges of every stored record, oldest first (tests use it to aim damage). */
  layout(): Promise<RecordLayout[]> {
    return this.track(this.computeLayout());
  }

  private async computeLayout(): Promise<RecordLayout[]> {
    const out: RecordLayout[] = [];
    const { numBlocks, blockSize } = this.geometry;
    const start = (seq: number): number => (seq % numBlocks) * blockSize;
    for (let seq = this.ring.oldestSeq; seq <= this.ring.newestSeq; seq++) {
      if (!this.ring.holdsRecords(seq)) continue;
      const kind = this.ring.kind(seq);
      for (const r of (await this.blockRecords(seq, false)) ?? []) {
        const ranges: [number, number][] = [];
        if (kind === BlockKind.Packed) ranges.push([start(seq), start(seq) + r.offset + RECORD_HEADER_SIZE + r.size]);
        else {
          forEachSpanPiece(r.size, blockSize, (block, offset, length) => {
            ranges.push([start(seq + block), start(seq + block) + offset + length]);
          });
        }
        out.push({ timestamp: r.timestamp, deleted: r.deleted, ranges });
      }
    }
    return out;
  }

  // ---- lifecycle ----

  /** Lets queued writes, removes, resets and reads finish, syncs, and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing) await this.flushing;
    await this.exclusive(async () => undefined);
    await Promise.allSettled([...this.reads]);
    this.closed = true;
    try {
      await this.fh.datasync();
      // With no room left for writes, an open after this close verifies nothing but the newest block.
      const ck = this.checkpoint;
      if (ck && (this.checkpointDue || ck.writeLimit > this.ring.newestSeq + 1)) await this.writeCheckpoint(0, 0);
    } finally {
      await this.fh.close();
    }
  }

  /** Closes and deletes the engine's files (the catalog removes the directory itself). */
  async drop(): Promise<void> {
    await this.close();
    await removeStoreFiles(this.settings.io, this.dir);
  }
}
