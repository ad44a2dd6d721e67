import { BaseCommand } from '../../cli/base-command.js';
import { ConfigError } from '../../config/load-config.js';
import { effectiveConfig } from '../../pipeline/effective-config.js';
import { checkConfig } from '../../pipeline/check-config.js';
import { planPipelines } from '../../pipeline/pipeline-builder.js';

export default class ConfigPrint extends BaseCommand<typeof ConfigPrint> {
  static override description =
    'Print the effective configuration as JSON: built-in defaults, the config file, TSSTORE_* environment overrides and plugin option defaults applied; secrets masked.';
  static override examples = ['<%= config.bin %> config print', 'TSSTORE_PORT=8080 <%= config.bin %> config print --config ./tsstore.config.yaml'];

  async run(): Promise<void> {
    const { config, registry, problems } = await checkConfig({ file: this.flags.config });
    if (problems.length) throw new ConfigError(problems, config.source.file);
    this.logToStderr(`# effective configuration from ${config.source.file ?? 'built-in defaults (no config file found)'}`);
    this.log(JSON.stringify(effectiveConfig(config, planPipelines(config, registry)), null, 2));
  }
}
