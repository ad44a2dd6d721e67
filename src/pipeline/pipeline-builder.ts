/**
 * Config → pipelines, Vector's shape: validate (pure) → construct (no I/O) → start (server.ts).
 *
 * `buildPipelines` plans every pipeline (unknown types with the known ones, option errors with
 * their paths, a pipeline without a sink), constructs every plugin (constructors do no I/O by
 * contract) and checks the resources the inputs claim (two inputs on one port, socket path or
 * HTTP route; an input on the server's own port), across all pipelines. Every problem comes back
 * at once; nothing has been started. `tsstore config validate` and `serve` use the same function.
 *
 * Inputs get their `stores` and `http` through a late binding: the server fills it in after the
 * store catalog and the HTTP server exist, before any input starts. An input that touches them in
 * its constructor (against the contract) gets a clear error.
 */
import type { Logger, InputContext, HttpHost, OutputContext, PluginMetrics, StoreAccess } from '../plugin/descriptor.js';
import type { InputPlugin, Resource } from '../plugin/input.js';
import type { Deliveries, OutputPlugin } from '../plugin/output.js';
import type { Sink } from '../plugin/sink.js';
import type { Stage } from '../plugin/stage.js';
import { OutboundPolicy } from '../plugin/kit/outbound.js';
import type { PluginBlock, TsstoreConfig } from '../config/config-types.js';
import { ConfigError, type ConfigProblem } from '../config/load-config.js';
import type { PluginRegistry } from './registry.js';
import { resourcesCollide } from './resources.js';

type Kind = 'input' | 'stage' | 'sink' | 'output';

export interface PlannedPlugin {
  readonly kind: Kind;
  readonly id: string;
  readonly type: string;
  /** The plugin's options after its joi schema (defaults applied). */
  readonly options: Record<string, unknown>;
  /** Config path of the block, e.g. `pipelines.main.inputs.api`. */
  readonly path: string;
  /** Inputs and outputs: false when the block says `enabled: false` (validated, never constructed). */
  readonly enabled: boolean;
}

export interface PlannedPipeline {
  readonly name: string;
  readonly inputs: readonly PlannedPlugin[];
  readonly stages: readonly PlannedPlugin[];
  readonly sink: PlannedPlugin;
  readonly outputs: readonly PlannedPlugin[];
}

export interface BuiltOutput {
  readonly id: string;
  readonly type: string;
  readonly path: string;
  readonly plugin: OutputPlugin;
}

export interface BuiltInput {
  readonly id: string;
  readonly type: string;
  readonly path: string;
  readonly plugin: InputPlugin;
}

export interface BuiltPipeline {
  readonly name: string;
  readonly plan: PlannedPipeline;
  readonly sink: Sink;
  readonly stages: readonly Stage[];
  readonly inputs: readonly BuiltInput[];
  readonly outputs: readonly BuiltOutput[];
}

/** Filled in by the server before inputs start; empty while only validating. */
export interface InputBinding {
  stores?: StoreAccess;
  http?: HttpHost;
  /** Deliveries for one output instance (outputs only). */
  deliveries?: (output: string) => Deliveries;
}

export interface BuildDeps {
  readonly registry: PluginRegistry;
  readonly logger: Logger;
  readonly binding?: InputBinding;
  /** The server's metrics facility for one plugin instance (PluginContext.metrics). */
  readonly metrics?: (kind: Kind, id: string) => PluginMetrics;
}

