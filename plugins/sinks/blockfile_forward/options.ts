/** Options of the `blockfile_forward` sink: the block-file engine's own, plus the `forward` block. */
import Joi from 'joi';
import { blockFileOptionsSchema, type BlockFileOptions } from '../blockfile/options.js';
import { jetStreamKeys, type JetStreamOptions } from '../nats_jetstream/options.js';

export interface ForwardOptions extends JetStreamOptions {
  /** Records read from the ring and published per round (then the cursor is saved). */
  readonly batch: number;
}

export interface BlockFileForwardOptions extends BlockFileOptions {
  readonly forward: ForwardOptions;
}

export const forwardOptionsSchema: Joi.ObjectSchema<ForwardOptions> = Joi.object<ForwardOptions>({
  ...jetStreamKeys,
  batch: Joi.number().integer().min(1).max(100_000).default(1000),
})
  .and('user', 'pass')
  .oxor('token', 'user', 'creds_file');

export const blockFileForwardOptionsSchema: Joi.ObjectSchema<BlockFileForwardOptions> = (blockFileOptionsSchema as Joi.ObjectSchema).keys({
  forward: forwardOptionsSchema.required(),
}) as Joi.ObjectSchema<BlockFileForwardOptions>;
