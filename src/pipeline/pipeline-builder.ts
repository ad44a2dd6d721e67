/**
 * Config → pipelines, in two steps (Vector's shape): `planPipelines` checks the whole graph and
 * reports every problem at once (unknown types with the known ones, option errors with their
 * paths, two inputs claiming one resource); `construct` creates the plugin instances (no I/O).
 */
import type { Logger, InputContext, HttpHost, PluginMetrics, StoreAccess } from '../plugin/descriptor.js';
import type { InputPlugin } from '../plugin/input.js';
import type { Sink } from '../plugin/sink.js';
import type { Stage } from '../plugin/stage.js';
import type { PluginBlock, TsstoreConfig } from '../config/config-types.js';
import { ConfigError, type ConfigProblem } from '../config/load-config.js';
import type { PluginRegistry } from './registry.js';

type Kind = 'input' | 'stage' | 'sink';

export interface PlannedPlugin {
  readonly kind: Kind;
  readonly id: string;
  readonly type: string;
  readonly options: Record<string, unknown>;
  readonly path: string;
}

export interface PlannedPipeline {
  readonly name: string;
  readonly inputs: readonly PlannedPlugin[];
  readonly stages: readonly PlannedPlugin[];
  readonly sink: PlannedPlugin;
}

/** Input options the server section fills in (the Unix socket path belongs to `server`). */
function withServerDefaults(type: string, block: PluginBlock, config: TsstoreConfig): PluginBlock {
  if (type === 'unix_socket' && block.path === undefined && config.server.socket_path) return { ...block, path: config.server.socket_path };
  return block;
}

export function planPipelines(config: TsstoreConfig, registry: PluginRegistry): PlannedPipeline[] {
  const problems: ConfigProblem[] = [];
  const plan = (kind: Kind, id: string, block: PluginBlock, at: string): PlannedPlugin | undefined => {
    const descriptor = registry.get(kind, block.type);
    if (!descriptor) {
      problems.push({ path: `${at}.type`, message: `unknown ${kind} type "${block.type}"; known: ${registry.types(kind).join(', ') || '(none)'}` });
      return undefined;
    }
    const { type: _type, ...rest } = block;
    const { value, error } = descriptor.options.validate(rest, { abortEarly: false, convert: true });
    for (const d of error?.details ?? []) problems.push({ path: `${at}.${d.path.join('.')}`, message: d.message.replace(/^"[^"]*" /, '') });
    return error ? undefined : { kind, id, type: block.type, options: value as Record<string, unknown>, path: at };
  };

  const names = Object.keys(config.pipelines);
  if (names.length > 1) problems.push({ path: 'pipelines', message: `only one pipeline is supported so far, got ${names.join(', ')}` });
  const pipelines: PlannedPipeline[] = [];
  for (const name of names) {
    const p = config.pipelines[name];
    const at = `pipelines.${name}`;
    if (!p.sink) { problems.push({ path: `${at}.sink`, message: 'a pipeline needs a sink' }); continue; }
    const inputs: PlannedPlugin[] = [];
    for (const [id, block] of Object.entries(p.inputs ?? {})) {
      if (block.type === 'unix_socket' && config.server.socket_path === null && block.path === undefined) continue; // --no-socket
      const planned = plan('input', id, withServerDefaults(block.type, block, config), `${at}.inputs.${id}`);
      if (planned) inputs.push(planned);
    }
    const stages = (p.stages ?? []).map((s, i) => plan('stage', `${name}.stage${i}`, s, `${at}.stages.${i}`)).filter((x): x is PlannedPlugin => !!x);
    const sink = plan('sink', `${name}.sink`, p.sink, `${at}.sink`);
    if (sink) pipelines.push({ name, inputs, stages, sink });
  }
  if (problems.length) throw new ConfigError(problems, config.source.file);
  return pipelines;
}

export interface BuiltPipeline {
  readonly name: string;
  readonly sink: Sink;
  readonly stages: readonly Stage[];
  readonly inputs: readonly { readonly id: string; readonly type: string; readonly plugin: InputPlugin }[];
}

export interface ConstructDeps {
  readonly registry: PluginRegistry;
  readonly logger: Logger;
  readonly dataDir: string;
  readonly stores: StoreAccess;
  readonly http: HttpHost;
  /** The server's metrics facility for one plugin instance (PluginContext.metrics). */
  readonly metrics?: (kind: 'input' | 'stage' | 'sink', id: string) => PluginMetrics;
}

export function constructSinkAndStages(p: PlannedPipeline, deps: Omit<ConstructDeps, 'stores' | 'http'>): { sink: Sink; stages: Stage[] } {
  const ctx = (id: string, kind: 'stage' | 'sink') => ({ id, logger: deps.logger.child({ [kind]: id }), dataDir: deps.dataDir, metrics: deps.metrics?.(kind, id) });
  const sink = deps.registry.get('sink', p.sink.type)!.create(p.sink.options, ctx(p.sink.id, 'sink'));
  const stages = p.stages.map((s) => deps.registry.get('stage', s.type)!.create(s.options, ctx(s.id, 'stage')));
  return { sink, stages };
}

/** Creates the inputs and checks that no two claim the same port, socket or route. */
export function constructInputs(p: PlannedPipeline, deps: ConstructDeps): BuiltPipeline['inputs'] {
  const claimed = new Map<string, string>();
  const problems: ConfigProblem[] = [];
  const inputs = p.inputs.map((planned) => {
    const ctx: InputContext = { id: planned.id, logger: deps.logger.child({ input: planned.id }), dataDir: deps.dataDir, stores: deps.stores, http: deps.http, metrics: deps.metrics?.('input', planned.id) };
    const plugin = deps.registry.get('input', planned.type)!.create(planned.options, ctx);
    for (const r of plugin.resources?.() ?? []) {
      const key = `${r.kind} ${r.id}`;
      const other = claimed.get(key);
      if (other) problems.push({ path: planned.path, message: `claims ${r.kind} ${r.id}, already claimed by ${other}` });
      else claimed.set(key, planned.path);
    }
    return { id: planned.id, type: planned.type, plugin };
  });
  if (problems.length) throw new ConfigError(problems);
  return inputs;
}
