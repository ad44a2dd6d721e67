import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { checkConfig } from '../../pipeline/check-config.js';

export default class ConfigValidate extends BaseCommand<typeof ConfigValidate> {
  static override description =
    'Check a config file (plugins, pipelines, options, port and socket claims) without starting anything; prints every problem with its path, or "ok".';
  static override examples = ['<%= config.bin %> config validate ./tsstore.config.yaml', '<%= config.bin %> config validate'];
  static override args = { file: Args.string({ required: false, description: 'Config file (default: --config, TSSTORE_CONFIG, or the usual search)' }) };

  async run(): Promise<void> {
    const { config, problems, warnings } = await checkConfig({ file: this.args.file ?? this.flags.config });
    for (const w of warnings) this.logToStderr(`Warning: ${w}`);
    if (problems.length === 0) {
      this.log('ok');
      return;
    }
    this.log(`invalid configuration${config.source.file ? ` in ${config.source.file}` : ''}: ${problems.length} problem${problems.length > 1 ? 's' : ''}`);
    for (const p of problems) this.log(`  - ${p.path}: ${p.message}`);
    this.exit(1);
  }
}
