import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { stringifyExact } from '../core/json/index.js';

export default class Stats extends BaseCommand<typeof Stats> {
  static override description = "Show a store's figures: records, bytes, time span, fill.";
  static override args = { store: Args.string({ required: true, description: 'Store name' }) };
  static override flags = { json: Flags.boolean({ description: 'Print as JSON', default: false }) };

  async run(): Promise<void> {
    const stats = await this.withAdmin((admin) => admin.stats(this.args.store));
    if (this.flags.json) {
      this.log(stringifyExact(stats));
      return;
    }
    const width = Math.max(...Object.keys(stats).map((k) => k.length));
    for (const [k, v] of Object.entries(stats)) this.log(`${k.padEnd(width)}  ${v === null || v === undefined ? '-' : String(v)}`);
  }
}
