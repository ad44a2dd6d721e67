import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';

export default class Reset extends BaseCommand<typeof Reset> {
  static override description = 'Empty a store for good (its keys and settings stay).';
  static override args = { store: Args.string({ required: true, description: 'Store name' }) };
  static override flags = { yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation (required when not on a terminal)', default: false }) };

  async run(): Promise<void> {
    if (!this.flags.yes) this.error(`refusing to reset store ${this.args.store} without --yes`, { exit: 2 });
    await this.withAdmin((admin) => admin.reset(this.args.store));
    this.log(`Reset store ${this.args.store}.`);
  }
}
