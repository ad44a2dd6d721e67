import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { readConfig } from '../config/load-config.js';
import { loadPluginsChecked } from '../pipeline/plugin-loader.js';

export default class Plugins extends BaseCommand<typeof Plugins> {
  static override description = "List the loaded plugins (built-ins and the packages named in the config's `plugins:`) with kind, type, package and version.";
  static override flags = { json: Flags.boolean({ description: 'Print as JSON', default: false }) };

  async run(): Promise<void> {
    const { config } = await readConfig({ file: this.flags.config });
    const { registry, problems, warnings } = await loadPluginsChecked(config.plugins, config.source.dir);
    const rows = registry.list().map((p) => ({
      kind: p.descriptor.kind,
      type: p.descriptor.type,
      package: p.source.package,
      version: p.source.version ?? '',
      ...(p.source.from ? { from: p.source.from } : {}),
      description: p.descriptor.description,
    }));
    if (this.flags.json) {
      this.log(JSON.stringify({ plugins: rows, problems }));
    } else {
      const head = ['KIND', 'TYPE', 'PACKAGE', 'VERSION', 'FROM'];
      const cells = rows.map((r) => [r.kind, r.type, r.package, r.version, r.from ?? '(built-in)']);
      const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
      for (const line of [head, ...cells])
        this.log(
          line
            .map((c, i) => c.padEnd(widths[i]))
            .join('  ')
            .trimEnd(),
        );
    }
    for (const w of warnings) this.logToStderr(`Warning: ${w}`);
    if (problems.length) {
      for (const p of problems) this.logToStderr(`Error: ${p.path}: ${p.message}`);
      this.exit(2);
    }
  }
}
