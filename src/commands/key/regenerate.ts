import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';

export default class KeyRegenerate extends BaseCommand<typeof KeyRegenerate> {
  static override description = "Replace a store's API keys with a new one and print it once. Older keys stop working at once.";
  static override args = { store: Args.string({ required: true, description: 'Store name' }) };
  static override flags = { json: Flags.boolean({ description: 'Print as JSON', default: false }) };

  async run(): Promise<void> {
    const key = await this.withAdmin((admin) => admin.regenerate(this.args.store));
    if (this.flags.json) {
      this.log(JSON.stringify(key));
      return;
    }
    this.log(`API key: ${key.api_key}`);
    this.log(`Key id:  ${key.key_id}`);
    this.log('Save the API key now: it cannot be shown again. Older keys of this store no longer work.');
  }
}