/** The pipeline a store belongs to when it names none: `main` if configured, else the first. */
export function defaultPipelineName(config: TsstoreConfig): string {
  const names = Object.keys(config.pipelines ?? {});
  return names.includes('main') ? 'main' : names[0];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Input options the server section fills in (the Unix socket path belongs to `server`). */
function withServerDefaults(block: PluginBlock, config: TsstoreConfig): PluginBlock {
  if (block.type === 'unix_socket' && block.path === undefined && config.server.socket_path) return { ...block, path: config.server.socket_path };
  return block;
}

/** A pipeline as far as it could be planned (the sink is missing when it is invalid). */
type PartialPlan = Omit<PlannedPipeline, 'sink'> & { readonly sink?: PlannedPlugin };

/** Checks types and options of every pipeline; returns what is valid and every problem. */
export function planPipelinesChecked(config: TsstoreConfig, registry: PluginRegistry): { pipelines: PlannedPipeline[]; problems: ConfigProblem[] } {
  const { plans, problems } = planAll(config, registry);
  return { pipelines: plans.filter((p): p is PlannedPipeline => p.sink !== undefined), problems };
}

function planAll(config: TsstoreConfig, registry: PluginRegistry): { plans: PartialPlan[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const plan = (kind: Kind, id: string, block: unknown, at: string): PlannedPlugin | undefined => {
    if (!isObject(block)) {
      problems.push({ path: at, message: 'must be an object with a type' });
      return undefined;
    }
    if (typeof block.type !== 'string') {
      problems.push({ path: `${at}.type`, message: 'is required' });
      return undefined;
    }
    const descriptor = registry.get(kind, block.type);
    if (!descriptor) {
      problems.push({ path: `${at}.type`, message: `unknown ${kind} type "${block.type}"; known: ${registry.types(kind).join(', ') || '(none)'}` });
      return undefined;
    }
    const { type, enabled, ...rest } = block;
    if (kind !== 'input' && kind !== 'output' && enabled !== undefined) {
      problems.push({ path: `${at}.enabled`, message: 'only inputs and outputs can be enabled or disabled' });
      return undefined;
    }
    if (enabled !== undefined && typeof enabled !== 'boolean') {
      problems.push({ path: `${at}.enabled`, message: 'must be a boolean' });
      return undefined;
    }
    const { value, error } = descriptor.options.validate(rest, { abortEarly: false, convert: true });
    for (const d of error?.details ?? []) problems.push({ path: `${at}.${d.path.join('.')}`, message: d.message.replace(/^"[^"]*" /, '') });
    return error ? undefined : { kind, id, type: type as string, options: value as Record<string, unknown>, path: at, enabled: enabled !== false };
  };

  const plans: PartialPlan[] = [];
  if (!isObject(config.pipelines)) return { plans, problems };
  const names = Object.keys(config.pipelines);
  if (names.length === 0) problems.push({ path: 'pipelines', message: 'needs at least one pipeline' });
  for (const name of names) {
    const p = config.pipelines[name] as unknown;
    const at = `pipelines.${name}`;
    if (!isObject(p)) {
      problems.push({ path: at, message: 'must be an object with inputs, stages and a sink' });
      continue;
    }
    const inputs: PlannedPlugin[] = [];
    if (isObject(p.inputs)) {
      for (const [id, block] of Object.entries(p.inputs)) {
        const b = block as PluginBlock;
        if (isObject(b) && b.type === 'unix_socket' && config.server.socket_path === null && b.path === undefined) continue; // --no-socket
        const planned = plan('input', id, isObject(b) && typeof b.type === 'string' ? withServerDefaults(b, config) : b, `${at}.inputs.${id}`);
        if (planned) inputs.push(planned);
      }
    } else if (p.inputs === undefined) {
      problems.push({ path: `${at}.inputs`, message: 'is required (an object of inputs keyed by id; may be empty)' });
    }
    const stages = Array.isArray(p.stages)
      ? p.stages.map((s, i) => plan('stage', `${name}.stage${i}`, s, `${at}.stages.${i}`)).filter((x): x is PlannedPlugin => !!x)
      : [];
    let sink: PlannedPlugin | undefined;
    if (p.sink === undefined) problems.push({ path: `${at}.sink`, message: 'is required: a pipeline needs a sink' });
    else sink = plan('sink', `${name}.sink`, p.sink, `${at}.sink`);
    const outputs: PlannedPlugin[] = [];
    if (isObject(p.outputs)) {
      for (const [id, block] of Object.entries(p.outputs)) {
        const planned = plan('output', id, block, `${at}.outputs.${id}`);
        if (planned) outputs.push(planned);
      }
    } else if (p.outputs !== undefined) {
      problems.push({ path: `${at}.outputs`, message: 'must be an object of outputs keyed by id' });
    }
    plans.push({ name, inputs, stages, sink, outputs });
  }
  return { plans, problems };
}

/** Plans every pipeline or throws a ConfigError with every problem. */
export function planPipelines(config: TsstoreConfig, registry: PluginRegistry): PlannedPipeline[] {
  const { pipelines, problems } = planPipelinesChecked(config, registry);
  if (problems.length) throw new ConfigError(problems, config.source?.file);
  return pipelines;
}

function unbound(what: string, id: string): never {
  throw new Error(`plugin ${id} used ctx.${what} in its constructor; plugins may use it from start() on`);
}

function sinkStageContext(id: string, kind: 'stage' | 'sink', logger: Logger, dataDir: string, metrics: BuildDeps['metrics'], outbound: OutboundPolicy) {
  return { id, logger: logger.child({ [kind]: id }), dataDir, metrics: metrics?.(kind, id), outbound };
}

/** The server's outbound allow-list (one for every plugin); a bad rule is a config problem. */
function outboundPolicy(config: TsstoreConfig, problems: ConfigProblem[]): OutboundPolicy {
  try {
    return OutboundPolicy.from(config.outbound ?? {});
  } catch (err) {
    problems.push({ path: 'outbound.allow', message: (err as Error).message });
    return OutboundPolicy.from({ allow_public: false });
  }
}

/**
 * Plans, constructs and checks resources for every pipeline. Returns the built pipelines only when
 * there is no problem at all.
 */
export function buildPipelinesChecked(config: TsstoreConfig, deps: BuildDeps): { pipelines: BuiltPipeline[]; problems: ConfigProblem[] } {
  // Inputs of a pipeline whose sink or stages are invalid are still built, so their resource
  // claims are checked too: every problem at once.
  const { plans, problems } = planAll(config, deps.registry);
  const dataDir = config.store.base_path;
  const binding = deps.binding ?? {};
  const outbound = outboundPolicy(config, problems);
  const claims: { resource: Resource; by: string }[] = [];
  if (config.server.port !== 0)
    claims.push({ resource: { kind: 'tcp-port', id: `${config.server.host}:${config.server.port}` }, by: 'server.port (the HTTP server)' });
  const built: BuiltPipeline[] = [];
  const attempt = <T>(at: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      problems.push({ path: at, message: `cannot be created: ${(err as Error).message}` });
      return undefined;
    }
  };
  const claim = (planned: PlannedPlugin, resources: readonly Resource[]): void => {
    for (const r of resources) {
      const other = claims.find((c) => resourcesCollide(c.resource, r));
      if (other) {
        const same = r.kind !== 'http-route' || r.id === other.resource.id;
        const what = same
          ? `${r.kind} ${r.id}, already claimed by ${other.by}`
          : `${r.kind} ${r.id}, which overlaps ${other.resource.id} claimed by ${other.by}: one request could match both`;
        const hint = r.kind === 'http-route' ? ` (there is one HTTP server and its routes are global: one such ${planned.kind} across all pipelines)` : '';
        problems.push({ path: planned.path, message: `claims ${what}${hint}` });
      } else {
        claims.push({ resource: r, by: planned.path });
      }
    }
  };
  for (const plan of plans) {
    const logger = deps.logger;
    const planned = plan.sink;
    const sink =
      planned &&
      attempt(planned.path, () =>
        deps.registry.get('sink', planned.type)!.create(planned.options, sinkStageContext(planned.id, 'sink', logger, dataDir, deps.metrics, outbound)),
      );
    const stages = plan.stages.map((s) =>
      attempt(s.path, () => deps.registry.get('stage', s.type)!.create(s.options, sinkStageContext(s.id, 'stage', logger, dataDir, deps.metrics, outbound))),
    );
    const inputs: BuiltInput[] = [];
    for (const planned of plan.inputs) {
      if (!planned.enabled) continue;
      const ctx: InputContext = {
        id: planned.id,
        logger: logger.child({ pipeline: plan.name, input: planned.id }),
        dataDir,
        metrics: deps.metrics?.('input', planned.id),
        outbound,
        get stores() {
          return binding.stores ?? unbound('stores', planned.id);
        },
        get http() {
          return binding.http ?? unbound('http', planned.id);
        },
      };
      const plugin = attempt(planned.path, () => deps.registry.get('input', planned.type)!.create(planned.options, ctx));
      if (!plugin) continue;
      claim(planned, attempt(planned.path, () => plugin.resources?.() ?? []) ?? []);
      inputs.push({ id: planned.id, type: planned.type, path: planned.path, plugin });
    }
    const outputs: BuiltOutput[] = [];
    for (const planned of plan.outputs) {
      if (!planned.enabled) continue;
      const ctx: OutputContext = {
        id: planned.id,
        logger: logger.child({ pipeline: plan.name, output: planned.id }),
        dataDir,
        metrics: deps.metrics?.('output', planned.id),
        outbound,
        get stores() {
          return binding.stores ?? unbound('stores', planned.id);
        },
        get http() {
          return binding.http ?? unbound('http', planned.id);
        },
        get deliveries() {
          return binding.deliveries?.(planned.id) ?? unbound('deliveries', planned.id);
        },
      };
      const plugin = attempt(planned.path, () => deps.registry.get('output', planned.type)!.create(planned.options, ctx));
      if (!plugin) continue;
      claim(planned, attempt(planned.path, () => plugin.resources?.() ?? []) ?? []);
      outputs.push({ id: planned.id, type: planned.type, path: planned.path, plugin });
    }
    if (planned && sink && stages.every((s) => s))
      built.push({ name: plan.name, plan: { ...plan, sink: planned }, sink, stages: stages as Stage[], inputs, outputs });
  }
  return { pipelines: problems.length ? [] : built, problems };
}

/** Builds every pipeline or throws a ConfigError with every problem. */
export function buildPipelines(config: TsstoreConfig, deps: BuildDeps): BuiltPipeline[] {
  const { pipelines, problems } = buildPipelinesChecked(config, deps);
  if (problems.length) throw new ConfigError(problems, config.source?.file);
  return pipelines;
}

/**
 * Concatenates problem lists from successive checks (file schema, plugin loading, pipelines),
 * dropping a later check's problem when an earlier check already reported its path or a parent.
 */
export function mergeProblems(...lists: readonly (readonly ConfigProblem[])[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const list of lists) {
    const earlier = [...out];
    for (const p of list) {
      if (earlier.some((q) => p.path === q.path || p.path.startsWith(`${q.path}.`))) continue;
      out.push(p);
    }
  }
  return out;
}
