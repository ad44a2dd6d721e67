/**
 * The plugin toolkit (part of `tsstore/plugin`): what the built-in inputs and sinks use to be fast
 * and correct, public for every plugin.
 *
 * - EmitBatcher: group commit across connections (one `emit` per event-loop turn).
 * - OrderedReplies: per-connection replies in arrival order with high/low water back-pressure.
 * - LineSplitter: newline framing with a length limit.
 * - HTTP helpers for routes on the HTTP host: `readBody` (size limit), `readJsonObject`,
 *   `mediaType`, `apiKeyOf` (tsstore's key order), `formatParam`, `errorBody` / `sendError`.
 * - State files: `writeFileAtomic` (temp file, fsync, rename, directory fsync), `readStateFile`.
 * - `parseDurationNs` (`30s`, `15m`, `2h`, `7d`, `1w`), `backoffDelay` (exponential, jittered),
 *   `SerialQueue` (one task at a time, in call order).
 * - `OutboundPolicy`: the outbound allow-list every URL the server dials for a user goes through
 *   (`ctx.outbound.check(url)` before the dial, `ctx.outbound.lookupFor(url)` as the dial's lookup).
 */
export { EmitBatcher, type ResultsCallback } from './emit-batcher.js';
export { OrderedReplies, type ReplyTransport } from './ordered-replies.js';
export { LineSplitter, type LineHandler } from './line-splitter.js';
export { readBody, readJsonObject, mediaType } from './http-body.js';
export { apiKeyOf, formatParam, errorBody, sendError, queryValue, upgradeOrClose, handshakeHeaders, type ApiKeyOptions } from './http.js';
export { writeFileAtomic, syncDir, readStateFile, removeAtomicLeftovers, loadStoreStateFiles, type StoreState } from './state-file.js';
export { parseDurationNs } from './duration.js';
export { backoffDelay } from './backoff.js';
export { SerialQueue } from './serial-queue.js';
export {
  OutboundPolicy,
  DEFAULT_OUTBOUND,
  nonPublicReason,
  shownUrl,
  type OutboundOptions,
  type OutboundDecision,
  type OutboundLookup,
  type OutboundResolver,
} from './outbound.js';
