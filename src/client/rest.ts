/**
 * The REST half of `tsstore/client`: one keep-alive HTTP(S) connection pool to one server, typed
 * calls for writing, reading (with paging by `after`), stores, keys and schemas. Timestamps are
 * `bigint` both ways; record data comes back as the exact JSON text the server sent.
 */
import http from 'node:http';
import https from 'node:https';
import { endOfValue, parseJsonExact, skipWs, topLevelSpans } from '../core/json/index.js';
import { TsstoreError, encodeData, type WriteRecord } from './common.js';

export interface ClientOptions {
  /** Server base URL, e.g. `http://127.0.0.1:21080` or `https://edge-7:21080`. */
  readonly url: string;
  /** A store key (`tsstore_…`), sent as `X-API-Key` on store calls. */
  readonly apiKey?: string;
  /** The admin key, sent as `X-Admin-Key` on admin calls (and on store calls when no `apiKey`). */
  readonly adminKey?: string;
  /** Per-request timeout; default 60 s. */
  readonly timeoutMs?: number;
  /** HTTPS: accept a certificate that does not verify (a self-signed local server); default false. */
  readonly rejectUnauthorized?: boolean;
  /** HTTPS: extra trusted CA certificates (PEM). */
  readonly ca?: string | Buffer;
  /** Parallel connections to the server; default 4. */
  readonly maxSockets?: number;
}

/** A record the server acknowledged. */
export interface Ack {
  readonly timestamp: bigint;
  readonly blockNum: number;
  readonly size: number;
}

/** One entry of a batch answer, in the order of the records sent. */
export type BatchResult = ({ readonly ok: true } & Ack) | { readonly ok: false; readonly error: string; readonly code?: string };

/** A record read back. `json` is the data exactly as the server rendered it (absent with `includeData: false`). */
export class StoredRecord {
  constructor(
    readonly timestamp: bigint,
    readonly blockNum: number,
    readonly size: number,
    readonly json: string | undefined,
  ) {}
  /** `json` parsed with JSON.parse (numbers beyond 2^53 lose digits: use `json` for exactness). */
  get data(): unknown {
    return this.json === undefined ? undefined : JSON.parse(this.json);
  }
}

export interface ReadOptions {
  readonly limit?: number;
  readonly includeData?: boolean;
  /** Schema stores: `compact` answers field indices instead of names. */
  readonly format?: 'full' | 'compact';
  readonly filter?: string;
  readonly filterIgnoreCase?: boolean;
}

export interface NewestOptions extends ReadOptions {
  /** A duration such as `30s`, `15m`, `2h`, `7d`. */
  readonly since?: string;
}

export interface RangeOptions extends NewestOptions {
  /** Inclusive lower bound. */
  readonly start?: bigint;
  /** Inclusive upper bound. */
  readonly end?: bigint;
  /** Exclusive lower bound: the paging cursor. */
  readonly after?: bigint;
}

export interface ScanOptions extends RangeOptions {
  /** Records per request; default 10,000. */
  readonly pageSize?: number;
}

export interface StoreStats {
  readonly name: string;
  readonly dataType: string;
  readonly records: number;
  readonly bytes: number;
  readonly oldest?: bigint;
  readonly newest?: bigint;
  /** The whole answer, as sent (integers beyond 2^53 as bigint). */
  readonly raw: Record<string, unknown>;
}

export interface CreateStoreOptions {
  readonly num_blocks?: number;
  readonly data_block_size?: number;
  readonly index_block_size?: number;
  readonly data_type?: 'json' | 'text' | 'binary' | 'schema';
  readonly pipeline?: string;
}

export interface CreatedStore {
  readonly name: string;
  readonly apiKey: string;
  readonly keyId: string;
}

interface Reply {
  readonly status: number;
  readonly body: Buffer;
}

const NL = Buffer.from('\n');

function big(v: unknown): bigint | undefined {
  return v === null || v === undefined ? undefined : BigInt(v as bigint | number);
}

function errorOf(reply: Reply, what: string): TsstoreError {
  let message = `HTTP ${reply.status}`;
  let code: string | undefined;
  try {
    const j = JSON.parse(reply.body.toString('utf8')) as { error?: string; code?: string };
    if (typeof j.error === 'string') message = j.error;
    code = j.code;
  } catch {
    /* not JSON */
  }
  return new TsstoreError(`${what}: ${message} (HTTP ${reply.status})`, { status: reply.status, code, serverMessage: message });
}

