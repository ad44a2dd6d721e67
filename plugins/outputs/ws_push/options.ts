/** Options of the `ws_push` output (its config block minus `type`). */
import { Joi } from 'tsstore/plugin';

export interface WsPushOptions {
  /** First reconnect delay; it doubles per failure in a row up to `backoff_max_ms` (±20 % jitter). */
  readonly backoff_min_ms: number;
  readonly backoff_max_ms: number;
  /** DNS + TCP + TLS + upgrade must finish within this, else the attempt fails and is retried. */
  readonly handshake_timeout_ms: number;
  /** How often an idle open connection is pinged. */
  readonly ping_interval_ms: number;
  /**
   * The remote must show progress within this: read what was written (send completed) and answer
   * the acknowledging ping after a batch, or a keep-alive ping. Else the connection is cut and redialled.
   */
  readonly ack_timeout_ms: number;
  /** Records read from the store and sent per acknowledged round. */
  readonly batch: number;
  /** Bytes queued on the socket above which sending waits for the remote to read. */
  readonly max_buffered_bytes: number;
  /** Messages from the remote above this close the connection (1009). */
  readonly max_message_size: number;
  readonly max_connections_per_store: number;
}

export const DEFAULT_OPTIONS: WsPushOptions = {
  backoff_min_ms: 1000,
  backoff_max_ms: 60_000,
  handshake_timeout_ms: 10_000,
  ping_interval_ms: 30_000,
  ack_timeout_ms: 30_000,
  batch: 1000,
  max_buffered_bytes: 4 * 1024 * 1024,
  max_message_size: 64 * 1024,
  max_connections_per_store: 64,
};

const ms = (min: number, dflt: number): Joi.NumberSchema => Joi.number().integer().min(min).max(3_600_000).default(dflt);

export const wsPushOptionsSchema: Joi.ObjectSchema<WsPushOptions> = Joi.object<WsPushOptions>({
  backoff_min_ms: ms(1, DEFAULT_OPTIONS.backoff_min_ms),
  backoff_max_ms: Joi.number().integer().min(Joi.ref('backoff_min_ms')).max(3_600_000).default(DEFAULT_OPTIONS.backoff_max_ms),
  handshake_timeout_ms: ms(10, DEFAULT_OPTIONS.handshake_timeout_ms),
  ping_interval_ms: ms(10, DEFAULT_OPTIONS.ping_interval_ms),
  ack_timeout_ms: ms(10, DEFAULT_OPTIONS.ack_timeout_ms),
  batch: Joi.number().integer().min(1).max(100_000).default(DEFAULT_OPTIONS.batch),
  max_buffered_bytes: Joi.number()
    .integer()
    .min(1024)
    .max(1 << 30)
    .default(DEFAULT_OPTIONS.max_buffered_bytes),
  max_message_size: Joi.number()
    .integer()
    .min(64)
    .max(1 << 30)
    .default(DEFAULT_OPTIONS.max_message_size),
  max_connections_per_store: Joi.number().integer().min(1).max(10_000).default(DEFAULT_OPTIONS.max_connections_per_store),
});
