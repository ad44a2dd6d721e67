/** The `blockfile_forward` sink plugin: block-file ring locally, drained to NATS JetStream (see README.md). */
import { defineSink } from 'tsstore/plugin';
import { BlockFileForwardSink } from './forwarding-sink.js';
import { BlockFileForwardOptions, blockFileForwardOptionsSchema } from './options.js';

export const blockfileForwardSink = defineSink<BlockFileForwardOptions>({
  type: 'blockfile_forward',
  description: 'Store-and-forward: records are acknowledged once in the local block-file ring and forwarded to NATS JetStream from a persisted cursor',
  apiVersion: '^1.0.0',
  options: blockFileForwardOptionsSchema,
  create: (options, ctx) => new BlockFileForwardSink(options, ctx),
});

export default blockfileForwardSink;
export { BlockFileForwardSink } from './forwarding-sink.js';
export type { BlockFileForwardOptions, ForwardOptions } from './options.js';
