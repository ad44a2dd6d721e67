/** The `blockfile` sink plugin: tsstore's default storage engine (see README.md). */
import { defineSink } from 'tsstore/plugin';
import { BlockFileSink } from './block-file-sink.js';
import { BlockFileOptions, blockFileOptionsSchema } from './options.js';

export const blockfileSink = defineSink<BlockFileOptions>({
  type: 'blockfile',
  description: 'Fixed-footprint circular block-file engine with checksummed records and group commit',
  apiVersion: '^1.0.0',
  options: blockFileOptionsSchema,
  create: (options, ctx) => new BlockFileSink(options, ctx),
});

export default blockfileSink;
export { BlockFileSink } from './block-file-sink.js';
export type { BlockFileOptions, FsyncPolicy } from './options.js';
