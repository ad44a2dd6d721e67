/**
 * One delivery: reads one store after a cursor, in timestamp order, and hands the records to an
 * output (the contract is src/plugin/output.ts).
 *
 *   ┌─► scan(after cursor, asc, limit = batch) ─► stats ─► lost? missed(n) ─► deliver(matching)
 *   │                                                                          │ acknowledged
 *   └── sleep until a commit of the store (idle) or a backoff delay (failed) ◄── cursor, save
 *
 * Counting (lag and missed records) follows the store's cumulative figures, never a scan of the
 * whole ring: `written` = live + soft-deleted + overwritten records only grows, so the records
 * still due are a base count plus what was written since, minus what was delivered, deleted or
 * lost. The ring only overwrites its oldest records, so a record after the cursor can only be gone
 * when every record in the ring is after the cursor; then the records due that are neither in the
 * ring nor in hand (the batch just read) were overwritten: that shortfall is the missed count,
 * exact, and reported before the batch that follows the gap. The base is taken again, exactly,
 * whenever the delivery has caught up (nothing due). The only scan that counts records runs when
 * a delivery opens in the middle of the ring, and costs what the backlog costs to deliver anyway.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nowNs } from '../plugin/clock.js';
import type { Logger } from '../plugin/descriptor.js';
import { toTssError, TssError } from '../plugin/errors.js';
import { backoffDelay } from '../plugin/kit/backoff.js';
import { readStateFile, writeFileAtomic } from '../plugin/kit/state-file.js';
import type { Delivery, DeliverySpec, DeliveryState, DeliveryStatus, OutputRecord } from '../plugin/output.js';
import type { StoredRecord } from '../plugin/record.js';
import type { SinkReader, SinkStoreStats } from '../plugin/sink.js';

export const OUTPUTS_DIR = 'outputs';
export const DEFAULT_BATCH = 500;
const COUNT_PAGE = 10_000;
const MAX_BATCH = 100_000;
export const CURSOR_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/** What a delivery needs from the store catalog. */
export interface DeliverySource {
  reader(store: string): SinkReader | undefined;
  stats(store: string): Promise<SinkStoreStats>;
  storeDir(store: string): string;
}

interface SavedCursor {
  readonly cursor: bigint | undefined;
  readonly missed: number;
}

export function cursorFile(storeDir: string, name: string): string {
  return path.join(storeDir, OUTPUTS_DIR, `${name}.json`);
}

async function readCursor(file: string): Promise<SavedCursor | undefined> {
  const text = await readStateFile(file);
  if (text === undefined) return undefined;
  const j = JSON.parse(text) as { cursor?: unknown; missed?: unknown };
  const cursor = typeof j.cursor === 'string' && /^\d{1,19}$/.test(j.cursor) ? BigInt(j.cursor) : undefined;
  if (j.cursor !== null && cursor === undefined) throw new Error(`${file}: cursor is not a timestamp`);
  return { cursor, missed: Number.isSafeInteger(j.missed) ? (j.missed as number) : 0 };
}

function written(s: SinkStoreStats): number {
  const x = s.extra ?? {};
  return s.records + Number(x.deletedRecords ?? 0) + Number(x.overwrittenRecords ?? 0);
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  const msg = e?.message || String(err);
  return e?.code && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}

export class StoreDelivery implements Delivery {
  readonly store: string;
  private stateValue: DeliveryState = 'starting';
  private cursor: bigint | undefined;
  private missedTotal = 0;
  private sent = 0;
  private errors = 0;
  private lastError?: string;
  private lastErrorAt?: Date;
  private lastSentAt?: Date;
  private base = { pending: 0, written: 0 };
  private deliveredSinceBase = 0;
  private removedSinceBase = 0;
  private lostSinceBase = 0;
  private initialized = false;
  private resetRequested = false;
  private dirty = true;
  private stopping = false;
  private loop?: Promise<void>;
  private idleWait?: AbortController;
  private retryWait?: AbortController;
  private readonly batchSize: number;
  private file?: string;
  private dirMade = false;

  constructor(
    private readonly spec: DeliverySpec,
    private readonly source: DeliverySource,
    private readonly logger: Logger,
    /** Called once the delivery stopped (to forget it). */
    private readonly onStopped: (d: StoreDelivery) => void,
  ) {
    this.store = spec.store;
    this.batchSize = Math.max(1, Math.min(MAX_BATCH, Math.floor(spec.batch ?? DEFAULT_BATCH)));
  }

