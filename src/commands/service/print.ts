import fs from 'node:fs';
import path from 'node:path';
import { Command, Flags } from '@oclif/core';
import { systemdUnit } from '../../cli/systemd-unit.js';

export default class ServicePrint extends Command {
  static override description =
    'Print a systemd unit that runs this tsstore as a service: an unprivileged user, the socket in /run/tsstore, data in /var/lib/tsstore, the admin key from an environment file, restart on failure.';
  static override examples = [
    '<%= config.bin %> service print | sudo tee /etc/systemd/system/tsstore.service',
    '<%= config.bin %> service print --user edge --config /etc/tsstore/tsstore.config.yaml',
  ];
  static override flags = {
    user: Flags.string({ description: 'User the service runs as (create it: useradd --system tsstore)', default: 'tsstore' }),
    group: Flags.string({ description: 'Group of the service (default: the user); its members may use the Unix socket' }),
    name: Flags.string({ description: 'Directory name under /run and /var/lib', default: 'tsstore' }),
    // Not --env-file: Node 20 reads --env-file from anywhere in its argv, the script's arguments included.
    'environment-file': Flags.string({ description: 'Environment file with TSSTORE_ADMIN_KEY=… (mode 0600)', default: '/etc/tsstore/tsstore.env' }),
    config: Flags.string({ char: 'c', description: 'Config file for `serve --config` (absolute path)' }),
    'memory-max': Flags.string({ description: 'MemoryMax= of the service', default: '512M' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ServicePrint);
    const script = fs.realpathSync(path.join(this.config.root, 'bin', 'run.js'));
    try {
      this.log(
        systemdUnit({
          node: process.execPath,
          script,
          user: flags.user,
          group: flags.group ?? flags.user,
          name: flags.name,
          envFile: flags['environment-file'],
          config: flags.config && path.resolve(flags.config),
          memoryMax: flags['memory-max'],
        }).trimEnd(),
      );
    } catch (err) {
      this.error((err as Error).message, { exit: 2 });
    }
  }
}
