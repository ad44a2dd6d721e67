/**
 * Sink contract: where records become durable.
 *
 * Lifecycle: `create` (factory, no I/O) -> `open()` -> store operations, writes and reads ->
 * `close()`. Before `open()` and after `close()` every method rejects with TSS_ERR_SINK_CLOSED.
 * The server opens sinks before inputs start and closes them after inputs stopped and the
 * pipelines drained (no write is in flight then).
 *
 * A sink owns the data of each store. tsstore's store catalog owns the store directory's side
 * files (store.json, keys.json, schema.json, summary.json) and tells the sink about stores with
 * `createStore` / `openStore` / `closeStore` / `dropStore` / `resetStore`.
 *
 * Store lifecycle: a store is attached by `createStore` (new) or `openStore` (existing), and
 * detached by `closeStore` (data kept) or `dropStore` (data deleted). The catalog attaches stores
 * lazily, on their first use (or at start-up for a sink with `backgroundWork`), and closes the
 * least recently used idle ones when more than `store.max_open` are open, so one store may be
 * opened and closed many times while the sink stays open. The catalog guarantees, per store:
 *  - `write`, `stats`, the reader's calls, `resetStore` and `dropStore` are called only while the
 *    store is attached;
 *  - `openStore` / `createStore` only while it is detached, and never twice at once;
 *  - `closeStore` only when nothing of the store is in flight, and no call for the store starts
 *    until it resolved (the next one is `openStore`);
 *  - store operations that change what a store holds (`createStore`, `dropStore`, `resetStore`)
 *    come one at a time per sink.
 * Writes and reads of one store may run concurrently with each other, and with `dropStore` /
 * `resetStore` of that store. A write racing a reset either lands before it (and is then
 * emptied) or after it, never half; once `resetStore` resolves nothing written before it is
 * visible, `stats().newest` is undefined and old timestamps are free again. Once `dropStore`
 * resolves, calls for the store reject with TSS_ERR_STORE_NOT_FOUND. Calls for different stores
 * run concurrently, including opens and closes. Every store is detached before the sink's
 * `close()` (the catalog closes them first); `close()` must still release stores left attached.
 *
 * Run `sinkSuite()` from `tsstore/testing` against every implementation.
 */
import type { DataType, RecordResult, StoredRecord } from './record.js';

/** A store as the sink needs to know it. */
export interface StoreSpec {
  readonly name: string;
  /** The store's own directory (exists when the sink is called); the sink may put files in it. */
  readonly dir: string;
  readonly dataType: DataType;
  /** Ring geometry. Sinks without blocks ignore it. */
  readonly numBlocks: number;
  readonly dataBlockSize: number;
  readonly indexBlockSize: number;
}

/** One record handed to a sink: the final stored bytes. */
export interface SinkRecord {
  /** Client timestamp, or `undefined` for "assign now" (strictly increasing per store). */
  readonly timestamp?: bigint;
  readonly data: Buffer;
}

/** Per-store figures for stats endpoints and metrics. */
export interface SinkStoreStats {
  /** Live records (soft-deleted ones excluded where the sink can tell cheaply; else included). */
  readonly records: number;
  /** Bytes of record data held. */
  readonly bytes: number;
  readonly oldest?: bigint;
  readonly newest?: bigint;
  /** Capacity figures where the sink has a fixed footprint. */
  readonly capacityBytes?: number;
  readonly usedBlocks?: number;
  readonly numBlocks?: number;
  /** Fraction of the footprint in use, 0..1. */
  readonly fill?: number;
  /**
   * Extra sink-specific figures. On `/metrics` every number becomes
   * `tsstore_store_sink_figure{store,figure}` and every string (up to 64 characters)
   * `tsstore_store_sink_info{store,figure,value} 1`; a few names have metrics of their own:
   * `deletedRecords`, `overwrittenRecords`, `fsyncs`, `commits`, `fsync` (the policy).
   */
  readonly extra?: Readonly<Record<string, number | string>>;
}

/** A time-ordered scan. Bounds are inclusive; omit for unbounded. */
export interface ScanQuery {
  readonly from?: bigint;
  readonly to?: bigint;
  /** `asc`: oldest first; `desc`: newest first. */
  readonly order: 'asc' | 'desc';
  /** At most this many records (>= 1). */
  readonly limit: number;
  /** Return the data bytes too. */
  readonly withData: boolean;
  /**
   * Keep only records whose stored bytes satisfy this predicate. Applied before `limit`, so a
   * scan returns up to `limit` matches.
   */
  readonly match?: (data: Buffer) => boolean;
}