  get cursorName(): string | undefined {
    return this.spec.cursor;
  }
  get state(): DeliveryState {
    return this.stateValue;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Records of the store were committed: read them. */
  committed(): void {
    this.dirty = true;
    this.idleWait?.abort();
  }

  /** A record was soft-deleted: if it was still due, it will not be delivered. */
  removed(timestamp: bigint): void {
    if (this.cursor === undefined || timestamp > this.cursor) this.removedSinceBase++;
  }

  /** The store was emptied: start again from its (new) beginning. */
  reset(): void {
    this.resetRequested = true;
    this.committed();
    this.retryWait?.abort();
  }

  wake(): void {
    this.retryWait?.abort();
    this.idleWait?.abort();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    this.stateValue = 'stopped';
  }

  async remove(): Promise<void> {
    await this.stop();
    if (this.file) await fs.promises.rm(this.file, { force: true });
  }

  /** Stopped because the store went away: tell the output. */
  async halt(reason: string): Promise<void> {
    await this.stop();
    try {
      this.spec.stopped?.(reason);
    } catch (err) {
      this.logger.error({ store: this.store, err: describe(err) }, 'An output failed handling the end of its delivery.');
    }
  }

  async status(): Promise<DeliveryStatus> {
    let lagRecords = 0;
    let lagSeconds = 0;
    if (this.initialized && this.stateValue !== 'stopped') {
      try {
        const s = await this.source.stats(this.store);
        lagRecords = Math.max(0, this.expectedPending(s));
        if (lagRecords > 0) {
          const first = await this.source.reader(this.store)?.scan(this.store, { from: this.after(), order: 'asc', limit: 1, withData: false });
          if (first?.length) {
            const ns = nowNs() - first[0].timestamp;
            lagSeconds = ns > 0n ? Number(ns / 1_000_000n) / 1000 : 0;
          }
        }
      } catch {
        // the figures stay 0 while the store cannot be read; the delivery reports the error itself
      }
    }
    const out: DeliveryStatus = {
      store: this.store,
      state: this.stateValue,
      cursor: this.cursor,
      lagRecords,
      lagSeconds,
      sent: this.sent,
      errors: this.errors,
      missed: this.missedTotal,
      ...(this.spec.cursor !== undefined ? { cursorName: this.spec.cursor } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError, lastErrorAt: this.lastErrorAt?.toISOString() } : {}),
      ...(this.lastSentAt ? { lastSentAt: this.lastSentAt.toISOString() } : {}),
    };
    return out;
  }

  private after(): bigint | undefined {
    return this.cursor === undefined ? undefined : this.cursor + 1n;
  }

  private expectedPending(s: SinkStoreStats): number {
    return this.base.pending + (written(s) - this.base.written) - this.deliveredSinceBase - this.removedSinceBase - this.lostSinceBase;
  }

  private async init(): Promise<void> {
    // A store that does not exist (yet) throws here: the delivery retries, and is woken when the store is created.
    if (this.spec.cursor !== undefined) this.file ??= cursorFile(this.source.storeDir(this.store), this.spec.cursor);
    const saved = this.file ? await this.loadCursor() : undefined;
    const s = await this.source.stats(this.store);
    if (saved) {
      this.cursor = saved.cursor;
      this.missedTotal = saved.missed;
    } else {
      const from = this.spec.from ?? 'oldest';
      this.cursor = from === 'oldest' ? undefined : from === 'now' ? s.newest : from;
      // Saved at once: a restart before the first acknowledged batch resumes here, not at a later 'now'.
      if (this.file) await this.save();
    }
    await this.rebase(s);
    this.initialized = true;
  }

  private async loadCursor(): Promise<SavedCursor | undefined> {
    try {
      return await readCursor(this.file!);
    } catch (err) {
      const aside = `${this.file}.unreadable-${Date.now()}`;
      await fs.promises.rename(this.file!, aside).catch(() => undefined);
      this.logger.error(
        { store: this.store, file: this.file, movedTo: aside, err: describe(err) },
        'Output cursor unreadable: moved aside; starting where the output starts without a cursor.',
      );
      return undefined;
    }
  }

  /** The base of the count of records due, from one stats snapshot (see the header). */
  private async rebase(s: SinkStoreStats): Promise<void> {
    let pending: number;
    const c = this.cursor;
    if (s.newest === undefined || (c !== undefined && s.newest <= c)) pending = 0;
    else if (c === undefined || s.oldest === undefined || s.oldest > c) pending = s.records;
    else {
      pending = 0;
      const reader = this.readerOrThrow();
      let from = c + 1n;
      for (;;) {
        const page = await reader.scan(this.store, { from, to: s.newest, order: 'asc', limit: COUNT_PAGE, withData: false });
        pending += page.length;
        if (page.length < COUNT_PAGE) break;
        from = page[page.length - 1].timestamp + 1n;
      }
    }
    this.base = { pending, written: written(s) };
    this.deliveredSinceBase = this.removedSinceBase = this.lostSinceBase = 0;
  }

  private readerOrThrow(): SinkReader {
    const r = this.source.reader(this.store);
    if (!r) throw new TssError('TSS_ERR_READS_UNSUPPORTED', `the sink of store ${this.store} does not serve reads, which outputs need`);
    return r;
  }

