/**
 * Loading plugins: the built-ins, then every package named in `plugins:` (an npm name, resolved
 * from the config file's directory and, failing that, next to tsstore itself — the global
 * `node_modules` of `npm install -g tsstore`, where `npm install -g <plugin>` puts plugins — or a
 * path relative to the config file). A package's main
 * export is a descriptor, an array of descriptors, or `{ plugins: [...] }` (default export,
 * named `plugins` export, or CommonJS `module.exports`); CommonJS and ES module packages both
 * load. Built-ins go through the same `register` as outside packages. A package that resolves a
 * second copy of tsstore works, and is warned about once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Logger, PluginDescriptor } from '../plugin/descriptor.js';
import { ConfigError, type ConfigProblem } from '../config/load-config.js';
import { BUILTIN_PLUGINS } from './builtins.js';
import { PluginRegistry } from './registry.js';

function descriptorsOf(mod: unknown): PluginDescriptor[] {
  // import() of CommonJS gives `module.exports` as `default`; TypeScript's CommonJS output of
  // `export default` puts the descriptor one `default` deeper.
  let m = mod;
  for (
    let depth = 0;
    depth < 2 &&
    typeof m === 'object' &&
    m !== null &&
    'default' in m &&
    !('kind' in m) &&
    !('plugins' in m && Array.isArray((m as { plugins?: unknown }).plugins));
    depth++
  ) {
    m = (m as { default: unknown }).default;
  }
  const list = Array.isArray(m) ? m : Array.isArray((m as { plugins?: unknown })?.plugins) ? (m as { plugins: unknown[] }).plugins : [m];
  return list.filter((d): d is PluginDescriptor => typeof d === 'object' && d !== null && 'kind' in d && 'type' in d && 'create' in d);
}

/** The package.json nearest to a module's entry file. */
function manifestOf(entry: string): { name?: string; version?: string } {
  let dir = path.dirname(entry);
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string; version?: string };
      } catch {
        return {};
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return {};
    dir = up;
  }
}

