/**
 * What each catalog error means for a client: the source of docs/errors.md. The type makes an
 * entry for every code of ERRORS mandatory (a new code without one does not compile);
 * test/errors-doc.test.ts fails when docs/errors.md differs from `renderErrorsDoc()`.
 * Regenerate the page with `npm run docs:errors`.
 */
import { ERRORS, type ErrorCode } from '../plugin/errors.js';

export interface ErrorDoc {
  /** When the error happens, in a sentence or two, from the client's side. */
  readonly when: string;
  /** What the client (or operator) can do about it; omitted when it is obvious from `when`. */
  readonly fix?: string;
}

export const ERROR_DOCS = {
  TSS_ERR_ADMIN_KEY_REQUIRED: { when: 'An admin route (create or list stores, key management) was called without `X-Admin-Key` or `?admin_key=`.' },
  TSS_ERR_ADMIN_KEY_INVALID: { when: "The admin key sent does not match the server's (`server.admin_key` / `TSSTORE_ADMIN_KEY`)." },
  TSS_ERR_API_KEY_REQUIRED: {
    when: 'A store route, WebSocket handshake or Unix-socket `AUTH` line came without a store key.',
    fix: 'Send it in `X-API-Key`, `Authorization: Bearer`, or `?api_key=` (on the Unix socket: `AUTH <store> <key>`).',
  },
  TSS_ERR_API_KEY_FORMAT: { when: 'The string sent as a store key is not shaped like one (`tsstore_` followed by a UUID).' },
  TSS_ERR_API_KEY_INVALID: {
    when: 'A well-formed key that is not a current key of this store: revoked, regenerated, or a key of another store. A store key sent for a store that does not exist (or whose key file is damaged) gets the same answer, in the same time, so a key cannot be used to find out which store names exist.',
  },
  TSS_ERR_SESSION_ENDED: {
    when: 'A WebSocket or Unix-socket session (or any long-lived input session) was ended because the key it authenticated with was revoked or regenerated, or its store was deleted or reset. Records not yet handed to the store get this error; then the connection closes (WebSocket close code 1008). The message says which.',
    fix: 'Reconnect with a current key of the store.',
  },
  TSS_ERR_STORE_NOT_FOUND: {
    when: 'No store has this name (never created, or deleted). The message names the store. Answered to the admin key (and on routes that took a valid store key when the store was deleted meanwhile); a store key for an unknown store gets `TSS_ERR_API_KEY_INVALID` instead (no store probing).',
  },
  TSS_ERR_METRICS_UNAUTHORIZED: {
    when: '`GET /metrics` came without a credential, or with a wrong one: /metrics lists every store, so it needs the admin key (`X-Admin-Key`, `Authorization: Bearer`) or the scrape token `server.metrics_token` (`Authorization: Bearer`), unless `server.public_metrics` is true.',
    fix: 'Give Prometheus the token: `authorization: { credentials: <token> }` (or `bearer_token`) in the scrape config.',
  },
  TSS_ERR_STORE_EXISTS: { when: '`POST /api/stores` (or `tsstore create`) with the name of an existing store.' },
  TSS_ERR_STORE_NAME: { when: 'A store name that is empty or does not match `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$` (path tricks such as `../x` included).' },
  TSS_ERR_STORE_OPTIONS: {
    when: 'A creation option is wrong: block count or block size (sizes are powers of two, at least 64), an unknown data type, an unconfigured pipeline. The message names the option.',
  },
  TSS_ERR_WRONG_PIPELINE: {
    when: 'With several pipelines: an input of one pipeline was given a record for a store that belongs to another.',
    fix: "Write through an input of the store's pipeline.",
  },
  TSS_ERR_BAD_REQUEST: {
    when: 'A request the server cannot use as sent: a malformed HTTP request, or a pull-connection body with a wrong field (the message names it).',
  },
  TSS_ERR_INVALID_JSON: {
    when: 'A body, message, line or `data` value that is not valid JSON, or not valid UTF-8. The message says where the scanner stopped.',
  },
  TSS_ERR_DATA_REQUIRED: { when: 'An envelope without `data`, or an empty text/binary body.' },
  TSS_ERR_DATA_TYPE_MISMATCH: {
    when: "The data does not fit the store's data type: a REST `Content-Type` other than the type's (`application/json`, `text/plain`, `application/octet-stream`) or, on a batch insert, other than NDJSON or `application/json`, or `data` that is not a string for text stores or not base64 for binary stores.",
  },
  TSS_ERR_INVALID_DATA: { when: 'Data of the right shape with bad content, such as text that is not valid UTF-8.' },
  TSS_ERR_TIMESTAMP_INVALID: {
    when: 'A timestamp that is not a non-negative integer of nanoseconds at most 2^63 − 1 (a string, a fraction, a negative number, too many digits).',
  },
  TSS_ERR_TIMESTAMP_ORDER: {
    when: "The record's timestamp is not greater than the store's newest record. Timestamps strictly increase per store. Also a record without timestamp in a store whose newest record has the largest timestamp, 2^63 − 1: no timestamp is left to assign.",
    fix: "Send increasing timestamps, or leave `timestamp` out to get the server's time.",
  },
  TSS_ERR_SCHEMA_REQUIRED: {
    when: 'A write to a schema store that has no schema yet.',
    fix: 'Set one with `PUT /api/stores/:store/schema` or `tsstore schema set`.',
  },
  TSS_ERR_SCHEMA_INVALID: {
    when: 'A schema body that is malformed, or a new version that renames, retypes, drops a field or reuses an index (schemas only grow). The message names the field.',
  },
  TSS_ERR_SCHEMA_VIOLATION: {
    when: "A schema store's record does not match its schema: not a flat object, a key that is no field, or a value that does not fit the field's type. The message names the field, its type and the value.",
  },
  TSS_ERR_NOT_SCHEMA_STORE: { when: 'A schema route on a store not created with `data_type: schema`.' },
  TSS_ERR_QUERY_INVALID: {
    when: 'A bad query parameter: `limit`, `since`, `start_time`, `end_time`, `after`, `include_data`, `format`, `filter_ignore_case`. The message names the parameter and the value.',
  },
  TSS_ERR_NOT_FOUND: { when: 'No record has this timestamp (reads and soft deletes by time), or no route matches the path.' },
  TSS_ERR_CONNECTION_NOT_FOUND: { when: 'No pull connection of this store has this id.' },
  TSS_ERR_CONNECTION_LIMIT: { when: "Creating a pull connection beyond the input's `max_connections_per_store`." },
  TSS_ERR_OUTBOUND_FORBIDDEN: {
    when: "A URL the server would dial (a pull connection's `url`) points at an address the outbound allow-list refuses: loopback, private, link-local (cloud metadata), or any address not allowed when `outbound.allow_public` is false. Checked after DNS resolution; the message names the URL, the address and why.",
    fix: 'Use a public address, or have the operator allow the target in the config\'s `outbound.allow` (a URL prefix, host name, address or CIDR; see the README, "Outbound connections").',
  },
  TSS_ERR_BODY_TOO_LARGE: {
    when: 'A request body above the limit (REST `body_limit`, default 1 MiB; batch `batch_body_limit`, default 64 MiB). The message gives the limit. The server reads and discards up to 16 MiB of the rest of the body, so a client still sending reads this answer (and the connection stays usable); beyond that the connection is closed after the answer.',
  },
  TSS_ERR_RECORD_TOO_LARGE: { when: "A record larger than the whole store (or than the sink's largest record) can hold. Nothing is written." },
  TSS_ERR_MESSAGE_TOO_LARGE: {
    when: "A WebSocket message above the input's `max_message` (default 1 MiB); the connection stays open. Frames above `server.ws_max_frame` close it with 1009 instead.",
  },
  TSS_ERR_LINE_TOO_LONG: {
    when: 'A Unix-socket line above `max_line` (default 1 MiB). Answered once; the rest of the line is skipped and the connection carries on.',
  },
  TSS_ERR_UNSUPPORTED_MEDIA: {
    when: "A plugin route refused a request's `Content-Type`. The built-in inserts answer a wrong Content-Type with 400 `TSS_ERR_DATA_TYPE_MISMATCH` instead (single and batch alike, as the reference does).",
  },
  TSS_ERR_UPGRADE_REQUIRED: { when: 'A plain HTTP GET to the WebSocket endpoint.', fix: 'Connect with a WebSocket client.' },
  TSS_ERR_READS_UNSUPPORTED: { when: 'A read or soft delete on a store whose sink cannot serve reads (for example a forwarding JetStream sink).' },
  TSS_ERR_DISK_FULL: {
    when: 'The disk (or a quota or file-size limit) refused the write. Nothing of the failed write is acknowledged; earlier data is intact.',
    fix: 'Free space; writes succeed again without a restart.',
  },
  TSS_ERR_STORE_LOCKED: {
    when: 'Another process holds the data path: a second server, or a CLI command that needs the data directory while a server runs elsewhere. The message names the owner.',
  },
  TSS_ERR_SHUTTING_DOWN: { when: 'The server is stopping and takes no new records or connections.', fix: 'Retry against the restarted server.' },
  TSS_ERR_SINK_CLOSED: { when: 'The storage sink is not open (before start-up finished or after shutdown).' },
  TSS_ERR_STORE_UNAVAILABLE: {
    when: "The store's files are damaged or unreadable; the other stores serve. The message names the file. `/ready` lists it as degraded.",
    fix: 'Repair or remove the store directory (see the README\'s "Damaged stores").',
  },
  TSS_ERR_UPSTREAM: { when: 'A sink that forwards to another system (NATS JetStream) could not reach it or was refused.' },
  TSS_ERR_INTERNAL: { when: 'A bug: an unexpected failure inside tsstore. The server logs it with a stack trace.', fix: 'Report it with the log line.' },
} as const satisfies Record<ErrorCode, ErrorDoc>;

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** docs/errors.md, generated from ERRORS and ERROR_DOCS (in catalog order). */
export function renderErrorsDoc(): string {
  const codes = Object.keys(ERRORS) as ErrorCode[];
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from src/plugin/errors.ts and src/core/error-docs.ts by `npm run docs:errors`. Do not edit. -->',
    '',
    'Every error tsstore reports to a client has a stable code from one catalog',
    '(`src/plugin/errors.ts`). How each protocol shows it (see [protocol.md](protocol.md)):',
    '',
    '- HTTP: the status below and a JSON body `{"error": "<message>", "code": "<code>"}`;',
    '  REST batches put `{"index", "error", "code"}` in the failed record\'s result.',
    '- WebSocket: an error frame `{"type": "error", "message": "<message>", "code": "<code>"}`',
    '  (the HTTP status applies to a refused handshake).',
    '- Unix socket: a line `ERROR <message>`.',
    '',
    'The message starts with the catalog text below and often adds `: <detail>` (the field, the limit,',
    'the store). Programs should test the code, people read the message. Plugins use the same codes.',
    '',
    '| code | HTTP | message |',
    '|---|---|---|',
    ...codes.map((c) => `| [\`${c}\`](#${c.toLowerCase()}) | ${ERRORS[c].status} | ${cell(ERRORS[c].message)} |`),
    '',
  ];
  for (const c of codes) {
    const doc: ErrorDoc = ERROR_DOCS[c];
    lines.push(`## ${c}`, '', `HTTP ${ERRORS[c].status} · \`${ERRORS[c].message}\``, '', doc.when, '');
    if (doc.fix) lines.push(doc.fix, '');
  }
  return lines.join('\n');
}
