/**
 * Output plugin contract: an output takes records *out* of a store and delivers them somewhere
 * (a live WebSocket reader, a remote WebSocket server, a message broker). Inputs move bytes in;
 * outputs move them out.
 *
 * tsstore does the reading: a plugin opens one *delivery* per store it reads
 * (`ctx.deliveries.open`), and tsstore then reads that store from a cursor, in timestamp order,
 * and hands the records to the delivery's `deliver` in batches:
 *
 *   commit ──wake──▶ scan(after cursor, asc, limit = batch) ──▶ deliver(records) ──▶ ack
 *                                     ▲                                             │
 *                                     └──── cursor = last acknowledged (persisted) ◀┘
 *
 * - **Woken on commit**: a delivery sleeps until records of its store are durable (no polling).
 * - **In order, acknowledged**: the next batch is read only after `deliver` resolved; the cursor
 *   moves over what `deliver` acknowledged. A `deliver` that throws is retried, from the first
 *   record it did not acknowledge, after a backoff delay.
 * - **Bounded**: at most one batch (`batch` records) per delivery is in memory at a time; a slow
 *   destination slows only its own delivery.
 * - **Persisted cursor**: a delivery with a `cursor` name keeps the timestamp of the newest
 *   acknowledged record in `<store dir>/outputs/<cursor>.json` (written atomically after every
 *   acknowledged batch) and resumes after it when it is opened again, after a restart too.
 *   Without a name (e.g. a live reader) the cursor lives in memory only.
 * - **Nothing skipped silently**: when the store's ring overwrote records before they were
 *   delivered, `missed(count)` is called before the next batch, with the exact count.
 * - **Figures**: every delivery reports state, lag (records and seconds), records sent, errors
 *   and missed records (`status()`); named deliveries also on `/metrics` and in the store's stats.
 *
 * Lifecycle of an output plugin: `create` (validate options, no I/O) → `start()` (register
 * routes, open deliveries; runs after the sinks opened and before inputs start) → `stop()` (close
 * deliveries and connections; idempotent). A store deleted while deliveries read it: each is
 * stopped (its `stopped` callback says why) and its cursor file goes with the store directory.
 * A store reset: its deliveries start again from the (empty) store's beginning.
 */
import type { Resource } from './input.js';

/** One stored record as a delivery receives it: the stored bytes, exactly. */
export interface OutputRecord {
  readonly timestamp: bigint;
  readonly data: Buffer;
}

/** Where a delivery starts when it has no saved cursor. */
export type DeliveryFrom = 'oldest' | 'now' | bigint;

export interface DeliverySpec {
  /** The store to read. */
  readonly store: string;
  /**
   * Name of the persisted cursor (`[A-Za-z0-9_.-]`, up to 100 characters), unique per store:
   * the cursor is kept in `<store dir>/outputs/<cursor>.json`. Omit for a delivery whose cursor
   * lives in memory only.
   */
  readonly cursor?: string;
  /**
   * Where to start without a saved cursor: `oldest` (every record in the store), `now` (only
   * records committed from now on) or a timestamp (records after it). Default `oldest`.
   */
  readonly from?: DeliveryFrom;
  /** Most records per `deliver` call (and read at once). Default 500. */
  readonly batch?: number;
  /** Only records whose stored bytes pass are delivered (the cursor moves over the others). */
  readonly match?: (data: Buffer) => boolean;
  /** Retry delays after a failed `deliver`: doubling from `min` to `max` ms, jittered. Default 1 s → 60 s. */
  readonly retry?: { readonly minMs: number; readonly maxMs: number };
  /**
   * Deliver records, oldest first. Resolve once the destination has them (the acknowledgement):
   * with nothing (all of them) or the number acknowledged from the start of the batch. Throw to
   * have the unacknowledged rest retried after a backoff delay (counted as an error).
   */
  deliver(records: readonly OutputRecord[]): Promise<number | void>;
  /**
   * The ring overwrote `count` records after the cursor before they could be delivered; called
   * before the batch that follows the gap. Default: only counted (status `missed`) and logged.
   */
  missed?(count: number): Promise<void> | void;
  /** The delivery stopped for good on its own (its store was deleted). */
  stopped?(reason: string): void;
}

export type DeliveryState = 'starting' | 'idle' | 'delivering' | 'retrying' | 'stopped';

export interface DeliveryStatus {
  readonly store: string;
  readonly cursorName?: string;
  readonly state: DeliveryState;
  /** Timestamp of the newest record delivered (or passed by the filter); undefined before the first. */
  readonly cursor?: bigint;
  /** Records committed after the cursor and not yet delivered. */
  readonly lagRecords: number;
  /** Age of the oldest record not yet delivered, in seconds (0 when caught up). */
  readonly lagSeconds: number;
  /** Records delivered (acknowledged) since the delivery was opened. */
  readonly sent: number;
  /** Failed `deliver` calls (and failed reads) since the delivery was opened. */
  readonly errors: number;
  /** Records the ring overwrote before they were delivered (persisted with the cursor). */
  readonly missed: number;
  readonly lastError?: string;
  readonly lastErrorAt?: string;
  readonly lastSentAt?: string;
}

export interface Delivery {
  readonly store: string;
  /** Figures now (reads the store's stats for the lag). */
  status(): Promise<DeliveryStatus>;
  /** Cut a retry delay short (e.g. the destination reconnected). */
  wake(): void;
  /** Stop reading; resolves after the `deliver` in flight settled. The cursor file stays. */
  stop(): Promise<void>;
  /** Stop, then delete the persisted cursor. */
  remove(): Promise<void>;
}

/** Given to outputs (`OutputContext.deliveries`). */
export interface Deliveries {
  /**
   * Start reading a store. A store that does not exist yet is waited for (the delivery is
   * `retrying` with the reason in `lastError` until the store is created). Rejects with
   * TSS_ERR_BAD_REQUEST for a cursor name that is invalid or already open on that store.
   */
  open(spec: DeliverySpec): Promise<Delivery>;
}

export interface OutputPlugin {
  /** Register routes and open deliveries. */
  start(): Promise<void>;
  /** Stop every delivery and connection; idempotent. */
  stop(): Promise<void>;
  /** Resources this output will claim (known from options alone, before start). */
  resources?(): Resource[];
}
