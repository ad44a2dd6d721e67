/**
 * Time-windowed aggregation of stored records (docs/protocol.md, "Aggregation"): the parameters
 * (spec.ts), exact number handling (numbers.ts) and the streaming window aggregator
 * (aggregator.ts). Used by the read routes; any reader of records in time order can use it.
 */
export * from './spec.js';
export * from './aggregator.js';
export { compareDecimalText } from './numbers.js';
