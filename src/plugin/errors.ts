/**
 * The catalog of every error tsstore reports to a client: a stable code, the HTTP status a REST
 * client sees, and the message (listed and explained in docs/errors.md, generated from this
 * catalog and src/core/error-docs.ts by `npm run docs:errors`). Inputs map a code to their own
 * protocol (HTTP status, WebSocket error frame, `ERROR <message>` line); nothing else invents
 * client-facing error text.
 */
export const ERRORS = {
  TSS_ERR_ADMIN_KEY_REQUIRED: { status: 401, message: 'admin key required' },
  TSS_ERR_ADMIN_KEY_INVALID: { status: 401, message: 'invalid admin key' },
  TSS_ERR_API_KEY_REQUIRED: { status: 401, message: 'API key required' },
  TSS_ERR_API_KEY_FORMAT: { status: 401, message: 'invalid API key format' },
  TSS_ERR_API_KEY_INVALID: { status: 401, message: 'invalid API key' },
  TSS_ERR_STORE_NOT_FOUND: { status: 404, message: 'store not found' },
  TSS_ERR_METRICS_UNAUTHORIZED: { status: 401, message: 'metrics need the admin key or the metrics token' },
  TSS_ERR_SESSION_ENDED: { status: 401, message: 'session ended' },
  TSS_ERR_STORE_EXISTS: { status: 409, message: 'store already exists' },
  TSS_ERR_STORE_NAME: { status: 400, message: 'invalid store name' },
  TSS_ERR_STORE_OPTIONS: { status: 400, message: 'invalid store options' },
  TSS_ERR_WRONG_PIPELINE: { status: 409, message: 'store belongs to another pipeline' },
  TSS_ERR_BAD_REQUEST: { status: 400, message: 'bad request' },
  TSS_ERR_INVALID_JSON: { status: 400, message: 'invalid JSON' },
  TSS_ERR_DATA_REQUIRED: { status: 400, message: 'data is required' },
  TSS_ERR_DATA_TYPE_MISMATCH: { status: 400, message: "data does not match store's data type" },
  TSS_ERR_INVALID_DATA: { status: 400, message: 'invalid data' },
  TSS_ERR_TIMESTAMP_INVALID: { status: 400, message: 'invalid timestamp' },
  TSS_ERR_TIMESTAMP_ORDER: { status: 409, message: 'timestamp must be greater than newest entry' },
  TSS_ERR_SCHEMA_REQUIRED: { status: 400, message: 'store has no schema' },
  TSS_ERR_SCHEMA_INVALID: { status: 400, message: 'invalid schema' },
  TSS_ERR_SCHEMA_VIOLATION: { status: 400, message: 'data does not match schema' },
  TSS_ERR_NOT_SCHEMA_STORE: { status: 400, message: 'store is not a schema store' },
  TSS_ERR_QUERY_INVALID: { status: 400, message: 'invalid query parameter' },
  TSS_ERR_NOT_FOUND: { status: 404, message: 'not found' },
  TSS_ERR_CONNECTION_NOT_FOUND: { status: 404, message: 'connection not found' },
  TSS_ERR_CONNECTION_LIMIT: { status: 409, message: 'too many connections for this store' },
  TSS_ERR_OUTBOUND_FORBIDDEN: { status: 403, message: 'outbound connection not allowed' },
  TSS_ERR_BODY_TOO_LARGE: { status: 413, message: 'request body too large' },
  TSS_ERR_RECORD_TOO_LARGE: { status: 413, message: 'record larger than the store can hold' },
  TSS_ERR_MESSAGE_TOO_LARGE: { status: 413, message: 'message too large' },
  TSS_ERR_LINE_TOO_LONG: { status: 413, message: 'line too long' },
  TSS_ERR_UNSUPPORTED_MEDIA: { status: 415, message: 'unsupported content type' },
  TSS_ERR_UPGRADE_REQUIRED: { status: 426, message: 'upgrade required' },
  TSS_ERR_READS_UNSUPPORTED: { status: 501, message: "this store's sink does not serve reads" },
  TSS_ERR_DISK_FULL: { status: 507, message: 'insufficient storage' },
  TSS_ERR_STORE_LOCKED: { status: 423, message: 'store directory is locked by another process' },
  TSS_ERR_SHUTTING_DOWN: { status: 503, message: 'server is shutting down' },
  TSS_ERR_SINK_CLOSED: { status: 503, message: 'sink is not open' },
  TSS_ERR_STORE_UNAVAILABLE: { status: 503, message: 'store is unavailable (its files are damaged or unreadable)' },
  TSS_ERR_UPSTREAM: { status: 502, message: 'upstream error' },
  TSS_ERR_INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** A failure with a catalog code. `message` defaults to the catalog text. */
export class TssError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'TssError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}

/** A per-record rejection: data, never thrown. */
export interface Rejection {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
}

export function reject(code: ErrorCode, message?: string): Rejection {
  return { ok: false, code, message: message ?? ERRORS[code].message };
}

export function statusOf(code: ErrorCode): number {
  return ERRORS[code].status;
}

/**
 * Whether `err` is a tsstore error, recognised by its catalog `code` (and `status`), never by class
 * identity: a plugin that resolves another copy of tsstore (its own node_modules) throws errors of
 * another TssError class, and they must still count. Use this instead of `instanceof TssError`.
 */
export function isTssError(err: unknown): err is TssError {
  if (typeof err !== 'object' || err === null) return false;
  const { code, status } = err as { code?: unknown; status?: unknown };
  return typeof code === 'string' && Object.hasOwn(ERRORS, code) && typeof status === 'number' && err instanceof Error;
}

/** Turn anything thrown into a catalog error (unknown errors become TSS_ERR_INTERNAL). */
export function toTssError(err: unknown): TssError {
  if (err instanceof TssError) return err;
  if (isTssError(err)) {
    // A TssError of another tsstore copy: same code and message, this copy's class.
    const e = new TssError(err.code, err.message, { cause: err });
    if (err.status !== e.status) (e as { status: number }).status = err.status;
    return e;
  }
  const e = err as NodeJS.ErrnoException | undefined;
  if (e && (e.code === 'ENOSPC' || e.code === 'EDQUOT' || e.code === 'EFBIG')) {
    return new TssError('TSS_ERR_DISK_FULL', `insufficient storage: ${e.message}`, { cause: err });
  }
  return new TssError('TSS_ERR_INTERNAL', undefined, { cause: err });
}
