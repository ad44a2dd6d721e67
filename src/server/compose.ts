/**
 * The composition root: how a tsstore server is put together, in one place.
 *
 * Every server gets its own tsyringe child container (two servers in one process never share a
 * part). Each part is registered here under a token (src/tokens.ts) and built on first use from
 * the parts it needs; nothing is a root-container singleton. Building a part does no I/O except
 * where noted (the data-path lock is taken when it is first resolved); opening, loading and
 * starting are the server's lifecycle (src/server.ts), which resolves the parts in order:
 *
 *   Config, Logger, PluginRegistry (loaded before the container exists: plugin packages load
 *   asynchronously)
 *   Metrics ──────────────┐
 *   Pipelines (sinks, stages, inputs; constructed, not started) ◀── InputBinding (filled late)
 *   Lock (a promise: takes the data-path lock when first resolved)
 *   Catalog ◀── the pipelines' sinks
 *   SchemaService ◀── Catalog
 *   Runners (one per pipeline) ◀── Pipelines, Catalog, Metrics
 *   HttpOptions ◀── Config, Metrics;  Http ◀── HttpOptions, Logger
 *
 * A test (or an embedding application) swaps any part by registering its own value for the token
 * before the server resolves it: `TsstoreServer.start(config, { compose: (c) => c.register(...) })`.
 * Plugins never see the container: they get their context objects.
 */
import type { TsstoreConfig } from '../config/config-types.js';
import { container, instanceCachingFactory, Lifecycle, type DependencyContainer } from '../di.js';
import { HttpServer, type HttpOptions } from '../http/app.js';
import { ServerMetrics } from '../metrics/server-metrics.js';
import { buildPipelines, defaultPipelineName, type BuiltPipeline, type InputBinding } from '../pipeline/pipeline-builder.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import { PipelineRunner } from '../pipeline/runner.js';
import type { Logger } from '../plugin/descriptor.js';
import { DataLock } from '../stores/data-lock.js';
import { SchemaService } from '../stores/schema-service.js';
import { StoreCatalog } from '../stores/store-catalog.js';
import { storeDefaults } from '../config/store-options.js';
import { TOKENS } from '../tokens.js';

export function composeServer(config: TsstoreConfig, logger: Logger, registry: PluginRegistry): DependencyContainer {
  const c = container.createChildContainer();
  const once = <T>(build: (c: DependencyContainer) => T) => ({ useFactory: instanceCachingFactory<T>(build) });

  c.register(TOKENS.Config, { useValue: config });
  c.register(TOKENS.Logger, { useValue: logger });
  c.register<PluginRegistry>(TOKENS.PluginRegistry, { useValue: registry });
  c.register<ServerMetrics>(
    TOKENS.Metrics,
    once(() => new ServerMetrics()),
  );

  // Pipelines: plugins constructed (no I/O). Inputs reach the catalog and the HTTP host through
  // the binding, filled in once both exist and before any input starts.
  c.register<InputBinding>(TOKENS.InputBinding, { useValue: {} });
  c.register<readonly BuiltPipeline[]>(
    TOKENS.Pipelines,
    once((r) => {
      const metrics = r.resolve<ServerMetrics>(TOKENS.Metrics);
      return buildPipelines(config, { registry, logger, binding: r.resolve(TOKENS.InputBinding), metrics: metrics.plugin.bind(metrics) });
    }),
  );

  c.register<Promise<DataLock>>(
    TOKENS.Lock,
    once(() => DataLock.acquire(config.store.base_path, 'server')),
  );
  c.register<StoreCatalog>(
    TOKENS.Catalog,
    once((r) => {
      const pipelines = r.resolve<readonly BuiltPipeline[]>(TOKENS.Pipelines);
      const sinks = new Map(pipelines.map((p) => [p.name, p.sink]));
      return new StoreCatalog(
        config.store.base_path,
        { sinks, defaultPipeline: defaultPipelineName(config) },
        logger.child({ component: 'catalog' }),
        storeDefaults(config),
        { maxOpen: config.store.max_open },
      );
    }),
  );
  c.register<SchemaService>(
    TOKENS.SchemaService,
    once((r) => new SchemaService(r.resolve(TOKENS.Catalog))),
  );
  c.register<readonly PipelineRunner[]>(
    TOKENS.Runners,
    once((r) => {
      const pipelines = r.resolve<readonly BuiltPipeline[]>(TOKENS.Pipelines);
      const catalog = r.resolve<StoreCatalog>(TOKENS.Catalog);
      const metrics = r.resolve<ServerMetrics>(TOKENS.Metrics);
      // With one pipeline (the default) the runner skips the ownership check altogether.
      const ownerOf = pipelines.length > 1 ? (store: string) => catalog.pipelineOf(store) : undefined;
      return pipelines.map(
        (p) =>
          new PipelineRunner(p.name, p.stages, catalog.pipelineSink(p.name), catalog, logger.child({ pipeline: p.name }), ownerOf, metrics.pipeline(p.name)),
      );
    }),
  );

  c.register<HttpOptions>(
    TOKENS.HttpOptions,
    once((r) => {
      const metrics = r.resolve<ServerMetrics>(TOKENS.Metrics);
      const s = config.server;
      return {
        host: s.host,
        port: s.port,
        tls: s.tls,
        wsMaxFrame: s.ws_max_frame,
        onError: (code: string) => metrics.httpError(code),
        onPipelinePause: () => metrics.httpReadsPaused(),
      };
    }),
  );
  // HttpServer declares what it needs (@inject(TOKENS.HttpOptions), @inject(TOKENS.Logger)).
  c.register<HttpServer>(TOKENS.Http, { useClass: HttpServer }, { lifecycle: Lifecycle.ContainerScoped });
  return c;
}
