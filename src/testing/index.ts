/** Test helpers for plugin authors (`tsstore/testing`). */
export { sinkSuite } from './sink-suite.js';
export type { SinkSuiteFactory } from './sink-suite.js';
