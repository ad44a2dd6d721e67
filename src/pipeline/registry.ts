/**
 * Plugin registry: descriptors by `kind:type`. Built-ins and outside packages register through
 * `register` alike; it checks the declared plugin API range and refuses duplicates, naming the
 * packages involved.
 */
import semver from 'semver';
import { PLUGIN_API_VERSION, type PluginDescriptor } from '../plugin/descriptor.js';

export interface PluginSource {
  /** The package's npm name (from its package.json; `tsstore` for built-ins). */
  readonly package: string;
  readonly version?: string;
  /** The `plugins:` entry it was loaded by (an npm name or a path), absent for built-ins. */
  readonly from?: string;
}

export interface RegisteredPlugin {
  readonly descriptor: PluginDescriptor;
  readonly source: PluginSource;
}

/** `name@version (entry)`: how messages name a package. */
export function describeSource(s: PluginSource): string {
  const id = s.version ? `${s.package}@${s.version}` : s.package;
  return s.from && s.from !== s.package ? `${id} (${s.from})` : id;
}

export class PluginRegistry {
  private readonly plugins = new Map<string, RegisteredPlugin>();

  register(descriptor: PluginDescriptor, source: PluginSource): void {
    const key = `${descriptor.kind}:${descriptor.type}`;
    const from = describeSource(source);
    if (descriptor.kind !== 'input' && descriptor.kind !== 'stage' && descriptor.kind !== 'sink' && descriptor.kind !== 'output') {
      throw new Error(`plugin ${key} from ${from}: kind must be input, stage, sink or output`);
    }
    if (typeof descriptor.type !== 'string' || !/^[a-z][a-z0-9_]*$/.test(descriptor.type)) {
      throw new Error(`plugin ${key} from ${from}: type must be snake_case`);
    }
    if (typeof descriptor.create !== 'function' || typeof descriptor.options?.validate !== 'function') {
      throw new Error(
        `plugin ${key} from ${from}: a descriptor needs create() and a joi options schema (use defineInput/defineStage/defineSink/defineOutput from tsstore/plugin)`,
      );
    }
    const range = descriptor.apiVersion;
    if (typeof range !== 'string' || !semver.validRange(range) || !semver.satisfies(PLUGIN_API_VERSION, range)) {
      throw new Error(`plugin ${key} from ${from} needs plugin API ${String(range)}, but this tsstore provides ${PLUGIN_API_VERSION}`);
    }
    const existing = this.plugins.get(key);
    if (existing) {
      throw new Error(`plugin ${key} from ${from} is already registered by ${describeSource(existing.source)}`);
    }
    this.plugins.set(key, { descriptor, source });
  }

  get<K extends PluginDescriptor['kind']>(kind: K, type: string): Extract<PluginDescriptor, { kind: K }> | undefined {
    return this.plugins.get(`${kind}:${type}`)?.descriptor as Extract<PluginDescriptor, { kind: K }> | undefined;
  }

  types(kind: PluginDescriptor['kind']): string[] {
    return this.list()
      .filter((p) => p.descriptor.kind === kind)
      .map((p) => p.descriptor.type)
      .sort();
  }

  list(): RegisteredPlugin[] {
    return [...this.plugins.values()];
  }
}
