/** Injection tokens for values and interfaces (classes are their own tokens). */
export const TOKENS = {
  Config: Symbol.for('tsstore.Config'),
  Logger: Symbol.for('tsstore.Logger'),
  PluginRegistry: Symbol.for('tsstore.PluginRegistry'),
  HttpOptions: Symbol.for('tsstore.HttpOptions'),
} as const;
