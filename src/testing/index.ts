/**
 * Test helpers for plugin authors (`tsstore/testing`): `sinkSuite` (the compliance suite every
 * sink runs with one line) and `inputHarness` (an input against a real store catalog, pipeline
 * and in-memory sink, without a full server). See docs/plugins.md.
 */
export { sinkSuite } from './sink-suite.js';
export type { SinkSuiteFactory } from './sink-suite.js';
export { inputHarness } from './input-harness.js';
export type { InputHarness, InputHarnessOptions, HarnessEmit } from './input-harness.js';
/** A Logger that drops everything (for plugin contexts built in tests). */
export { silentLogger } from '../core/logger.js';
