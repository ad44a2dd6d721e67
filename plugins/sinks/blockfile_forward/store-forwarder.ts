/**
 * Drains one store from the block-file ring to JetStream:
 *
 *   ring ──scan(from = cursor+1, asc, limit = batch)──► publish all (msg id <store>:<ts>, windowed)
 *        ◄──────────── save cursor = last acked ts ◄── await every PubAck (stop at the first failure)
 *
 * Woken by writes, or by the uplink coming back; otherwise it polls once a second and backs off
 * on errors. A crash between PubAck and cursor save leaves at most one batch acknowledged but
 * not saved. The stream's de-duplication drops its resend within the duplicate window; beyond
 * it, the first round after a start reads the timestamps the stream holds after the saved
 * stream sequence and skips exactly those records (a batch's publishes are concurrent, so they
 * can land with gaps: skipping only what is there never loses a record).
 *
 * Loss accounting: the ring only ever overwrites its oldest records, so a record newer than the
 * cursor can only be gone when every record in the ring is newer than the cursor. Then the
 * records still waiting are exactly the live records in the ring, and anything short of the
 * expected count was overwritten unforwarded. The expected count is kept from the engine's own
 * cumulative figures (records + deleted + overwritten only grows as records are written).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, type Logger, nowNs, type SinkReader, type SinkStoreStats, toTssError } from 'tsstore/plugin';
import { RETRY_MIN_MS, type JetStreamLink } from '../nats_jetstream/jetstream-link.js';
import { durationMs } from '../nats_jetstream/options.js';
import { readCursor, writeCursor } from './forward-cursor.js';
import type { ForwardOptions } from './options.js';

export type ForwardState = 'starting' | 'idle' | 'forwarding' | 'waiting_uplink' | 'error' | 'stopped';

/** What the forwarder needs from the engine. */
export interface ForwardSource {
  readonly reader: SinkReader;
  stats(store: string): Promise<SinkStoreStats>;
}

const IDLE_POLL_MS = 1000;

function written(s: SinkStoreStats): number {
  const x = s.extra ?? {};
  return s.records + Number(x.deletedRecords ?? 0) + Number(x.overwrittenRecords ?? 0);
}

export class StoreForwarder {
  private state: ForwardState = 'starting';
  private lastError = '';
  private cursor: bigint | undefined;
  private cursorSeq: number | undefined;
  private lost = 0;
  /** Records after the cursor that the stream already holds (found by reconcile). */
  private remoteKnown: Set<bigint> | undefined;
  private remoteKnownMax = -1n;
  private cursorTrusted = false;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private dirty = true;
  /** Aborted to cut the current wait short (new records, stop). */
  private waiting: AbortController | undefined;
  private offConnected: (() => void) | undefined;
  /** Baseline of the expected-pending count (see the header). */
  private base = { pending: 0, written: 0 };
  private forwardedSinceBase = 0;
  private removedSinceBase = 0;
  private lostSinceBase = 0;
  /** Records forwarded since this forwarder started. */
  private forwarded = 0;
  private lastForwardAt = 0;

  constructor(
    private readonly name: string,
    private readonly dir: string,
    private readonly source: ForwardSource,
    private readonly link: JetStreamLink,
    private readonly opts: ForwardOptions,
    private readonly logger: Logger,
  ) {}

  /** Loads the cursor and starts draining in the background. */
  async start(): Promise<void> {
    const saved = await readCursor(this.dir).catch((err: unknown) => {
      this.logger.warn(
        { store: this.name, err: (err as Error).message },
        'Forward cursor file unreadable; forwarding the ring from its start (de-duplication drops what the stream has within its window).',
      );
      return { cursor: undefined, seq: undefined, lost: 0 };
    });
    this.cursor = saved.cursor;
    this.cursorSeq = saved.seq;
    this.lost = saved.lost;
    this.cursorTrusted = saved.cursor !== undefined && saved.seq !== undefined;
    await this.rebase();
    this.state = 'starting';
    this.stopping = false;
    this.offConnected = this.link.onConnected(() => this.notify());
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.offConnected?.();
    this.wake();
    await this.loop;
    this.state = 'stopped';
  }

  /** After the engine emptied the store: nothing forwarded, nothing pending. */
  async resetCursor(): Promise<void> {
    this.cursor = undefined;
    this.cursorSeq = undefined;
    this.lost = 0;
    this.cursorTrusted = false;
    this.remoteKnown = undefined;
    await writeCursor(this.dir, { cursor: undefined, lost: 0 });
    await this.rebase();
  }

  notify(): void {
    this.dirty = true;
    this.wake();
  }

  /** A record was soft-deleted in the engine: if still waiting, it will not be forwarded. */
  removed(timestamp: bigint): void {
    if (this.cursor === undefined || timestamp > this.cursor) this.removedSinceBase++;
  }

  private async rebase(): Promise<void> {
    const s = await this.source.stats(this.name);
    let pending = s.records;
    if (this.cursor !== undefined && s.oldest !== undefined && s.oldest <= this.cursor && s.records > 0) {
      pending = (await this.source.reader.scan(this.name, { from: this.cursor + 1n, order: 'asc', limit: s.records, withData: false })).length;
    }
    this.base = { pending, written: written(s) };
    this.forwardedSinceBase = this.removedSinceBase = this.lostSinceBase = 0;
  }

  private expectedPending(s: SinkStoreStats): number {
    return this.base.pending + (written(s) - this.base.written) - this.forwardedSinceBase - this.removedSinceBase - this.lostSinceBase;
  }