/** Read capability. Soft-deleted records are invisible to every read. */
export interface SinkReader {
  /** The record with exactly this timestamp, or null. */
  get(store: string, timestamp: bigint, withData: boolean): Promise<StoredRecord | null>;
  scan(store: string, query: ScanQuery): Promise<StoredRecord[]>;
  /** Soft delete: hide the record from reads. Resolves false when no such record is visible. */
  remove(store: string, timestamp: bigint): Promise<boolean>;
}

/**
 * What a sink can do, declared by the sink (like abstract-level's `db.supports`). `sinkSuite` runs
 * the cases each capability calls for; reads are declared by having a `reader`.
 */
export interface SinkSupports {
  /**
   * Records survive `close()` and a new sink instance on the same data directory, and a crash
   * (kill -9) loses nothing acknowledged. Default true; false for in-memory sinks.
   */
  readonly permanence?: boolean;
  /** The store data types it holds (default all). */
  readonly dataTypes?: readonly DataType[];
  /**
   * The largest record (data bytes) a store with this spec can hold, when there is a limit:
   * larger records are rejected with TSS_ERR_RECORD_TOO_LARGE.
   */
  maxRecordBytes?(spec: StoreSpec): number;
}

export interface Sink {
  /** Present when this sink serves reads (the query endpoints answer 501 otherwise). */
  readonly reader?: SinkReader;
  /** Capabilities; omitted means the defaults of SinkSupports. */
  readonly supports?: SinkSupports;
  /**
   * True when the sink works on open stores in the background, without requests (e.g. forwards
   * them upstream): the catalog then opens the sink's stores at start, up to `store.max_open`
   * (beyond that, least recently used idle stores still close). Default: stores open at their
   * first use.
   */
  readonly backgroundWork?: boolean;

  open(): Promise<void>;
  /** Finish in-flight writes (they resolve), then release every resource. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional, cheap and synchronous: true between a completed `open()` and the start of
   * `close()`. The server's `/ready` uses it; a sink without it counts as open between the
   * server's own open and close calls.
   */
  isOpen?(): boolean;

  /** Initialise storage for a new, empty store; TSS_ERR_STORE_EXISTS when it is attached already. */
  createStore(spec: StoreSpec): Promise<void>;
  /**
   * Attach an existing store (recovering it as needed): at its first use after start, and again
   * after `closeStore`. Must never refuse a store because of a torn write; an error here (e.g.
   * a file that cannot be opened) makes the store unavailable (503) while other stores serve, so
   * name the file in the message.
   */
  openStore(spec: StoreSpec): Promise<void>;
  /**
   * Detach an attached store and release everything it holds (file descriptors, timers, caches,
   * background work), keeping its data: a later `openStore` with the same spec serves every
   * acknowledged record again. Called only when the store is idle (see the lifecycle above);
   * still finish anything of the store in flight before resolving. Afterwards calls for the
   * store reject with TSS_ERR_STORE_NOT_FOUND until `openStore`. A sink that holds nothing per
   * store may just forget it.
   */
  closeStore(name: string): Promise<void>;
  /** Detach and delete the store's data. The catalog removes the directory afterwards. */
  dropStore(name: string): Promise<void>;
  /** Empty the store for good: nothing old reappears, not even after reopen. */
  resetStore(name: string): Promise<void>;

  /**
   * Persist records in order. Resolves with one result per record, aligned with `records`,
   * once every accepted record is written (and synced per the sink's policy): resolution is the
   * acknowledgement. Records of concurrent calls may share one physical write (group commit).
   *
   * Timestamps (`assignTimestamp` from tsstore/plugin applies the rule): an undefined timestamp
   * is assigned as max(now, newest + 1); a given one must be within 0..MAX_TIMESTAMP, else
   * TSS_ERR_TIMESTAMP_INVALID, and greater than the newest stored one, else
   * TSS_ERR_TIMESTAMP_ORDER. Per-record
   * problems are rejections in the result, never thrown; a thrown error means the whole call
   * failed (e.g. TSS_ERR_STORE_NOT_FOUND, TSS_ERR_SINK_CLOSED).
   */
  write(store: string, records: readonly SinkRecord[]): Promise<RecordResult[]>;

  stats(store: string): Promise<SinkStoreStats>;
}
