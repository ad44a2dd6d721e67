/**
 * The tsstore server's lifecycle. Its parts (metrics, pipelines, lock, catalog, schema service,
 * runners, HTTP server) are put together in src/server/compose.ts, one container per server;
 * this file opens, starts and stops them in order.
 *
 * start: load plugins → build every pipeline (plan + construct, no I/O; all config problems at
 *        once, resource conflicts included) → lock the data path → open the sinks → load the
 *        store catalog (side files only: a store's data opens at its first use, at most
 *        `store.max_open` at once) → start outputs → start inputs → listen → advertise the URL
 *        in the lock.
 *        `/ready` answers 200 from here on (listing damaged stores, which never stop the server).
 * stop:  `/ready` turns 503 → stop listening → stop inputs (they answer what they received) and
 *        outputs (their deliveries finish the batch in flight) →
 *        drain the pipelines → close every open store (writing its summary) → close the sinks →
 *        release the lock.
 *
 * Several pipelines: each has its runner and sink; a store belongs to one pipeline (store.json
 * `pipeline`, default `main` or the first); inputs emit into their own pipeline's runner. With one
 * pipeline (the default) the runner skips the ownership check altogether.
 *
 * Each server has its own metrics registry (src/metrics), so servers in one process never share
 * counters. TLS material is read and checked before anything starts.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import type { TsstoreConfig } from './config/config-types.js';
import { createLogger } from './core/logger.js';
import { checkAdminKey, ConfigError } from './config/load-config.js';
import type { HttpServer } from './http/app.js';
import { composeServer } from './server/compose.js';
import { TOKENS } from './tokens.js';
import type { DependencyContainer } from './di.js';
import { registerOpsRoutes } from './http/ops-routes.js';
import type { ServerMetrics } from './metrics/server-metrics.js';
import { registerQueryRoutes } from './http/query-routes.js';
import { registerSchemaRoutes } from './http/schema-routes.js';
import { registerStoreRoutes } from './http/store-routes.js';
import type { Logger } from './plugin/descriptor.js';
import { TssError } from './plugin/errors.js';
import type { Resource } from './plugin/input.js';
import type { Sink } from './plugin/sink.js';
import type { BuiltInput, BuiltOutput, BuiltPipeline, InputBinding } from './pipeline/pipeline-builder.js';
import { DeliveryHost } from './stores/delivery-host.js';
import type { PluginRegistry } from './pipeline/registry.js';
import { loadPlugins } from './pipeline/plugin-loader.js';
import type { PipelineRunner } from './pipeline/runner.js';
import type { DataLock } from './stores/data-lock.js';
import type { SchemaService } from './stores/schema-service.js';
import type { StoreCatalog } from './stores/store-catalog.js';

export const MIN_ADMIN_KEY_LENGTH = 20;

export interface ServerOptions {
  readonly logger?: Logger;
  /**
   * Called with the server's container (src/server/compose.ts) before any part is built: register
   * a value or factory for a token to swap that part (tests, embedding).
   */
  readonly compose?: (container: DependencyContainer) => void;
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

/** What a started server runs, for people (the startup summary of `serve`). */
export interface ServerLayout {
  readonly pipelines: readonly {
    readonly name: string;
    readonly inputs: readonly { readonly id: string; readonly type: string; readonly resources: readonly Resource[] }[];
    readonly stages: readonly string[];
    readonly sink: string;
    readonly outputs: readonly { readonly id: string; readonly type: string }[];
  }[];
}

export class TsstoreServer {
  private inputs: BuiltInput[] = [];
  private outputs: BuiltOutput[] = [];
  /** Every delivery of the outputs (reading stores from cursors). */
  deliveries?: DeliveryHost;
  /** Set once the server is started. */
  layout: ServerLayout = { pipelines: [] };
  private stopping?: Promise<void>;
  private sinksOpen = false;
  private inputsStarted = false;

  private constructor(
    readonly config: TsstoreConfig,
    readonly logger: Logger,
    readonly registry: PluginRegistry,
    readonly catalog: StoreCatalog,
    /** One runner per pipeline, in config order. */
    readonly runners: readonly PipelineRunner[],
    readonly http: HttpServer,
    private readonly lock: DataLock,
    readonly metrics: ServerMetrics,
  ) {}

