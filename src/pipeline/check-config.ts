/**
 * The whole-config check behind `serve` and `tsstore config validate`: the file and environment,
 * the plugin packages, then every pipeline (types, options, construction, resource claims). Every
 * problem comes back at once, each with its path; nothing is started and nothing touches the data.
 */
import type { TsstoreConfig } from '../config/config-types.js';
import { readConfig, type ConfigProblem, type LoadOptions } from '../config/load-config.js';
import { silentLogger } from '../core/logger.js';
import { buildPipelinesChecked, mergeProblems, type BuiltPipeline } from './pipeline-builder.js';
import { loadPluginsChecked } from './plugin-loader.js';
import type { PluginRegistry } from './registry.js';

export interface CheckedConfig {
  readonly config: TsstoreConfig;
  readonly registry: PluginRegistry;
  /** Built (never started) pipelines; empty when there are problems. */
  readonly pipelines: readonly BuiltPipeline[];
  readonly problems: readonly ConfigProblem[];
  /** Worth saying, not errors (e.g. a plugin package with its own copy of tsstore). */
  readonly warnings: readonly string[];
}

export async function checkConfig(opts: LoadOptions = {}): Promise<CheckedConfig> {
  const { config, problems: fileProblems } = await readConfig(opts);
  const { registry, problems: pluginProblems, warnings } = await loadPluginsChecked(config.plugins, config.source.dir);
  const { pipelines, problems: pipelineProblems } = buildPipelinesChecked(config, { registry, logger: silentLogger() });
  const problems = mergeProblems(fileProblems, pluginProblems, pipelineProblems);
  return { config, registry, pipelines: problems.length ? [] : pipelines, problems, warnings };
}
