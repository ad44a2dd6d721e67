import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';

export default class Delete extends BaseCommand<typeof Delete> {
  static override description = 'Delete a store and all its data.';
  static override args = { store: Args.string({ required: true, description: 'Store name' }) };
  static override flags = { yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation (required when not on a terminal)', default: false }) };

  async run(): Promise<void> {
    if (!this.flags.yes) this.error(`refusing to delete store ${this.args.store} without --yes`, { exit: 2 });
    await this.withAdmin((admin) => admin.remove(this.args.store));
    this.log(`Deleted store ${this.args.store}.`);
  }
}
