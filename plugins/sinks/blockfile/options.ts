/** Options of the `blockfile` sink (its config block minus `type`). */
import Joi from 'joi';

export type FsyncPolicy = 'always' | 'batch' | 'interval' | 'never';

export interface BlockFileOptions {
  /** When acknowledged records are forced to stable storage (README.md, "Durability"). */
  readonly fsync: FsyncPolicy;
  /** Period of the background fsync under `fsync: interval`. */
  readonly fsync_interval_ms: number;
  /** Upper bound of one group commit's write, in bytes (a larger single record still goes alone). */
  readonly max_flush_bytes: number;
  /** Keep a checkpoint of the block index so an open reads it instead of the whole data file. */
  readonly checkpoint: boolean;
  /** Write a checkpoint after this many bytes were written since the last one. */
  readonly checkpoint_bytes: number;
  /** Or after this many milliseconds, when anything was written since the last one. */
  readonly checkpoint_interval_ms: number;
}

export const DEFAULT_OPTIONS: BlockFileOptions = {
  fsync: 'batch',
  fsync_interval_ms: 1000,
  max_flush_bytes: 2 << 20,
  checkpoint: true,
  checkpoint_bytes: 64 << 20,
  checkpoint_interval_ms: 30_000,
};

export const blockFileOptionsSchema: Joi.ObjectSchema<BlockFileOptions> = Joi.object<BlockFileOptions>({
  fsync: Joi.string().valid('always', 'batch', 'interval', 'never').default(DEFAULT_OPTIONS.fsync),
  fsync_interval_ms: Joi.number().integer().min(1).max(3_600_000).default(DEFAULT_OPTIONS.fsync_interval_ms),
  max_flush_bytes: Joi.number()
    .integer()
    .min(4096)
    .max(256 << 20)
    .default(DEFAULT_OPTIONS.max_flush_bytes),
  checkpoint: Joi.boolean().default(DEFAULT_OPTIONS.checkpoint),
  checkpoint_bytes: Joi.number()
    .integer()
    .min(1)
    .max(2 ** 40)
    .default(DEFAULT_OPTIONS.checkpoint_bytes),
  checkpoint_interval_ms: Joi.number().integer().min(10).max(86_400_000).default(DEFAULT_OPTIONS.checkpoint_interval_ms),
});
