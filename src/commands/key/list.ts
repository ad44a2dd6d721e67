import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';

export default class KeyList extends BaseCommand<typeof KeyList> {
  static override description = "List a store's API keys by id (keys themselves are never stored).";
  static override args = { store: Args.string({ required: true, description: 'Store name' }) };
  static override flags = { json: Flags.boolean({ description: 'Print as JSON', default: false }) };

  async run(): Promise<void> {
    const keys = await this.withAdmin((admin) => admin.keys(this.args.store));
    if (this.flags.json) this.log(JSON.stringify({ keys }));
    else if (keys.length === 0) this.log(`Store ${this.args.store} has no keys.`);
    else for (const k of keys) this.log(`${k.key_id}  created ${k.created_at}`);
  }
}
