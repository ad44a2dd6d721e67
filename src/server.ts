/**
 * The tsstore server: composes config, plugins, the store catalog, the HTTP server and the
 * pipeline, and runs their lifecycle.
 *
 * start: load plugins → plan pipelines (all config problems at once) → check TLS material →
 *        lock the data path → open the sink → attach stores → start inputs → listen →
 *        advertise the URL in the lock. `/ready` answers 200 from here on.
 * stop:  `/ready` turns 503 → stop listening → stop inputs (they answer what they received) →
 *        drain the pipeline → close the sink → release the lock.
 *
 * Each server has its own metrics registry (src/metrics), so servers in one process never share
 * counters.
 */
import tls from 'node:tls';
import fs from 'node:fs';
import type { TsstoreConfig } from './config/config-types.js';
import { createLogger } from './core/logger.js';
import { ConfigError } from './config/load-config.js';
import { HttpServer } from './http/app.js';
import { registerOpsRoutes } from './http/ops-routes.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import { registerQueryRoutes } from './http/query-routes.js';
import { registerStoreRoutes } from './http/store-routes.js';
import type { Logger } from './plugin/descriptor.js';
import { TssError } from './plugin/errors.js';
import type { InputPlugin } from './plugin/input.js';
import { constructInputs, constructSinkAndStages, planPipelines } from './pipeline/pipeline-builder.js';
import { loadPlugins } from './pipeline/plugin-loader.js';
import type { PluginRegistry } from './pipeline/registry.js';
import { PipelineRunner } from './pipeline/runner.js';
import { DataLock } from './stores/data-lock.js';
import { StoreCatalog } from './stores/store-catalog.js';
import { DEFAULT_STORE_OPTIONS } from './stores/store-options.js';

export const MIN_ADMIN_KEY_LENGTH = 20;

export interface ServerOptions {
  readonly logger?: Logger;
}

