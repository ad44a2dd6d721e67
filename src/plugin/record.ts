/**
 * Records as they travel from an input, through the stages, into a sink.
 *
 * Timestamps are always `bigint` nanoseconds since the Unix epoch: they exceed 2^53 and a
 * `number` would silently round them.
 */
import type { Rejection } from './errors.js';

/** The data types a store can hold (docs/protocol.md, "The envelope"). */
export type DataType = 'json' | 'text' | 'binary' | 'schema';

/**
 * How `payload` is encoded.
 * - `json`: the UTF-8 source text of one JSON value, exactly as the client sent it (for a json
 *   store these bytes are what gets stored, byte for byte).
 * - `raw`: the record's bytes themselves (a REST text/plain or octet-stream body).
 */
export type PayloadFormat = 'json' | 'raw';

/** For schema stores: whether `data` names fields (`full`) or uses field indices (`compact`). */
export type SchemaFormat = 'full' | 'compact';

/** Where a record came from; used for logs and metrics only, never for decisions. */
export interface RecordOrigin {
  /** The input instance id (its key in the pipeline config, e.g. `api`). */
  readonly input: string;
  /** The remote peer, when the input knows one. */
  readonly remote?: string;
}

/**
 * One record as an input emits it. Inputs fill in exactly what the client sent; stages validate
 * and shape it; the sink assigns the timestamp when `timestamp` is undefined.
 */
export interface IngestRecord {
  /** Target store name (already authenticated by the input). */
  readonly store: string;
  /** Client timestamp; `undefined` (or 0n, normalised by the input decoder) means "now". */
  timestamp?: bigint;
  /** The record's data, encoded as `format` says. Stages may replace it. */
  payload: Buffer;
  /** Encoding of `payload`. Stages may change it (e.g. text decoded to `raw`). */
  format: PayloadFormat;
  /**
   * The already-parsed value of a `json` payload, when the input had to parse it anyway (an
   * envelope). Numbers in it may be rounded: use it for shape checks, never for stored values.
   * `undefined` means "not parsed yet" (stages parse when they need to).
   */
  parsed?: unknown;
  /**
   * True when a `json` payload is already known to be one valid JSON value in valid UTF-8 — a
   * payload from `decodeEnvelope` is (its strict pass checked the data while finding it), so the
   * validate stage does not scan it again. A stage that replaces `payload` must set this anew.
   */
  wellFormed?: boolean;
  /** Schema stores only: field names (`full`, default) or indices (`compact`). */
  schemaFormat?: SchemaFormat;
  readonly origin: RecordOrigin;
}

/** Successful write of one record. */
export interface Accepted {
  readonly ok: true;
  readonly timestamp: bigint;
  /** Block where the record starts (sink-specific meaning; 0 where blocks do not exist). */
  readonly blockNum: number;
  /** Stored size in bytes of the record's data. */
  readonly size: number;
}

/** The outcome for one record: accepted (durable per the sink's policy) or rejected. */
export type RecordResult = Accepted | Rejection;

/** A stored record as reads return it. */
export interface StoredRecord {
  readonly timestamp: bigint;
  readonly blockNum: number;
  readonly size: number;
  /** The stored bytes; present when the read asked for data. */
  readonly data?: Buffer;
}