  private async checkLoss(): Promise<void> {
    const s = await this.source.stats(this.name);
    if (s.oldest === undefined || (this.cursor !== undefined && s.oldest <= this.cursor)) return;
    const gone = this.expectedPending(s) - s.records;
    if (gone <= 0) return;
    this.lostSinceBase += gone;
    this.lost += gone;
    this.logger.error(
      { store: this.name, lost: gone, lostTotal: this.lost, cursor: String(this.cursor ?? '') },
      'The ring wrapped before these records were forwarded: they are lost to JetStream.',
    );
    await this.saveCursor();
  }

  private saveCursor(): Promise<void> {
    return writeCursor(this.dir, { cursor: this.cursor, seq: this.cursorSeq, lost: this.lost });
  }

  /** Finds which records after the saved cursor the stream already holds (a crash after PubAck). */
  private async reconcile(): Promise<void> {
    if (!this.cursorTrusted || this.cursor === undefined || this.cursorSeq === undefined) return;
    const remote = await this.link.lastRecord(this.name);
    if (remote && remote.seq > this.cursorSeq && remote.timestamp > this.cursor) {
      const known = await this.link.timestampsAfter(this.name, this.cursorSeq, 2 * this.opts.batch + this.opts.max_in_flight);
      for (const ts of known) if (ts <= this.cursor) known.delete(ts);
      if (known.size > 0) {
        this.remoteKnown = known;
        this.remoteKnownMax = [...known].reduce((a, b) => (b > a ? b : a), -1n);
        this.logger.info({ store: this.name, records: known.size }, 'Records the stream already holds beyond the saved cursor will be skipped.');
      }
    }
    this.cursorTrusted = false;
  }

  /** Waits `ms`, or less when `wake()` is called. */
  private async sleep(ms: number): Promise<void> {
    this.waiting = new AbortController();
    await sleep(ms, undefined, { signal: this.waiting.signal }).catch(() => undefined);
    this.waiting = undefined;
  }

  private wake(): void {
    this.waiting?.abort();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    const maxDelay = durationMs(this.opts.retry_max);
    while (!this.stopping) {
      try {
        const { js } = await this.link.ready();
        await this.reconcile();
        await this.checkLoss();
        this.dirty = false;
        const from = this.cursor === undefined ? undefined : this.cursor + 1n;
        const batch = await this.source.reader.scan(this.name, { from, order: 'asc', limit: this.opts.batch, withData: true });
        if (batch.length === 0) {
          this.state = 'idle';
          if (!this.dirty && !this.stopping) await this.sleep(IDLE_POLL_MS);
          continue;
        }
        this.state = 'forwarding';
        const known = this.remoteKnown;
        const acks = await Promise.allSettled(
          batch.map((r) =>
            known?.has(r.timestamp) ? Promise.resolve(undefined) : this.link.publish(js, { store: this.name, timestamp: r.timestamp, data: r.data as Buffer }),
          ),
        );
        let ok = 0;
        while (ok < acks.length && acks[ok].status === 'fulfilled') ok++;
        // A lower bound of the sequences of this batch's new messages: everything of ours after the
        // cursor lies above it, whatever order the concurrent publishes landed in.
        let firstSeq: number | undefined;
        for (const a of acks) {
          if (a.status === 'fulfilled' && a.value && !a.value.duplicate && (firstSeq === undefined || a.value.seq < firstSeq)) firstSeq = a.value.seq;
        }
        if (ok > 0) {
          this.cursor = batch[ok - 1].timestamp;
          if (firstSeq !== undefined) this.cursorSeq = firstSeq - 1;
          if (known && this.cursor >= this.remoteKnownMax) this.remoteKnown = undefined;
          this.forwardedSinceBase += ok;
          this.forwarded += ok;
          this.lastForwardAt = Date.now();
          await this.saveCursor();
        }
        if (ok < acks.length) throw (acks[ok] as PromiseRejectedResult).reason;
        attempt = 0;
        this.lastError = '';
      } catch (err) {
        if (this.stopping) break;
        const e = toTssError(err);
        this.lastError = e.message;
        this.state = this.link.state === 'connected' ? 'error' : 'waiting_uplink';
        if (e.code === 'TSS_ERR_INTERNAL') this.logger.error({ store: this.name, err: (err as Error)?.stack ?? String(err) }, 'Forwarding failed.');
        // A loss must be counted even while the uplink is down.
        await this.checkLoss().catch(() => undefined);
        await this.sleep(backoffDelay(attempt++, RETRY_MIN_MS, maxDelay));
      }
    }
    this.state = 'stopped';
  }

  /** Figures for the store's stats (merged into SinkStoreStats.extra). */
  async stats(s: SinkStoreStats): Promise<Record<string, number | string>> {
    const pending = Math.max(0, this.expectedPending(s));
    let lagSeconds = 0;
    if (pending > 0) {
      const from = this.cursor === undefined ? undefined : this.cursor + 1n;
      const first = await this.source.reader.scan(this.name, { from, order: 'asc', limit: 1, withData: false }).catch(() => []);
      if (first.length > 0) {
        const ns = nowNs() - first[0].timestamp;
        lagSeconds = ns > 0n ? Number(ns / 1_000_000n) / 1000 : 0;
      }
    }
    return {
      forwardState: this.state,
      forwardUplink: this.link.state,
      forwardCursor: this.cursor === undefined ? '' : this.cursor.toString(),
      forwardLagRecords: pending,
      forwardLagSeconds: lagSeconds,
      forwardedRecords: this.forwarded,
      forwardLostRecords: this.lost,
      forwardLastError: this.lastError,
      forwardLastSuccessAt: this.lastForwardAt ? new Date(this.lastForwardAt).toISOString() : '',
      forwardStream: this.link.stream,
      forwardSubject: this.link.subjectOf(this.name),
    };
  }
}
