/**
 * Injection tokens of a server's parts (see src/server/compose.ts, the composition root). Each
 * names a contract; the composition root decides what fills it, and a test may swap any of them.
 */
export const TOKENS = {
  Config: Symbol.for('tsstore.Config'),
  Logger: Symbol.for('tsstore.Logger'),
  PluginRegistry: Symbol.for('tsstore.PluginRegistry'),
  Metrics: Symbol.for('tsstore.Metrics'),
  InputBinding: Symbol.for('tsstore.InputBinding'),
  /** The built pipelines: each with its sink, stages and inputs (constructed, not started). */
  Pipelines: Symbol.for('tsstore.Pipelines'),
  /** The data-path lock (taken when first resolved). */
  Lock: Symbol.for('tsstore.Lock'),
  Catalog: Symbol.for('tsstore.Catalog'),
  SchemaService: Symbol.for('tsstore.SchemaService'),
  /** One pipeline runner per pipeline, in config order. */
  Runners: Symbol.for('tsstore.Runners'),
  HttpOptions: Symbol.for('tsstore.HttpOptions'),
  Http: Symbol.for('tsstore.Http'),
} as const;
