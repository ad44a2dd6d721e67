/**
 * Loading plugins: the built-ins, then every package named in `plugins:` (an npm name, or a path
 * resolved relative to the config file). A package's main export is a descriptor, an array of
 * descriptors, or `{ plugins: [...] }` (default export or CommonJS).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PluginDescriptor } from '../plugin/descriptor.js';
import { BUILTIN_PLUGINS } from './builtins.js';
import { PluginRegistry } from './registry.js';

function descriptorsOf(mod: unknown): PluginDescriptor[] {
  const m = (mod as { default?: unknown })?.default ?? mod;
  const list = Array.isArray(m) ? m : Array.isArray((m as { plugins?: unknown })?.plugins) ? (m as { plugins: unknown[] }).plugins : [m];
  return list.filter((d): d is PluginDescriptor => typeof d === 'object' && d !== null && 'kind' in d && 'type' in d && 'create' in d);
}

function versionOf(entry: string): string | undefined {
  let dir = path.dirname(entry);
  for (let i = 0; i < 5; i++) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) return (JSON.parse(fs.readFileSync(pj, 'utf8')) as { version?: string }).version;
    dir = path.dirname(dir);
  }
  return undefined;
}

/** Builds a registry; throws one Error listing every package that failed. */
export function loadPlugins(packages: readonly string[], baseDir: string): PluginRegistry {
  const registry = new PluginRegistry();
  const ownVersion = (JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;
  for (const d of BUILTIN_PLUGINS) registry.register(d, { package: 'tsstore', version: ownVersion });
  const problems: string[] = [];
  for (const name of packages) {
    try {
      const isPath = name.startsWith('.') || path.isAbsolute(name);
      const entry = require.resolve(isPath ? path.resolve(baseDir, name) : name, { paths: [baseDir] });
      const found = descriptorsOf(require(entry)); // eslint-disable-line @typescript-eslint/no-require-imports -- plugins are loaded by resolved path at run time
      if (found.length === 0) throw new Error('exports no plugin descriptors (expected a descriptor, an array of them, or { plugins: [...] })');
      for (const d of found) registry.register(d, { package: name, version: versionOf(entry) });
    } catch (err) {
      problems.push(`plugins: ${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (problems.length) throw new Error(`cannot load plugins:\n  - ${problems.join('\n  - ')}`);
  return registry;
}
