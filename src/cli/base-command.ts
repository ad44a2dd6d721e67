/** Shared flags and error handling for every tsstore command. */
import { Command, Flags, type Interfaces } from '@oclif/core';
import type { TsstoreConfig } from '../config/config-types.js';
import { ConfigError, loadConfig, type LoadOptions } from '../config/load-config.js';
import { isTssError } from '../plugin/errors.js';
import { AdminError, openStoreAdmin, type StoreAdmin } from './store-admin.js';

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    config: Flags.string({
      char: 'c',
      description: 'Config file (default: search for tsstore.config.{json,yaml,yml,js}, .tsstorerc*, package.json "tsstore"; or TSSTORE_CONFIG)',
      helpGroup: 'GLOBAL',
    }),
  };

  protected flags!: Interfaces.InferredFlags<T['flags'] & (typeof BaseCommand)['baseFlags']>;
  protected args!: Interfaces.InferredArgs<T['args']>;

  public override async init(): Promise<void> {
    await super.init();
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as typeof this.flags;
    this.args = args as typeof this.args;
  }

  protected async loadConfig(flags: LoadOptions['flags'] = {}): Promise<TsstoreConfig> {
    return loadConfig({ file: this.flags.config, flags });
  }

  /** Runs `fn` against the running server or the data path, releasing it afterwards. */
  protected async withAdmin<R>(fn: (admin: StoreAdmin) => Promise<R>): Promise<R> {
    const admin = await openStoreAdmin(await this.loadConfig(), this.id ?? 'cli');
    try {
      return await fn(admin);
    } finally {
      await admin.close();
    }
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof ConfigError || isTssError(err) || err instanceof AdminError) {
      this.logToStderr(`Error: ${err.message}`);
      this.exit(2);
    }
    return super.catch(err);
  }
}
