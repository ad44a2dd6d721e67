import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';

export default class KeyRevoke extends BaseCommand<typeof KeyRevoke> {
  static override description = 'Revoke one API key of a store by its key id. A running server refuses the key at once.';
  static override examples = ['<%= config.bin %> key revoke sensors 1a2b3c4d'];
  static override args = {
    store: Args.string({ required: true, description: 'Store name' }),
    key_id: Args.string({ required: true, description: 'Key id (the first 8 hex digits of the key, see `key list`)' }),
  };

  async run(): Promise<void> {
    await this.withAdmin((admin) => admin.revoke(this.args.store, this.args.key_id));
    this.log(`Revoked key ${this.args.key_id} of store ${this.args.store}.`);
  }
}
