import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';

export default class Create extends BaseCommand<typeof Create> {
  static override description = 'Create a store and print its API key (shown only once). Works against a running server on the same data path.';
  static override examples = ['<%= config.bin %> create sensors', '<%= config.bin %> create logs --type text --blocks 4096 --data-size 8192'];
  static override args = { name: Args.string({ required: true, description: 'Store name: 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit' }) };
  static override flags = {
    blocks: Flags.integer({ description: 'Number of blocks in the ring (default 1024)', min: 2 }),
    'data-size': Flags.integer({ description: 'Data block size in bytes, a power of two >= 64 (default 4096)' }),
    'index-size': Flags.integer({ description: 'Index block size in bytes, a power of two >= 64 (default 4096)' }),
    type: Flags.string({ description: 'Data type', options: ['json', 'text', 'binary', 'schema'] }),
    pipeline: Flags.string({ description: 'Pipeline the store belongs to (default: main, or the first configured)' }),
    path: Flags.string({ description: 'Data path (default ./data, or TSSTORE_DATA_PATH)' }),
    json: Flags.boolean({ description: 'Print the result as JSON', default: false }),
  };

  async run(): Promise<void> {
    const { flags, args } = this;
    if (flags.path) process.env.TSSTORE_DATA_PATH = flags.path;
    const created = await this.withAdmin((admin) =>
      admin.create(args.name, {
        num_blocks: flags.blocks,
        data_block_size: flags['data-size'],
        index_block_size: flags['index-size'],
        data_type: flags.type,
        pipeline: flags.pipeline,
      }),
    );
    if (flags.json) {
      this.log(JSON.stringify(created));
      return;
    }
    this.log(`Created store "${created.name}".`);
    this.log(`API key: ${created.api_key}`);
    this.log(`Key id:  ${created.key_id}`);
    this.log('Save the API key now: it is not stored and cannot be shown again.');
  }
}