  private async save(): Promise<void> {
    if (!this.file) return;
    if (!this.dirMade) {
      await fs.promises.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      this.dirMade = true;
    }
    const doc = { version: 1, cursor: this.cursor === undefined ? null : this.cursor.toString(), missed: this.missedTotal };
    await writeFileAtomic(this.file, JSON.stringify(doc) + '\n', 0o600);
  }

  /** Records after the cursor that the ring overwrote (see the header); reported before the batch. */
  private async checkLoss(s: SinkStoreStats, before: bigint | undefined, batch: readonly StoredRecord[]): Promise<void> {
    if (s.oldest === undefined || (before !== undefined && s.oldest <= before)) return;
    let inHandGone = 0;
    for (const r of batch) if (r.timestamp < s.oldest) inHandGone++;
    const gone = this.expectedPending(s) - s.records - inHandGone;
    if (gone <= 0) return;
    this.lostSinceBase += gone;
    this.missedTotal += gone;
    this.logger.warn(
      { store: this.store, cursor: this.spec.cursor, missed: gone, missedTotal: this.missedTotal },
      'The ring overwrote records before this output delivered them.',
    );
    await this.save();
    await this.spec.missed?.(gone);
  }

  private async wait(ms: number | undefined): Promise<void> {
    const ac = new AbortController();
    if (ms === undefined) this.idleWait = ac;
    else this.retryWait = ac;
    try {
      await sleep(ms ?? 2_147_483_647, undefined, { signal: ac.signal });
    } catch {
      // woken
    } finally {
      if (ms === undefined) this.idleWait = undefined;
      else this.retryWait = undefined;
    }
  }

  private async run(): Promise<void> {
    let attempt = 0;
    const retry = this.spec.retry ?? { minMs: 1000, maxMs: 60_000 };
    while (!this.stopping) {
      try {
        if (!this.initialized) await this.init();
        if (this.resetRequested) {
          this.resetRequested = false;
          this.cursor = undefined;
          this.missedTotal = 0;
          await this.save();
          await this.rebase(await this.source.stats(this.store));
        }
        this.dirty = false;
        const before = this.cursor;
        const batch = await this.readerOrThrow().scan(this.store, { from: this.after(), order: 'asc', limit: this.batchSize, withData: true });
        const s = await this.source.stats(this.store);
        if (this.stopping || this.resetRequested) continue;
        await this.checkLoss(s, before, batch);
        if (batch.length === 0) {
          // Caught up: nothing is due, so the count starts again from this snapshot, exactly.
          if (s.newest === undefined || (before !== undefined && s.newest <= before)) {
            this.base = { pending: 0, written: written(s) };
            this.deliveredSinceBase = this.removedSinceBase = this.lostSinceBase = 0;
          }
          this.stateValue = 'idle';
          attempt = 0;
          if (!this.dirty && !this.stopping) await this.wait(undefined);
          continue;
        }
        this.stateValue = 'delivering';
        await this.deliverBatch(batch);
        attempt = 0;
      } catch (err) {
        if (this.stopping) break;
        const e = toTssError(err);
        this.errors++;
        this.lastError = e.code === 'TSS_ERR_INTERNAL' ? describe(err) : e.message;
        this.lastErrorAt = new Date();
        this.stateValue = 'retrying';
        const delay = backoffDelay(attempt++, retry.minMs, retry.maxMs);
        if (attempt === 1 || attempt % 10 === 0)
          this.logger.warn(
            { store: this.store, cursor: this.spec.cursor, attempt, delayMs: delay, err: this.lastError },
            'Output delivery failed; retrying after a delay.',
          );
        await this.wait(delay);
      }
    }
    this.stateValue = 'stopped';
    this.onStopped(this);
  }

  private async deliverBatch(batch: readonly StoredRecord[]): Promise<void> {
    const match = this.spec.match;
    const chosen: StoredRecord[] = match ? batch.filter((r) => r.data !== undefined && match(r.data)) : (batch as StoredRecord[]);
    let acked = chosen.length;
    if (chosen.length > 0) {
      const records: OutputRecord[] = chosen.map((r) => ({ timestamp: r.timestamp, data: r.data ?? Buffer.alloc(0) }));
      const n = await this.spec.deliver(records);
      if (typeof n === 'number' && Number.isFinite(n)) acked = Math.max(0, Math.min(chosen.length, Math.floor(n)));
    }
    // The cursor moves over everything up to the first record not acknowledged.
    const stopAt = acked === chosen.length ? batch.length : batch.indexOf(chosen[acked]);
    if (stopAt > 0) {
      this.cursor = batch[stopAt - 1].timestamp;
      this.deliveredSinceBase += stopAt;
      this.sent += acked;
      if (acked > 0) this.lastSentAt = new Date();
      await this.save();
    }
    if (acked < chosen.length) throw new TssError('TSS_ERR_UPSTREAM', `the destination acknowledged ${acked} of ${chosen.length} records`);
  }
}
