import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';

export default class SchemaGet extends BaseCommand<typeof SchemaGet> {
  static override description = 'Print a schema store\'s current schema as JSON ({"version","fields"}), ready to edit and pass to `schema set`.';
  static override examples = ['<%= config.bin %> schema get sensors > sensors-schema.json'];
  static override args = { store: Args.string({ required: true, description: 'Store name' }) };

  async run(): Promise<void> {
    const schema = await this.withAdmin((admin) => admin.getSchema(this.args.store));
    this.log(JSON.stringify(schema, null, 2));
  }
}
