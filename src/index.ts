/**
 * tsstore's public entry point (`require('tsstore')`).
 *
 * - The plugin API (also at `tsstore/plugin`, the entry a plugin package should import): the
 *   contracts (InputPlugin, Stage, Sink, IngestRecord, ...), defineInput/defineStage/defineSink,
 *   the TSS_ERR_* catalog, the clock, Joi and the exact-decoding helpers.
 * - Embedding: `loadConfig` / `checkConfig` and `TsstoreServer.start(config)` / `stop()`.
 * - Test harnesses live at `tsstore/testing` (sinkSuite, inputHarness): they import node:test,
 *   so they are kept out of this entry.
 *
 * Guide: docs/plugins.md.
 */
export * from './plugin/index.js';
export { TsstoreServer, MIN_ADMIN_KEY_LENGTH, type ServerOptions } from './server.js';
export { loadConfig, readConfig, ConfigError, type ConfigProblem, type LoadOptions } from './config/load-config.js';
export type { TsstoreConfig, PipelineConfig, PluginBlock, InputBlock } from './config/config-types.js';
export { checkConfig, type CheckedConfig } from './pipeline/check-config.js';
export { PluginRegistry, type PluginSource, type RegisteredPlugin } from './pipeline/registry.js';