/** The records of a `{"objects":[…],"count":N}` answer, each `data` kept as its exact text. */
export function parseObjects(body: Buffer): StoredRecord[] {
  const span = topLevelSpans(body, ['objects']).get('objects');
  if (!span) throw new TsstoreError('unexpected answer from the server: no "objects"');
  const out: StoredRecord[] = [];
  let i = span[0] + 1;
  for (;;) {
    i = skipWs(body, i);
    if (i >= span[1] || body[i] === 0x5d) return out;
    if (body[i] === 0x2c) {
      i++;
      continue;
    }
    const end = endOfValue(body, i);
    out.push(parseObject(body.subarray(i, end)));
    i = end;
  }
}

function parseObject(obj: Buffer): StoredRecord {
  const f = topLevelSpans(obj, ['timestamp', 'block_num', 'size', 'data']);
  const ts = f.get('timestamp');
  if (!ts) throw new TsstoreError('unexpected answer from the server: a record without timestamp');
  const num = (k: string): number => {
    const s = f.get(k);
    return s ? Number(obj.toString('latin1', s[0], s[1])) : 0;
  };
  const data = f.get('data');
  return new StoredRecord(
    BigInt(obj.toString('latin1', ts[0], ts[1])),
    num('block_num'),
    num('size'),
    data ? obj.toString('utf8', data[0], data[1]) : undefined,
  );
}

function readQuery(o: RangeOptions): URLSearchParams {
  const q = new URLSearchParams();
  if (o.limit !== undefined) q.set('limit', String(o.limit));
  if (o.includeData !== undefined) q.set('include_data', String(o.includeData));
  if (o.format !== undefined) q.set('format', o.format);
  if (o.filter !== undefined) q.set('filter', o.filter);
  if (o.filterIgnoreCase !== undefined) q.set('filter_ignore_case', String(o.filterIgnoreCase));
  if (o.since !== undefined) q.set('since', o.since);
  if (o.start !== undefined) q.set('start_time', String(o.start));
  if (o.end !== undefined) q.set('end_time', String(o.end));
  if (o.after !== undefined) q.set('after', String(o.after));
  return q;
}

const enc = encodeURIComponent;

export class TsstoreClient {
  readonly url: string;
  private readonly agent: http.Agent;
  private readonly lib: typeof http | typeof https;
  private readonly timeoutMs: number;