/** Reads and parses the TLS certificate and key, so a bad path or PEM stops `serve` at once. */
function checkTls(config: TsstoreConfig): void {
  const t = config.server.tls;
  if (!t) return;
  const problems: { path: string; message: string }[] = [];
  const read = (file: string, what: string, at: string): Buffer | undefined => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      problems.push({ path: at, message: `cannot read the TLS ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return undefined;
    }
  };
  const cert = read(t.cert, 'certificate', 'server.tls.cert');
  const key = read(t.key, 'key', 'server.tls.key');
  if (cert && key) {
    try {
      tls.createSecureContext({ cert, key });
    } catch (err) {
      problems.push({ path: 'server.tls', message: `the certificate ${t.cert} and key ${t.key} are not a usable PEM pair: ${(err as Error).message}` });
    }
  }
  if (problems.length) throw new ConfigError(problems, config.source.file);
}

export class TsstoreServer {
  private inputs: { id: string; type: string; plugin: InputPlugin }[] = [];
  private stopping?: Promise<void>;
  private sinkOpen = false;
  private inputsStarted = false;

  private constructor(
    readonly config: TsstoreConfig,
    readonly logger: Logger,
    readonly registry: PluginRegistry,
    readonly catalog: StoreCatalog,
    readonly runner: PipelineRunner,
    readonly http: HttpServer,
    private readonly lock: DataLock,
    readonly metrics: ServerMetrics,
  ) {}

  /** Why `/ready` answers 503; empty when the server is ready. */
  notReady(): string[] {
    const reasons: string[] = [];
    if (this.stopping) reasons.push('server is shutting down');
    const sink = this.runner.sink;
    if (!(sink.isOpen ? sink.isOpen() : this.sinkOpen)) reasons.push('sink is not open');
    if (!this.inputsStarted) reasons.push('inputs are not started');
    if (!this.runner.accepting) reasons.push('pipeline is not accepting records');
    return reasons;
  }

  get url(): string { return this.http.url; }
  get port(): number { return this.http.port; }

  static async start(config: TsstoreConfig, options: ServerOptions = {}): Promise<TsstoreServer> {
    const adminKey = config.server.admin_key;
    if (!adminKey || adminKey.length < MIN_ADMIN_KEY_LENGTH) {
      throw new TssError('TSS_ERR_ADMIN_KEY_REQUIRED', `an admin key of at least ${MIN_ADMIN_KEY_LENGTH} characters is required: set TSSTORE_ADMIN_KEY or server.admin_key in the config${adminKey ? ` (the one given has ${adminKey.length})` : ''}`);
    }
    const logger = options.logger ?? createLogger(config.log.level);
    const registry = loadPlugins(config.plugins, config.source.dir);
    const [plan] = planPipelines(config, registry);
    checkTls(config);
    const dataDir = config.store.base_path;
    const metrics = new ServerMetrics();
    const pluginMetrics = metrics.plugin.bind(metrics);
    const { sink, stages } = constructSinkAndStages(plan, { registry, logger, dataDir, metrics: pluginMetrics });

    const lock = DataLock.acquire(dataDir, 'server');
    let server: TsstoreServer | undefined;
    try {
      await sink.open();
      logger.info({ sink: plan.sink.id, type: plan.sink.type }, 'Sink opened.');
      const catalog = new StoreCatalog(dataDir, sink, logger.child({ component: 'catalog' }), {
        ...DEFAULT_STORE_OPTIONS,
        numBlocks: config.store.num_blocks, dataBlockSize: config.store.data_block_size,
        indexBlockSize: config.store.index_block_size, dataType: config.store.data_type,
      });
      await catalog.load();
      const runner = new PipelineRunner(plan.name, stages, sink, catalog, logger.child({ pipeline: plan.name }), metrics.pipeline(plan.name));
      const http = new HttpServer({
        host: config.server.host, port: config.server.port, tls: config.server.tls, wsMaxFrame: config.server.ws_max_frame,
        onError: (code) => metrics.httpError(code),
      }, logger.child({ component: 'http' }));
      server = new TsstoreServer(config, logger, registry, catalog, runner, http, lock, metrics);
      server.sinkOpen = true;
      const self = server;
      metrics.watchStores({ list: () => catalog.list(), stats: (store) => sink.stats(store) });
      metrics.scrapeGauge('tsstore_http_open_connections', 'Open client connections on the HTTP(S) port (keep-alive and WebSocket).', () => http.connections);
      metrics.scrapeGauge('tsstore_ready', '1 when /ready answers 200, else 0.', () => (self.notReady().length === 0 ? 1 : 0));
      registerOpsRoutes(http.router, { metrics, notReady: () => self.notReady() });
      const deps = { catalog, sinkOf: () => sink, adminKey };
      registerStoreRoutes(http.router, deps);
      registerQueryRoutes(http.router, deps);
      server.inputs = [...constructInputs(plan, { registry, logger, dataDir, stores: catalog, http: http.host(catalog, adminKey), metrics: pluginMetrics })];
      for (const input of server.inputs) {
        await input.plugin.start(runner.emit);
        logger.info({ input: input.id, type: input.type }, 'Input started.');
      }
      await http.listen();
      server.inputsStarted = true;
      lock.advertise(http.url);
      logger.info({ url: http.url, dataDir, stores: catalog.list().length, tls: Boolean(config.server.tls) }, 'tsstore is serving.');
      return server;
    } catch (err) {
      if (server) await server.stop().catch(() => undefined);
      else { await sink.close().catch(() => undefined); lock.release(); }
      throw err;
    }
  }

  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.logger.info({}, 'Stopping: no new connections; finishing what was received.');
    const httpClosed = this.http.close();
    for (const input of [...this.inputs].reverse()) {
      await input.plugin.stop().then(
        () => this.logger.info({ input: input.id, type: input.type }, 'Input stopped.'),
        (err: Error) => this.logger.error({ input: input.id, err: err.message }, 'Input failed to stop cleanly.'),
      );
    }
    await httpClosed;
    await this.runner.drain();
    this.sinkOpen = false;
    await this.runner.sink.close();
    this.logger.info({}, 'Sink closed.');
    this.lock.release();
    this.logger.info({}, 'Stopped.');
  }
}
