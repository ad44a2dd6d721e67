import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { ConfigError } from '../config/load-config.js';
import { checkConfig } from '../pipeline/check-config.js';
import { startupSummary } from '../cli/startup-summary.js';
import { TsstoreServer } from '../server.js';

export default class Serve extends BaseCommand<typeof Serve> {
  static override description = 'Run the tsstore server: REST, WebSocket and Unix-socket inputs into the configured pipeline.';
  static override examples = [
    'TSSTORE_ADMIN_KEY=change-me-to-20-chars-or-more <%= config.bin %> serve',
    '<%= config.bin %> serve --socket /tmp/tsstore.sock --port 8080',
    '<%= config.bin %> serve --no-socket --config ./tsstore.config.yaml',
    '<%= config.bin %> serve --path /var/lib/tsstore',
    '<%= config.bin %> serve --tls-cert /etc/tsstore/cert.pem --tls-key /etc/tsstore/key.pem',
  ];
  static override flags = {
    socket: Flags.string({ description: 'Unix socket path (default /var/run/tsstore/tsstore.sock, or TSSTORE_SOCKET_PATH)', exclusive: ['no-socket'] }),
    'no-socket': Flags.boolean({ description: 'Do not listen on a Unix socket', default: false }),
    port: Flags.integer({ char: 'p', description: 'HTTP port (default 21080, or TSSTORE_PORT)', min: 0, max: 65535 }),
    host: Flags.string({ description: 'HTTP listen address (default 0.0.0.0, or TSSTORE_HOST)' }),
    'log-level': Flags.string({
      description: 'Log level (default info, or TSSTORE_LOG_LEVEL, or log.level)',
      options: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    }),
    'log-format': Flags.string({
      description: 'Log lines as JSON or readable (default auto: pretty on a terminal, else JSON; or TSSTORE_LOG_FORMAT, or log.format)',
      options: ['auto', 'json', 'pretty'],
    }),
    'tls-cert': Flags.string({
      description: 'TLS certificate (PEM): serve HTTPS and WSS on the port (or TSSTORE_TLS_CERT, server.tls.cert)',
      dependsOn: ['tls-key'],
    }),
    path: Flags.string({ description: 'Data path (default ./data, or TSSTORE_DATA_PATH, or store.base_path)' }),
    'tls-key': Flags.string({ description: 'TLS private key (PEM) for --tls-cert (or TSSTORE_TLS_KEY, server.tls.key)', dependsOn: ['tls-cert'] }),
  };

  async run(): Promise<void> {
    const { flags } = this;
    // The whole config is checked first, so a bad one is refused with every problem at once.
    const { config, problems } = await checkConfig({
      file: this.flags.config,
      flags: {
        socketPath: flags['no-socket'] ? null : flags.socket,
        port: flags.port,
        host: flags.host,
        logLevel: flags['log-level'],
        logFormat: flags['log-format'] as 'auto' | 'json' | 'pretty' | undefined,
        tlsCert: flags['tls-cert'],
        tlsKey: flags['tls-key'],
        dataPath: flags.path,
      },
    });
    if (problems.length) throw new ConfigError(problems, config.source.file);
    // Listen for signals before starting: a SIGTERM during startup must not kill the process
    // with the default action; it stops the server as soon as it is up.
    let signalled: NodeJS.Signals | undefined;
    let onStarted: (() => void) | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      signalled = signal;
      onStarted?.();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    let server: TsstoreServer;
    try {
      server = await TsstoreServer.start(config);
    } catch (err) {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      throw err;
    }
    // A person at a terminal gets a few lines saying where it listens and what it runs.
    if (process.stdout.isTTY && !signalled) process.stdout.write(startupSummary(server, this.config.version));
    if (!signalled)
      await new Promise<void>((resolve) => {
        onStarted = resolve;
      });
    server.logger.info({ signal: signalled }, 'Signal received; shutting down.');
    try {
      await server.stop();
    } catch (err) {
      server.logger.error({ err: (err as Error).message }, 'Shutdown failed.');
      process.exitCode = 1;
    }
  }
}
