/**
 * The `blockfile` sink: the Sink contract over one BlockFileStore per store. Argument and state
 * checks live here; the engine lives in block-file-store.ts.
 */
import {
  type RecordResult,
  type ScanQuery,
  type Sink,
  type SinkContext,
  type SinkReader,
  type SinkRecord,
  type SinkStoreStats,
  type SinkSupports,
  type StoredRecord,
  type StoreSpec,
  TssError,
} from 'tsstore/plugin';
import { payloadSize, RECORD_HEADER_SIZE } from './format.js';
import { BlockFileStore, RecordLayout, StoreSettings } from './block-file-store.js';
import { type BlockFileIO, nodeIO } from './io.js';
import { BlockFileOptions, DEFAULT_OPTIONS } from './options.js';

type SinkState = 'new' | 'open' | 'closing' | 'closed';

export class BlockFileSink implements Sink {
  readonly reader: SinkReader;
  /** A record may fill the whole ring: every block's payload less one record header. */
  readonly supports: SinkSupports = { maxRecordBytes: (spec) => spec.numBlocks * payloadSize(spec.dataBlockSize) - RECORD_HEADER_SIZE };
  private readonly stores = new Map<string, BlockFileStore>();
  /** Stores being created, opened or closed, so two calls for one name cannot race. */
  private readonly pending = new Set<string>();
  private state: SinkState = 'new';
  private timer: NodeJS.Timeout | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private readonly options: BlockFileOptions;

  /** @param io the file system the stores work on: node:fs unless a test injects faults. */
  constructor(
    options: Partial<BlockFileOptions>,
    private readonly ctx: SinkContext,
    private readonly io: BlockFileIO = nodeIO,
  ) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
    this.reader = {
      get: (store, ts, withData) => this.get(store, ts, withData),
      scan: (store, query) => this.scan(store, query),
      remove: (store, ts) => this.remove(store, ts),
    };
  }

  private get settings(): StoreSettings {
    const o = this.options;
    return {
      fsync: o.fsync,
      maxFlushBytes: o.max_flush_bytes,
      logger: this.ctx.logger,
      io: this.io,
      checkpoint: o.checkpoint,
      checkpointBytes: o.checkpoint_bytes,
      checkpointIntervalMs: o.checkpoint_interval_ms,
    };
  }

  async open(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state !== 'new') throw new TssError('TSS_ERR_SINK_CLOSED');
    this.state = 'open';
    if (this.options.fsync === 'interval') {
      this.timer = setInterval(() => {
        for (const s of this.stores.values()) void s.syncIfDirty();
      }, this.options.fsync_interval_ms);
      this.timer.unref();
    }
    if (this.options.checkpoint) {
      this.checkpointTimer = setInterval(
        () => {
          for (const s of this.stores.values()) s.checkpointIfDue();
        },
        Math.min(this.options.checkpoint_interval_ms, 5000),
      );
      this.checkpointTimer.unref();
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.state = 'closing';
    if (this.timer) clearInterval(this.timer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    const names = [...this.stores.keys()];
    const results = await Promise.allSettled([...this.stores.values()].map((s) => s.close()));
    this.stores.clear();
    this.state = 'closed';
    // A failed final sync means records acknowledged under fsync never/interval may not be on disk: say so.
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${names[i]}: ${(r.reason as Error)?.message ?? String(r.reason)}`] : []));
    if (failed.length > 0) throw new Error(`${failed.length} store(s) failed to sync and close: ${failed.join('; ')}`);
  }

  isOpen(): boolean {
    return this.state === 'open';
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new TssError('TSS_ERR_SINK_CLOSED');
  }

  private store(name: string): BlockFileStore {
    this.assertOpen();
    const s = this.stores.get(name);
    if (!s) throw new TssError('TSS_ERR_STORE_NOT_FOUND');
    return s;
  }

  private async attach(spec: StoreSpec, make: () => Promise<BlockFileStore>): Promise<void> {
    this.assertOpen();
    if (this.stores.has(spec.name) || this.pending.has(spec.name)) throw new TssError('TSS_ERR_STORE_EXISTS');
    this.pending.add(spec.name);
    try {
      const store = await make();
      if (this.state !== 'open') {
        await store.close();
        throw new TssError('TSS_ERR_SINK_CLOSED');
      }
      this.stores.set(spec.name, store);
    } finally {
      this.pending.delete(spec.name);
    }
  }

  async createStore(spec: StoreSpec): Promise<void> {
    await this.attach(spec, () => BlockFileStore.create(spec, this.settings));
  }

  async openStore(spec: StoreSpec): Promise<void> {
    await this.attach(spec, () => BlockFileStore.open(spec, this.settings));
  }

  /** Syncs and closes the store's file (its one file descriptor); the data stays. */
  async closeStore(name: string): Promise<void> {
    const s = this.store(name);
    this.stores.delete(name);
    this.pending.add(name);
    try {
      await s.close();
    } finally {
      this.pending.delete(name);
    }
  }

  async dropStore(name: string): Promise<void> {
    const s = this.store(name);
    this.stores.delete(name);
    await s.drop();
  }

  async resetStore(name: string): Promise<void> {
    await this.store(name).reset();
  }

  async write(store: string, records: readonly SinkRecord[]): Promise<RecordResult[]> {
    return this.store(store).write(records);
  }

  async stats(store: string): Promise<SinkStoreStats> {
    return this.store(store).stats();
  }

  private async get(store: string, ts: bigint, withData: boolean): Promise<StoredRecord | null> {
    return this.store(store).get(ts, withData);
  }

  private async scan(store: string, query: ScanQuery): Promise<StoredRecord[]> {
    const s = this.store(store);
    if (!Number.isInteger(query.limit) || query.limit < 1) throw new TssError('TSS_ERR_QUERY_INVALID', 'invalid query parameter: limit must be >= 1');
    if (query.from !== undefined && query.to !== undefined && query.from > query.to) return [];
    return s.scan(query);
  }

  private async remove(store: string, ts: bigint): Promise<boolean> {
    return this.store(store).remove(ts);
  }

  /** Where each record's bytes lie on disk. Not part of the Sink contract: for tests and tooling. */
  async layout(store: string): Promise<RecordLayout[]> {
    return this.store(store).layout();
  }
}
