/**
 * The public plugin API (`tsstore/plugin`): contracts, descriptors (defineInput/defineStage/
 * defineSink), the error catalog, the clock, joi and the exact-decoding helpers. A plugin package
 * imports only this module (and `tsstore/testing` in its tests); never tsstore internals or the DI
 * container. See docs/plugins.md.
 */
export * from './errors.js';
export * from './record.js';
export * from './sink.js';
export * from './stage.js';
export * from './input.js';
export * from './descriptor.js';
export * from './clock.js';
/** joi, for plugin option schemas: a plugin package needs no joi of its own. */
export { default as Joi } from 'joi';
/**
 * Exact JSON helpers every input should use: envelopes and batch bodies decoded in one strict pass
 * (timestamps beyond 2^53 stay exact, data stays the client's bytes), a strict validity check,
 * and parse/stringify with exact integers for management documents.
 */
export {
  decodeEnvelope, decodeNdjson, decodeJsonArray, parseTimestampToken, isJson, parseJsonExact, stringifyExact, type Envelope,
} from '../core/json/index.js';
