/**
 * The tsstore server: composes config, plugins, the store catalog, the HTTP server and the
 * pipeline, and runs their lifecycle.
 *
 * start: load plugins → plan pipelines (all config problems at once) → lock the data path →
 *        open the sink → attach stores → start inputs → listen → advertise the URL in the lock.
 * stop:  stop listening → stop inputs (they answer what they received) → drain the pipeline →
 *        close the sink → release the lock.
 */
import type { TsstoreConfig } from './config/config-types.js';
import { createLogger } from './core/logger.js';
import { HttpServer } from './http/app.js';
import { registerQueryRoutes } from './http/query-routes.js';
import { registerSchemaRoutes } from './http/schema-routes.js';
import { registerStoreRoutes } from './http/store-routes.js';
import type { Logger } from './plugin/descriptor.js';
import { TssError } from './plugin/errors.js';
import type { InputPlugin } from './plugin/input.js';
import { constructInputs, constructSinkAndStages, planPipelines } from './pipeline/pipeline-builder.js';
import { loadPlugins } from './pipeline/plugin-loader.js';
import type { PluginRegistry } from './pipeline/registry.js';
import { PipelineRunner } from './pipeline/runner.js';
import { DataLock } from './stores/data-lock.js';
import { SchemaService } from './stores/schema-service.js';
import { StoreCatalog } from './stores/store-catalog.js';
import { DEFAULT_STORE_OPTIONS } from './stores/store-options.js';

export const MIN_ADMIN_KEY_LENGTH = 20;

export interface ServerOptions {
  readonly logger?: Logger;
}

export class TsstoreServer {
  private inputs: { id: string; type: string; plugin: InputPlugin }[] = [];
  private stopping?: Promise<void>;

  private constructor(
    readonly config: TsstoreConfig,
    readonly logger: Logger,
    readonly registry: PluginRegistry,
    readonly catalog: StoreCatalog,
    readonly runner: PipelineRunner,
    readonly http: HttpServer,
    private readonly lock: DataLock,
  ) {}

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
    const dataDir = config.store.base_path;
    const { sink, stages } = constructSinkAndStages(plan, { registry, logger, dataDir });

    const lock = DataLock.acquire(dataDir, 'server');
    let server: TsstoreServer | undefined;
    try {
      await sink.open();
      const catalog = new StoreCatalog(dataDir, sink, logger.child({ component: 'catalog' }), {
        ...DEFAULT_STORE_OPTIONS,
        numBlocks: config.store.num_blocks, dataBlockSize: config.store.data_block_size,
        indexBlockSize: config.store.index_block_size, dataType: config.store.data_type,
      });
      await catalog.load();
      const runner = new PipelineRunner(plan.name, stages, sink, catalog, logger.child({ pipeline: plan.name }));
      const http = new HttpServer({ host: config.server.host, port: config.server.port, tls: config.server.tls, wsMaxFrame: config.server.ws_max_frame }, logger.child({ component: 'http' }));
      server = new TsstoreServer(config, logger, registry, catalog, runner, http, lock);
      const deps = { catalog, sinkOf: () => sink, adminKey };
      registerStoreRoutes(http.router, deps);
      registerQueryRoutes(http.router, deps);
      registerSchemaRoutes(http.router, deps, new SchemaService(catalog));
      server.inputs = [...constructInputs(plan, { registry, logger, dataDir, stores: catalog, http: http.host(catalog, adminKey) })];
      for (const input of server.inputs) {
        await input.plugin.start(runner.emit);
        logger.info({ input: input.id, type: input.type }, 'Input started.');
      }
      await http.listen();
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
      await input.plugin.stop().catch((err: Error) => this.logger.error({ input: input.id, err: err.message }, 'Input failed to stop cleanly.'));
    }
    await httpClosed;
    await this.runner.drain();
    await this.runner.sink.close();
    this.lock.release();
    this.logger.info({}, 'Stopped.');
  }
}