  /** Why `/ready` answers 503; empty when the server is ready. */
  notReady(): string[] {
    const reasons: string[] = [];
    if (this.stopping) reasons.push('server is shutting down');
    for (const r of this.runners) {
      const open = r.sink.isOpen ? r.sink.isOpen() : this.sinksOpen;
      if (!open) reasons.push(this.runners.length > 1 ? `sink of pipeline ${r.name} is not open` : 'sink is not open');
    }
    if (!this.inputsStarted) reasons.push('inputs are not started');
    if (this.runners.some((r) => !r.accepting)) reasons.push('pipeline is not accepting records');
    return reasons;
  }

  /** Stores that cannot serve (damaged files): `/ready` stays 200 and lists them. */
  degraded(): string[] {
    return this.catalog.unavailable().map((p) => `store ${p.store} is unavailable: ${p.error}`);
  }

  /** The first (with the default config: the only) pipeline's runner. */
  get runner(): PipelineRunner {
    return this.runners[0];
  }
  get url(): string {
    return this.http.url;
  }
  get port(): number {
    return this.http.port;
  }

  static async start(config: TsstoreConfig, options: ServerOptions = {}): Promise<TsstoreServer> {
    const adminKey = config.server.admin_key;
    if (!adminKey || adminKey.length < MIN_ADMIN_KEY_LENGTH) {
      throw new TssError(
        'TSS_ERR_ADMIN_KEY_REQUIRED',
        `an admin key of at least ${MIN_ADMIN_KEY_LENGTH} characters is required: set TSSTORE_ADMIN_KEY or server.admin_key in the config${adminKey ? ` (the one given has ${adminKey.length})` : ''}`,
      );
    }
    const adminKeyProblem = checkAdminKey(adminKey);
    if (adminKeyProblem)
      throw new TssError('TSS_ERR_ADMIN_KEY_REQUIRED', `the admin key ${adminKeyProblem}: set TSSTORE_ADMIN_KEY or server.admin_key in the config`);
    const logger = options.logger ?? createLogger(config.log.level, 1, config.log.format);
    const registry = await loadPlugins(config.plugins, config.source.dir, config.source.file, logger);
    const parts = composeServer(config, logger, registry);
    options.compose?.(parts);
    const metrics = parts.resolve<ServerMetrics>(TOKENS.Metrics);
    const pipelines = parts.resolve<readonly BuiltPipeline[]>(TOKENS.Pipelines);
    checkTls(config);
    const dataDir = config.store.base_path;

    // The lock is taken when first resolved (an async factory; a test may register a plain value).
    const lock = await parts.resolve<DataLock | Promise<DataLock>>(TOKENS.Lock);
    const opened: Sink[] = [];
    let server: TsstoreServer | undefined;
    try {
      for (const p of pipelines) {
        await p.sink.open();
        opened.push(p.sink);
        logger.info({ pipeline: p.name, sink: p.plan.sink.id, type: p.plan.sink.type }, 'Sink opened.');
      }
      const catalog = parts.resolve<StoreCatalog>(TOKENS.Catalog);
      await catalog.load();
      const runners = parts.resolve<readonly PipelineRunner[]>(TOKENS.Runners);
      const http = parts.resolve<HttpServer>(TOKENS.Http);
      server = new TsstoreServer(config, logger, registry, catalog, runners, http, lock, metrics);
      server.sinksOpen = true;
      const self = server;
      metrics.watchStores({
        list: () => catalog.list(),
        stats: (store) => catalog.knownStats(store),
        open: () => catalog.openStores(),
        unavailable: () => catalog.unavailable().length,
      });
      metrics.scrapeGauge('tsstore_http_open_connections', 'Open client connections on the HTTP(S) port (keep-alive and WebSocket).', () => http.connections);
      metrics.scrapeGauge('tsstore_ready', '1 when /ready answers 200, else 0.', () => (self.notReady().length === 0 ? 1 : 0));
      registerOpsRoutes(http.router, {
        metrics,
        adminKey,
        metricsToken: config.server.metrics_token,
        publicMetrics: config.server.public_metrics,
        notReady: () => self.notReady(),
        degraded: () => self.degraded(),
      });
      const deliveries = new DeliveryHost(catalog, logger.child({ component: 'outputs' }));
      server.deliveries = deliveries;
      metrics.watchOutputs(deliveries);
      const deps = {
        catalog,
        sinkOf: (store: string) => catalog.sinkOf(store),
        adminKey,
        publicStoreList: config.server.public_store_list,
        outputsOf: (store: string) => deliveries.named(store),
      };
      registerStoreRoutes(http.router, deps);
      registerQueryRoutes(http.router, deps);
      registerSchemaRoutes(http.router, deps, parts.resolve<SchemaService>(TOKENS.SchemaService));
      const binding = parts.resolve<InputBinding>(TOKENS.InputBinding);
      binding.stores = catalog;
      binding.http = http.host(catalog, adminKey);
      binding.deliveries = (output) => deliveries.forOutput(output);
      // Outputs start before inputs, so they are woken from the first record on.
      for (const p of pipelines) {
        for (const output of p.outputs) {
          server.outputs.push(output);
          await output.plugin.start();
          logger.info({ pipeline: p.name, output: output.id, type: output.type }, 'Output started.');
        }
      }
      for (const [i, p] of pipelines.entries()) {
        for (const input of p.inputs) {
          server.inputs.push(input);
          await input.plugin.start(runners[i].emit);
          logger.info({ pipeline: p.name, input: input.id, type: input.type }, 'Input started.');
        }
      }
      await http.listen();
      server.inputsStarted = true;
      lock.advertise(http.url);
      server.layout = {
        pipelines: pipelines.map((p) => ({
          name: p.name,
          inputs: p.inputs.map((i) => ({ id: i.id, type: i.type, resources: i.plugin.resources?.() ?? [] })),
          stages: p.plan.stages.map((s) => s.type),
          sink: p.plan.sink.type,
          outputs: p.outputs.map((o) => ({ id: o.id, type: o.type })),
        })),
      };
      logger.info(
        {
          url: http.url,
          dataDir,
          stores: catalog.list().length,
          unavailable: catalog.unavailable().length,
          pipelines: pipelines.map((p) => p.name),
          tls: Boolean(config.server.tls),
        },
        'tsstore is serving.',
      );
      return server;
    } catch (err) {
      if (server) await server.stop().catch(() => undefined);
      else {
        for (const sink of opened) await sink.close().catch(() => undefined);
        lock.release();
      }
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
    // Inputs stop side by side: each finishes and answers what it received within its own grace.
    // Outputs stop alongside (their readers hold connections the HTTP server waits for).
    await Promise.all([
      ...this.inputs.map((input) =>
        input.plugin.stop().then(
          () => this.logger.info({ input: input.id, type: input.type }, 'Input stopped.'),
          (err: Error) => this.logger.error({ input: input.id, err: err.message }, 'Input failed to stop cleanly.'),
        ),
      ),
      ...this.outputs.map((output) =>
        output.plugin.stop().then(
          () => this.logger.info({ output: output.id, type: output.type }, 'Output stopped.'),
          (err: Error) => this.logger.error({ output: output.id, err: err.message }, 'Output failed to stop cleanly.'),
        ),
      ),
    ]);
    await this.deliveries?.close();
    await httpClosed;
    await Promise.all(this.runners.map((r) => r.drain()));
    await this.catalog.closeAll().catch((err: Error) => this.logger.error({ err: err.message }, 'Closing the stores failed.'));
    this.sinksOpen = false;
    for (const r of this.runners) {
      await r.sink.close().then(
        () => this.logger.info({ pipeline: r.name }, 'Sink closed.'),
        (err: Error) => this.logger.error({ pipeline: r.name, err: err.message }, 'Sink failed to close cleanly.'),
      );
    }
    this.lock.release();
    this.logger.info({}, 'Stopped.');
  }
}
