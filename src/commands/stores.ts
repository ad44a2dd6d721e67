import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';

export default class Stores extends BaseCommand<typeof Stores> {
  static override description = `List the stores (of the running server, or of the data path).

Reads no store data: stores whose data is closed are listed from their side files. Stores that cannot serve (damaged files) follow, marked "unavailable" with the reason.`;
  static override flags = { json: Flags.boolean({ description: 'Print as JSON', default: false }) };

  async run(): Promise<void> {
    const { stores, unavailable } = await this.withAdmin(async (admin) => ({ stores: await admin.list(), unavailable: await admin.unavailable() }));
    if (this.flags.json) this.log(JSON.stringify(unavailable.length ? { stores, unavailable } : { stores }));
    else if (stores.length === 0 && unavailable.length === 0) this.log('No stores.');
    else {
      const why = new Map(unavailable.map((p) => [p.store, p.error]));
      for (const s of [...new Set([...stores, ...why.keys()])].sort()) this.log(why.has(s) ? `${s}  (unavailable: ${why.get(s)})` : s);
    }
  }
}
