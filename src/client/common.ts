/** Types shared by the REST client and the streaming writers of `tsstore/client`. */

/** A record to write: `data` (any JSON-able value) or `json` (its exact JSON text), and an optional timestamp. */
export interface WriteRecord {
  /** Nanoseconds since the Unix epoch; omitted: the server (REST) or the writer (streams) picks one. */
  readonly timestamp?: bigint;
  /** The record's data, sent as `JSON.stringify(data)`. */
  readonly data?: unknown;
  /** The record's data as JSON text, sent byte for byte (takes precedence over `data`). */
  readonly json?: string | Buffer;
}

/** An error answered by the server (`status` for HTTP, `code` the stable `TSS_ERR_*`) or met on the way. */
export class TsstoreError extends Error {
  readonly status?: number;
  readonly code?: string;
  /** The server's own error text (`error` of its answer), without what the client was doing. */
  readonly serverMessage?: string;
  constructor(message: string, opts: { status?: number; code?: string; serverMessage?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TsstoreError';
    this.status = opts.status;
    this.code = opts.code;
    this.serverMessage = opts.serverMessage;
  }
}

/** The data's JSON bytes. */
export function encodeData(r: WriteRecord): Buffer {
  if (r.json !== undefined) return typeof r.json === 'string' ? Buffer.from(r.json) : r.json;
  if (r.data === undefined) throw new TypeError('a record needs data (or json)');
  return Buffer.from(JSON.stringify(r.data));
}
