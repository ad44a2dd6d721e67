/**
 * Plugin registry: descriptors by `kind:type`. Built-ins and outside packages register through
 * `register` alike; it checks the declared plugin API range and refuses duplicates, naming the
 * packages involved.
 */
import semver from 'semver';
import { PLUGIN_API_VERSION, type PluginDescriptor } from '../plugin/descriptor.js';

export interface PluginSource {
  /** npm name or path the plugin came from (`tsstore` for built-ins). */
  readonly package: string;
  readonly version?: string;
}

export interface RegisteredPlugin {
  readonly descriptor: PluginDescriptor;
  readonly source: PluginSource;
}

export class PluginRegistry {
  private readonly plugins = new Map<string, RegisteredPlugin>();

  register(descriptor: PluginDescriptor, source: PluginSource): void {
    const key = `${descriptor.kind}:${descriptor.type}`;
    if (!/^[a-z][a-z0-9_]*$/.test(descriptor.type)) {
      throw new Error(`plugin ${key} from ${source.package}: type must be snake_case`);
    }
    const range = descriptor.apiVersion;
    if (!semver.validRange(range) || !semver.satisfies(PLUGIN_API_VERSION, range)) {
      throw new Error(`plugin ${key} from ${source.package} needs plugin API ${range}, but this tsstore provides ${PLUGIN_API_VERSION}`);
    }
    const existing = this.plugins.get(key);
    if (existing) {
      throw new Error(`plugin ${key} from ${source.package} is already registered by ${existing.source.package}`);
    }
    this.plugins.set(key, { descriptor, source });
  }

  get<K extends PluginDescriptor['kind']>(kind: K, type: string): Extract<PluginDescriptor, { kind: K }> | undefined {
    return this.plugins.get(`${kind}:${type}`)?.descriptor as Extract<PluginDescriptor, { kind: K }> | undefined;
  }

  types(kind: PluginDescriptor['kind']): string[] {
    return this.list().filter((p) => p.descriptor.kind === kind).map((p) => p.descriptor.type).sort();
  }

  list(): RegisteredPlugin[] {
    return [...this.plugins.values()];
  }
}
