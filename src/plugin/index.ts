/**
 * The public plugin API (`tsstore/plugin`): contracts, descriptors (defineInput/defineStage/
 * defineSink/defineOutput), the error catalog (+ isTssError), the clock, the toolkit (./kit), joi and the exact
 * JSON helpers. A plugin package imports only this module (and `tsstore/testing` in its tests);
 * never tsstore internals or the DI container. The built-in plugins import it the same way, by
 * the package's own name. See docs/plugins.md.
 */
export * from './errors.js';
export * from './record.js';
export * from './sink.js';
export * from './stage.js';
export * from './input.js';
export * from './output.js';
export * from './descriptor.js';
export * from './clock.js';
export * from './kit/index.js';
/** joi, for plugin option schemas: a plugin package needs no joi of its own. */
export { default as Joi } from 'joi';
/**
 * Exact JSON helpers (timestamps beyond 2^53 stay exact; stored JSON bytes are never
 * re-serialised), all on one strict byte scanner: envelopes and batch bodies decoded in one pass,
 * a strict validity check, a member cursor over a JSON object's bytes, exact parse/stringify, and
 * the acknowledgement body.
 */
export {
  decodeEnvelope,
  decodeNdjson,
  decodeJsonArray,
  parseTimestampToken,
  isJson,
  invalidJsonMessage,
  objectStart,
  nextMember,
  memberKey,
  parseJsonExact,
  stringifyExact,
  acceptedJson,
  type Envelope,
  type MemberSpan,
} from '../core/json/index.js';
/** Alert-rule conditions (`temp > 80 AND (room == "lab" OR n >= 9007199254740993)`), parsed once, exact on big integers. */
export {
  Condition,
  ConditionError,
  MAX_CONDITION_TERMS,
  MAX_CONDITION_DEPTH,
  type ConditionNode,
  type ConditionOperator,
  type ConditionValue,
} from '../core/condition.js';
/** A schema compiled for lookups by field name and compact index (schema stages). */
export { layoutOf, expandCompact, type SchemaLayout } from '../core/schema-layout.js';
/** Stored bytes as JSON text per data type (as reads show them), and the read routes' substring filter. */
export { renderData, substringFilter } from '../core/render-data.js';
/**
 * Time-windowed aggregation of stored records (the read routes' `agg_window`): parse the
 * parameters once, feed records in time order, get each window as it closes.
 */
export {
  parseAggregation,
  checkAggregationFor,
  checkWindowCount,
  WindowAggregator,
  aggWindowJson,
  AGG_FUNCTIONS,
  MAX_AGG_WINDOWS,
  MAX_AGG_FIELDS,
  type AggregationSpec,
  type AggregationParams,
  type AggFunction,
  type AggWindow,
  type AggregatorOptions,
} from '../core/aggregate/index.js';
