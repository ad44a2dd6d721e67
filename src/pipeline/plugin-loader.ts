/**
 * Loading plugins: the built-ins, then every package named in `plugins:` (an npm name, resolved
 * from the config file's directory, or a path relative to the config file). A package's main
 * export is a descriptor, an array of descriptors, or `{ plugins: [...] }` (default export or
 * CommonJS). Built-ins go through the same `register` as outside packages.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PluginDescriptor } from '../plugin/descriptor.js';
import { ConfigError, type ConfigProblem } from '../config/load-config.js';
import { BUILTIN_PLUGINS } from './builtins.js';
import { PluginRegistry } from './registry.js';

function descriptorsOf(mod: unknown): PluginDescriptor[] {
  const m = (mod as { default?: unknown })?.default ?? mod;
  const list = Array.isArray(m) ? m : Array.isArray((m as { plugins?: unknown })?.plugins) ? (m as { plugins: unknown[] }).plugins : [m];
  return list.filter((d): d is PluginDescriptor => typeof d === 'object' && d !== null && 'kind' in d && 'type' in d && 'create' in d);
}

/** The package.json nearest to a module's entry file. */
function manifestOf(entry: string): { name?: string; version?: string } {
  let dir = path.dirname(entry);
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try { return JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string; version?: string }; } catch { return {}; }
    }
    const up = path.dirname(dir);
    if (up === dir) return {};
    dir = up;
  }
}

export const TSSTORE_VERSION: string = (JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;

/** Builds a registry and returns every package that failed, each as a problem at `plugins.N`. */
export function loadPluginsChecked(packages: readonly string[], baseDir: string): { registry: PluginRegistry; problems: ConfigProblem[] } {
  const registry = new PluginRegistry();
  for (const d of BUILTIN_PLUGINS) registry.register(d, { package: 'tsstore', version: TSSTORE_VERSION });
  const problems: ConfigProblem[] = [];
  packages.forEach((name, i) => {
    const at = `plugins.${i}`;
    let entry: string;
    try {
      const isPath = name.startsWith('.') || path.isAbsolute(name);
      entry = require.resolve(isPath ? path.resolve(baseDir, name) : name, { paths: [baseDir] });
    } catch (err) {
      problems.push({ path: at, message: `cannot find plugin package "${name}" (from ${baseDir}): ${(err as Error).message.split('\n')[0]}` });
      return;
    }
    const manifest = manifestOf(entry);
    const source = { package: manifest.name ?? name, version: manifest.version, from: name };
    let found: PluginDescriptor[];
    try {
      found = descriptorsOf(require(entry)); // eslint-disable-line @typescript-eslint/no-require-imports -- plugins are loaded by resolved path at run time
    } catch (err) {
      problems.push({ path: at, message: `plugin package "${name}" failed to load: ${(err as Error).message.split('\n')[0]}` });
      return;
    }
    if (found.length === 0) {
      problems.push({ path: at, message: `plugin package "${name}" exports no plugin descriptors (expected a descriptor, an array of them, or { plugins: [...] })` });
      return;
    }
    for (const d of found) {
      try {
        registry.register(d, source);
      } catch (err) {
        problems.push({ path: at, message: (err as Error).message });
      }
    }
  });
  return { registry, problems };
}

/** Builds a registry; throws a ConfigError listing every package that failed. */
export function loadPlugins(packages: readonly string[], baseDir: string, file?: string): PluginRegistry {
  const { registry, problems } = loadPluginsChecked(packages, baseDir);
  if (problems.length) throw new ConfigError(problems, file);
  return registry;
}
