import { Command } from '@oclif/core';
import { PLUGIN_API_VERSION } from '../plugin/descriptor.js';

export default class Version extends Command {
  static override description = 'Print the tsstore version, plugin API version and Node.js version.';

  async run(): Promise<void> {
    this.log(`tsstore ${this.config.version} (plugin API ${PLUGIN_API_VERSION}, node ${process.version}, ${process.platform}-${process.arch})`);
  }
}
