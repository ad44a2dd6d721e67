/** Options of the `ws_pull` input (its config block minus `type`). */
import Joi from 'joi';

export interface WsPullOptions {
  /** Query parameter that carries the resume cursor on (re)dial; empty: never sent. */
  readonly resume_param: string;
  /** First reconnect delay; it doubles per failed attempt up to `backoff_max_ms` (±20 % jitter). */
  readonly backoff_min_ms: number;
  readonly backoff_max_ms: number;
  /** How often an open connection is pinged. */
  readonly ping_interval_ms: number;
  /** A ping not answered (by a pong or any message) within this is a dead peer: redial. */
  readonly pong_timeout_ms: number;
  /** DNS + TCP + TLS + upgrade must finish within this, else the attempt fails and is retried. */
  readonly handshake_timeout_ms: number;
  /** Larger messages are counted as errors and skipped; the connection stays. */
  readonly max_message_size: number;
  /** Frames above this make the ws library close the connection (1009); it is redialled. */
  readonly max_frame_size: number;
  /** Most records (and bytes) handed to the pipeline in one emit. */
  readonly batch_max_records: number;
  readonly batch_max_bytes: number;
  /** Messages (or bytes) queued while an emit is outstanding before the socket stops being read. */
  readonly max_pending_messages: number;
  readonly max_pending_bytes: number;
  /** Cursor writes to connections.json are coalesced to at most one per this interval. */
  readonly persist_interval_ms: number;
  readonly max_connections_per_store: number;
}

export const DEFAULT_OPTIONS: WsPullOptions = {
  resume_param: 'from',
  backoff_min_ms: 1000,
  backoff_max_ms: 60_000,
  ping_interval_ms: 30_000,
  pong_timeout_ms: 10_000,
  handshake_timeout_ms: 10_000,
  max_message_size: 1024 * 1024,
  max_frame_size: 64 * 1024 * 1024,
  batch_max_records: 4000,
  batch_max_bytes: 4 * 1024 * 1024,
  max_pending_messages: 16_000,
  max_pending_bytes: 16 * 1024 * 1024,
  persist_interval_ms: 1000,
  max_connections_per_store: 64,
};

const ms = (min: number, max: number, dflt: number): Joi.NumberSchema => Joi.number().integer().min(min).max(max).default(dflt);

export const wsPullOptionsSchema: Joi.ObjectSchema<WsPullOptions> = Joi.object<WsPullOptions>({
  resume_param: Joi.string()
    .allow('')
    .pattern(/^[A-Za-z0-9_.~-]+$/)
    .default(DEFAULT_OPTIONS.resume_param),
  backoff_min_ms: ms(1, 3_600_000, DEFAULT_OPTIONS.backoff_min_ms),
  backoff_max_ms: Joi.number().integer().min(Joi.ref('backoff_min_ms')).max(3_600_000).default(DEFAULT_OPTIONS.backoff_max_ms),
  ping_interval_ms: ms(10, 3_600_000, DEFAULT_OPTIONS.ping_interval_ms),
  pong_timeout_ms: ms(10, 3_600_000, DEFAULT_OPTIONS.pong_timeout_ms),
  handshake_timeout_ms: ms(10, 3_600_000, DEFAULT_OPTIONS.handshake_timeout_ms),
  max_message_size: Joi.number()
    .integer()
    .min(64)
    .max(1 << 30)
    .default(DEFAULT_OPTIONS.max_message_size),
  max_frame_size: Joi.number()
    .integer()
    .min(Joi.ref('max_message_size'))
    .max(1 << 30)
    .default(DEFAULT_OPTIONS.max_frame_size),
  batch_max_records: Joi.number().integer().min(1).max(100_000).default(DEFAULT_OPTIONS.batch_max_records),
  batch_max_bytes: Joi.number()
    .integer()
    .min(1024)
    .max(1 << 30)
    .default(DEFAULT_OPTIONS.batch_max_bytes),
  max_pending_messages: Joi.number().integer().min(1).max(1_000_000).default(DEFAULT_OPTIONS.max_pending_messages),
  max_pending_bytes: Joi.number()
    .integer()
    .min(1024)
    .max(1 << 30)
    .default(DEFAULT_OPTIONS.max_pending_bytes),
  persist_interval_ms: ms(0, 3_600_000, DEFAULT_OPTIONS.persist_interval_ms),
  max_connections_per_store: Joi.number().integer().min(1).max(10_000).default(DEFAULT_OPTIONS.max_connections_per_store),
});
