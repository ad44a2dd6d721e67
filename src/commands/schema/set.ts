import fs from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { TssError } from '../../plugin/errors.js';

export default class SchemaSet extends BaseCommand<typeof SchemaSet> {
  static override description =
    'Set a schema store\'s schema from a JSON file ({"fields":[{"index","name","type"}, ...]}). Schemas are append-only: a new version may only add fields with new indices. Works against a running server on the same data path.';
  static override examples = ['<%= config.bin %> schema set sensors sensors-schema.json'];
  static override args = {
    store: Args.string({ required: true, description: 'Store name (created with --type schema)' }),
    file: Args.string({ required: true, description: 'JSON file with the schema; - reads standard input' }),
  };
  static override flags = { json: Flags.boolean({ description: 'Print the resulting schema as JSON', default: false }) };

  async run(): Promise<void> {
    const { store, file } = this.args;
    let text: string;
    try {
      text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw new TssError('TSS_ERR_SCHEMA_INVALID', `cannot read schema file ${file}: ${(err as Error).message}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new TssError('TSS_ERR_SCHEMA_INVALID', `schema file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    const schema = await this.withAdmin((admin) => admin.setSchema(store, body));
    if (this.flags.json) {
      this.log(JSON.stringify(schema));
      return;
    }
    this.log(`Schema of store "${store}" is version ${schema.version} with ${schema.fields.length} field${schema.fields.length === 1 ? '' : 's'}.`);
  }
}