  constructor(readonly options: ClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    const secure = new URL(this.url).protocol === 'https:';
    this.lib = secure ? https : http;
    const maxSockets = options.maxSockets ?? 4;
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets, rejectUnauthorized: options.rejectUnauthorized ?? true, ca: options.ca })
      : new http.Agent({ keepAlive: true, maxSockets });
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Headers for store calls: the store key, else the admin key. */
  private storeAuth(): Record<string, string> {
    if (this.options.apiKey) return { 'X-API-Key': this.options.apiKey };
    if (this.options.adminKey) return { 'X-Admin-Key': this.options.adminKey };
    return {};
  }

  private adminAuth(): Record<string, string> {
    if (!this.options.adminKey) throw new TsstoreError('this call needs the admin key: pass adminKey to the client');
    return { 'X-Admin-Key': this.options.adminKey };
  }

  /** One HTTP exchange; the raw status and body (no status check). */
  request(method: string, path: string, headers: Record<string, string>, body?: Buffer | string, contentType = 'application/json'): Promise<Reply> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    return new Promise((resolve, reject) => {
      const req = this.lib.request(
        new URL(this.url + path),
        {
          method,
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: { ...headers, ...(payload ? { 'Content-Type': contentType, 'Content-Length': payload.length } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 500, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(new TsstoreError(`cannot reach the tsstore server at ${this.url}: ${err.message}`, { cause: err })));
      req.end(payload);
    });
  }

  private async call(method: string, path: string, headers: Record<string, string>, what: string, ok: number, body?: unknown): Promise<unknown> {
    const reply = await this.request(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
    if (reply.status !== ok) throw errorOf(reply, what);
    return parseJsonExact(reply.body);
  }

  // ── writing ──────────────────────────────────────────────────────────────────────────────

  /** One record into a json or schema store. */
  async insert(store: string, record: WriteRecord, opts: { format?: 'full' | 'compact' } = {}): Promise<Ack> {
    const q = opts.format ? `?format=${opts.format}` : '';
    const reply = await this.request('POST', `/api/stores/${enc(store)}/data${q}`, this.storeAuth(), envelopeOf(record));
    if (reply.status !== 201) throw errorOf(reply, `insert into ${store}`);
    return ackOf(parseJsonExact(reply.body) as Record<string, unknown>);
  }

  /** One record's raw bytes into a text (`text/plain`) or binary (`application/octet-stream`) store. */
  async insertRaw(store: string, body: Buffer | string, opts: { contentType: string; timestamp?: bigint }): Promise<Ack> {
    const q = opts.timestamp !== undefined ? `?timestamp=${opts.timestamp}` : '';
    const reply = await this.request('POST', `/api/stores/${enc(store)}/data${q}`, this.storeAuth(), body, opts.contentType);
    if (reply.status !== 201) throw errorOf(reply, `insert into ${store}`);
    return ackOf(parseJsonExact(reply.body) as Record<string, unknown>);
  }

  /**
   * Many records in one request (NDJSON). One result per record, in order; refused records do not
   * fail the call (only request-level problems throw).
   */
  async insertBatch(store: string, records: readonly WriteRecord[], opts: { format?: 'full' | 'compact' } = {}): Promise<BatchResult[]> {
    if (records.length === 0) return [];
    const q = opts.format ? `?format=${opts.format}` : '';
    const body = Buffer.concat(records.flatMap((r) => [envelopeOf(r), NL]));
    const reply = await this.request('POST', `/api/stores/${enc(store)}/data/batch${q}`, this.storeAuth(), body, 'application/x-ndjson');
    if (reply.status !== 200) throw errorOf(reply, `batch insert into ${store}`);
    const parsed = parseJsonExact(reply.body) as { results: Record<string, unknown>[] };
    const out = new Array<BatchResult>(records.length);
    for (const r of parsed.results) {
      out[Number(r.index)] = r.error !== undefined ? { ok: false, error: String(r.error), code: r.code as string | undefined } : { ok: true, ...ackOf(r) };
    }
    return out;
  }

  // ── reading ──────────────────────────────────────────────────────────────────────────────

  /** The record at exactly `timestamp`, or undefined. */
  async get(store: string, timestamp: bigint, opts: { format?: 'full' | 'compact' } = {}): Promise<StoredRecord | undefined> {
    const q = opts.format ? `?format=${opts.format}` : '';
    const reply = await this.request('GET', `/api/stores/${enc(store)}/data/time/${timestamp}${q}`, this.storeAuth());
    if (reply.status === 404 && /TSS_ERR_NOT_FOUND"/.test(reply.body.toString('latin1'))) return undefined;
    if (reply.status !== 200) throw errorOf(reply, `read ${store} at ${timestamp}`);
    return parseObject(reply.body);
  }

  /** Soft-deletes the record at `timestamp`; false when there is none. */
  async deleteRecord(store: string, timestamp: bigint): Promise<boolean> {
    const reply = await this.request('DELETE', `/api/stores/${enc(store)}/data/time/${timestamp}`, this.storeAuth());
    if (reply.status === 404 && /TSS_ERR_NOT_FOUND"/.test(reply.body.toString('latin1'))) return false;
    if (reply.status !== 200) throw errorOf(reply, `delete ${store} at ${timestamp}`);
    return true;
  }

  private async list(store: string, which: string, q: URLSearchParams): Promise<StoredRecord[]> {
    const qs = q.toString();
    const reply = await this.request('GET', `/api/stores/${enc(store)}/data/${which}${qs ? `?${qs}` : ''}`, this.storeAuth());
    if (reply.status !== 200) throw errorOf(reply, `read ${store}`);
    return parseObjects(reply.body);
  }

  /** Oldest records first (default 10). */
  oldest(store: string, opts: ReadOptions = {}): Promise<StoredRecord[]> {
    return this.list(store, 'oldest', readQuery(opts));
  }

  /** Newest records first (default 10). */
  newest(store: string, opts: NewestOptions = {}): Promise<StoredRecord[]> {
    return this.list(store, 'newest', readQuery(opts));
  }

  /** One page of a range, oldest first (default limit 1000). */
  range(store: string, opts: RangeOptions = {}): Promise<StoredRecord[]> {
    return this.list(store, 'range', readQuery(opts));
  }

  /**
   * Every record of a range, oldest first, page by page: each next page asks for `after` the last
   * timestamp received, so records written meanwhile are neither skipped nor repeated.
   */
  async *scan(store: string, opts: ScanOptions = {}): AsyncGenerator<StoredRecord> {
    const pageSize = opts.pageSize ?? 10_000;
    let after = opts.after;
    let left = opts.limit ?? Infinity;
    while (left > 0) {
      const limit = Math.min(pageSize, left);
      const page = await this.range(store, { ...opts, after, limit });
      for (const r of page) yield r;
      if (page.length < limit) return;
      left -= page.length;
      after = page[page.length - 1].timestamp;
    }
  }

  /** The store's figures (`oldest`/`newest` as bigint). */
  async stats(store: string): Promise<StoreStats> {
    const raw = (await this.call('GET', `/api/stores/${enc(store)}/stats`, this.storeAuth(), `stats of ${store}`, 200)) as Record<string, unknown>;
    return {
      name: String(raw.name),
      dataType: String(raw.data_type),
      records: Number(raw.records),
      bytes: Number(raw.bytes),
      oldest: big(raw.oldest),
      newest: big(raw.newest),
      raw,
    };
  }

  // ── stores, keys, schemas ────────────────────────────────────────────────────────────────

  /** Creates a store (admin key); the answer holds its key, shown this once. */
  async createStore(name: string, options: CreateStoreOptions = {}): Promise<CreatedStore> {
    const r = (await this.call('POST', '/api/stores', this.adminAuth(), `create store ${name}`, 201, { name, ...options })) as Record<string, string>;
    return { name: r.name, apiKey: r.api_key, keyId: r.key_id };
  }

  /** Store names (admin key). */
  async listStores(): Promise<string[]> {
    return ((await this.call('GET', '/api/stores', this.adminAuth(), 'list stores', 200)) as { stores: string[] }).stores;
  }

  async deleteStore(name: string): Promise<void> {
    await this.call('DELETE', `/api/stores/${enc(name)}`, this.storeAuth(), `delete store ${name}`, 200);
  }

  async resetStore(name: string): Promise<void> {
    await this.call('POST', `/api/stores/${enc(name)}/reset`, this.storeAuth(), `reset store ${name}`, 200);
  }

  /** Key ids and creation times of a store's keys (admin key). */
  async listKeys(store: string): Promise<{ keyId: string; createdAt: string }[]> {
    const r = (await this.call('GET', `/api/stores/${enc(store)}/keys`, this.adminAuth(), `keys of ${store}`, 200)) as {
      keys: { key_id: string; created_at: string }[];
    };
    return r.keys.map((k) => ({ keyId: k.key_id, createdAt: k.created_at }));
  }

  /** A new key for the store; every older key stops working at once (admin key). */
  async regenerateKey(store: string): Promise<CreatedStore> {
    const r = (await this.call('POST', `/api/stores/${enc(store)}/keys/regenerate`, this.adminAuth(), `regenerate the key of ${store}`, 201)) as Record<
      string,
      string
    >;
    return { name: r.name ?? store, apiKey: r.api_key, keyId: r.key_id };
  }

  async revokeKey(store: string, keyId: string): Promise<void> {
    await this.call('DELETE', `/api/stores/${enc(store)}/keys/${enc(keyId)}`, this.adminAuth(), `revoke key ${keyId} of ${store}`, 200);
  }

  async getSchema(store: string): Promise<unknown> {
    return this.call('GET', `/api/stores/${enc(store)}/schema`, this.storeAuth(), `schema of ${store}`, 200);
  }

  async setSchema(store: string, schema: unknown): Promise<unknown> {
    return this.call('PUT', `/api/stores/${enc(store)}/schema`, this.storeAuth(), `set the schema of ${store}`, 200, schema);
  }

  /** Releases the connection pool. */
  close(): void {
    this.agent.destroy();
  }
}

function ackOf(r: Record<string, unknown>): Ack {
  return { timestamp: BigInt(r.timestamp as bigint), blockNum: Number(r.block_num), size: Number(r.size) };
}

/** `{"timestamp":T,"data":D}` (no timestamp: the server assigns one). */
export function envelopeOf(r: WriteRecord): Buffer {
  const data = encodeData(r);
  return Buffer.concat([Buffer.from(r.timestamp === undefined ? '{"data":' : `{"timestamp":${r.timestamp},"data":`), data, Buffer.from('}')]);
}