export const TSSTORE_VERSION: string = (JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;

/** Where a package resolves `tsstore/plugin` from, when it can (its package root), else undefined. */
function tsstoreRootFor(entry: string): string | undefined {
  try {
    // A require() of the package's own (require.resolve's `paths` would first try tsstore's
    // self-reference from this file and always find this copy).
    return packageRootOf(fs.realpathSync(createRequire(entry).resolve('tsstore/plugin')));
  } catch {
    return undefined;
  }
}

function packageRootOf(file: string): string {
  let dir = path.dirname(file);
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** The tsstore this code runs from (its package root). */
const OWN_ROOT = packageRootOf(fs.realpathSync(__filename));
/**
 * The `node_modules` directory tsstore is installed in, when it is (`npm install -g tsstore`
 * gives `<prefix>/lib/node_modules/tsstore`): plugin packages installed next to it
 * (`npm install -g <plugin>`) resolve from there when the config file's directory does not have
 * them. Undefined for a checkout of the repository.
 */
const INSTALLED_IN: string | undefined = (() => {
  let dir = path.dirname(OWN_ROOT);
  if (path.basename(dir).startsWith('@')) dir = path.dirname(dir);
  return path.basename(dir) === 'node_modules' ? dir : undefined;
})();
/** Copies of tsstore already warned about: the loader warns once per copy per process. */
const warnedCopies = new Set<string>();

/**
 * The entry file of a package named in `plugins:`. CommonJS resolution first (`main`, or `exports`
 * with `require`/`default`); for an ESM-only package whose `exports` offer only `import`, its
 * package.json is read to find the `import` target.
 */
function resolveEntry(name: string, baseDir: string): string {
  const isPath = name.startsWith('.') || path.isAbsolute(name);
  const request = isPath ? path.resolve(baseDir, name) : name;
  const from = isPath ? [baseDir] : [baseDir, ...(INSTALLED_IN ? [INSTALLED_IN] : [])];
  try {
    return require.resolve(request, { paths: from });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && from.length > 1) {
      throw new Error(`Cannot find package '${name}' from ${baseDir} nor next to tsstore in ${INSTALLED_IN}`);
    }
    if ((err as NodeJS.ErrnoException).code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw err;
    const dir = isPath ? request : findPackageDir(name, from);
    const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { exports?: unknown };
    const target = importTarget(pj.exports);
    if (!target) throw err;
    return path.resolve(dir, target);
  }
}

function findPackageDir(name: string, starts: readonly string[]): string {
  for (const start of starts) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      const candidate = path.basename(dir) === 'node_modules' ? path.join(dir, name) : path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`Cannot find package '${name}'`);
}

/** The `import` (else `node`, `default`) target of a package's `exports` for `.`. */
function importTarget(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (!exports || typeof exports !== 'object') return undefined;
  const e = exports as Record<string, unknown>;
  const dot = '.' in e ? e['.'] : e;
  if (typeof dot === 'string') return dot;
  if (!dot || typeof dot !== 'object') return undefined;
  for (const condition of ['import', 'node', 'default']) {
    const t = importTarget((dot as Record<string, unknown>)[condition]);
    if (t) return t;
  }
  return undefined;
}

export interface LoadedPlugins {
  readonly registry: PluginRegistry;
  readonly problems: ConfigProblem[];
  /** Not errors, worth an operator's attention (e.g. a plugin running another copy of tsstore). */
  readonly warnings: string[];
}

/**
 * Builds a registry and returns every package that failed, each as a problem at `plugins.N`.
 * Packages load through `import()`, so CommonJS and ES modules both work; a CommonJS package's
 * `module.exports` is its default export.
 */
export async function loadPluginsChecked(packages: readonly string[], baseDir: string): Promise<LoadedPlugins> {
  const registry = new PluginRegistry();
  for (const d of BUILTIN_PLUGINS) registry.register(d, { package: 'tsstore', version: TSSTORE_VERSION });
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  for (const [i, name] of packages.entries()) {
    const at = `plugins.${i}`;
    let entry: string;
    try {
      entry = resolveEntry(name, baseDir);
    } catch (err) {
      problems.push({ path: at, message: `cannot find plugin package "${name}" (from ${baseDir}): ${(err as Error).message.split('\n')[0]}` });
      continue;
    }
    const manifest = manifestOf(entry);
    const source = { package: manifest.name ?? name, version: manifest.version, from: name };
    let found: PluginDescriptor[];
    try {
      found = descriptorsOf(await import(pathToFileURL(entry).href));
    } catch (err) {
      problems.push({ path: at, message: `plugin package "${name}" failed to load: ${(err as Error).message.split('\n')[0]}` });
      continue;
    }
    if (found.length === 0) {
      problems.push({
        path: at,
        message: `plugin package "${name}" exports no plugin descriptors (expected a descriptor, an array of them, or { plugins: [...] })`,
      });
      continue;
    }
    const copy = tsstoreRootFor(entry);
    if (copy && copy !== OWN_ROOT && !warnedCopies.has(copy)) {
      warnedCopies.add(copy);
      warnings.push(
        `plugin package "${name}" resolves tsstore from ${copy}, but the server runs tsstore from ${OWN_ROOT}: two copies of tsstore's modules are loaded. It works (errors are recognised by their codes), but install tsstore once, as the plugin's peer dependency, so both use one copy.`,
      );
    }
    for (const d of found) {
      try {
        registry.register(d, source);
      } catch (err) {
        problems.push({ path: at, message: (err as Error).message });
      }
    }
  }
  return { registry, problems, warnings };
}

/** Builds a registry; throws a ConfigError listing every package that failed; logs warnings. */
export async function loadPlugins(packages: readonly string[], baseDir: string, file?: string, logger?: Logger): Promise<PluginRegistry> {
  const { registry, problems, warnings } = await loadPluginsChecked(packages, baseDir);
  if (problems.length) throw new ConfigError(problems, file);
  for (const w of warnings) logger?.warn({ component: 'plugin-loader' }, w);
  return registry;
}
