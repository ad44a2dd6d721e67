import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';

export default class Stores extends BaseCommand<typeof Stores> {
  static override description = 'List the stores (of the running server, or of the data path).';
  static override flags = { json: Flags.boolean({ description: 'Print as JSON', default: false }) };

  async run(): Promise<void> {
    const stores = await this.withAdmin((admin) => admin.list());
    if (this.flags.json) this.log(JSON.stringify({ stores }));
    else if (stores.length === 0) this.log('No stores.');
    else for (const s of stores) this.log(s);
  }
}
