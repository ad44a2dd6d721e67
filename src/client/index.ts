/**
 * `tsstore/client`: talk to a tsstore server from Node.js — REST calls, and WebSocket and
 * Unix-socket writers that pipeline with a bounded window and reconnect without losing or
 * duplicating records. Reference: docs/client.md.
 */
export { TsstoreError, type WriteRecord } from './common.js';
export {
  TsstoreClient,
  StoredRecord,
  parseObjects,
  type Ack,
  type BatchResult,
  type ClientOptions,
  type CreateStoreOptions,
  type CreatedStore,
  type NewestOptions,
  type RangeOptions,
  type ReadOptions,
  type ScanOptions,
  type StoreStats,
} from './rest.js';
export { UnixSocketWriter, WebSocketWriter, type Pending, type UnixWriterOptions, type WebSocketWriterOptions, type WriterOptions } from './writer.js';
