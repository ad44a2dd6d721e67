/**
 * Input plugin contract: an input moves bytes. It accepts connections or requests, decodes its
 * protocol's framing into IngestRecords, hands them to `emit`, and maps each RecordResult back to
 * its protocol (HTTP status, ack/error frame, `OK`/`ERROR` line). It never parses schemas or
 * touches storage.
 *
 * Lifecycle: `create` (validate options, no I/O) -> `start(emit)` (bind ports, register routes;
 * may throw, e.g. address in use) -> `stop()` (stop accepting, finish what was received: wait for
 * outstanding emits and answer them, then release resources). `stop` is idempotent.
 */
import type { RecordResult, IngestRecord } from './record.js';

/**
 * Hand records to the pipeline. Resolves, one result per record in order, when the sink holds
 * them durably: the resolution is both the acknowledgement and the back-pressure signal (an input
 * should bound how many emits it has outstanding). Never rejects for bad data; rejects only when
 * the pipeline itself is unusable (shutting down, sink closed).
 */
export type Emit = (records: IngestRecord[]) => Promise<RecordResult[]>;

/** Something an input claims exclusively; two inputs claiming the same one is a config error. */
export interface Resource {
  readonly kind: 'tcp-port' | 'unix-socket' | 'http-route' | 'connection-mode';
  /**
   * e.g. `0.0.0.0:21080`, `/var/run/tsstore/tsstore.sock`, `GET /api/stores/:store/ws/write`, or
   * for `connection-mode` the mode a plugin registers on `HttpHost.connections` (`pull`, `push`).
   */
  readonly id: string;
}

export interface InputPlugin {
  start(emit: Emit): Promise<void>;
  stop(): Promise<void>;
  /** Resources this input will claim (known from options alone, before start). */
  resources?(): Resource[];
}
