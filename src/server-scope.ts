/**
 * The dependency-injection scope of one server: a tsyringe child container holding that server's
 * long-lived services (config, logger, metrics, plugin registry, HTTP server). Every server gets
 * its own child container, so two servers in one process (tests) never share state — nothing is
 * registered as a root-container singleton. Plugins never see the container: they get their
 * context objects.
 */
import type { TsstoreConfig } from './config/config-types.js';
import { container, instanceCachingFactory, Lifecycle, type DependencyContainer } from './di.js';
import { HttpServer, type HttpOptions } from './http/app.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import type { Logger } from './plugin/descriptor.js';
import type { PluginRegistry } from './pipeline/registry.js';
import { TOKENS } from './tokens.js';

export function createServerScope(config: TsstoreConfig, logger: Logger, registry: PluginRegistry): DependencyContainer {
  const scope = container.createChildContainer();
  scope.register(TOKENS.Config, { useValue: config });
  scope.register(TOKENS.Logger, { useValue: logger });
  scope.register(ServerMetrics, { useClass: ServerMetrics }, { lifecycle: Lifecycle.ContainerScoped });
  scope.register<PluginRegistry>(TOKENS.PluginRegistry, { useValue: registry });
  scope.register<HttpOptions>(TOKENS.HttpOptions, {
    useFactory: instanceCachingFactory((c) => {
      const metrics = c.resolve(ServerMetrics);
      const s = config.server;
      return { host: s.host, port: s.port, tls: s.tls, wsMaxFrame: s.ws_max_frame, onError: (code: string) => metrics.httpError(code) };
    }),
  });
  scope.register(HttpServer, { useClass: HttpServer }, { lifecycle: Lifecycle.ContainerScoped });
  return scope;
}
