/**
 * Record-level access for `import` and `export`: through a running server's REST API (the one
 * owning the data path, or `--url`), or, when no server runs, on the data path itself under the
 * owner lock, writing through a PipelineRunner so the configured stages validate every record.
 */
import http from 'node:http';
import https from 'node:https';
import type { TsstoreConfig } from '../config/config-types.js';
import { endOfValue, parseJsonExact, skipWs, topLevelSpans } from '../core/json/index.js';
import { silentLogger } from '../core/logger.js';
import { PipelineRunner } from '../pipeline/runner.js';
import { TssError } from '../plugin/errors.js';
import type { DataType } from '../plugin/record.js';
import { readLiveOwner } from '../stores/data-lock.js';
import { renderData } from '../core/render-data.js';
import { StoreCatalog } from '../stores/store-catalog.js';
import { openLocalDataPath, type LocalDataPath } from './local-data-path.js';
import { AdminError } from './store-admin.js';

/** One record read from an import file. */
export interface ImportRecord {
  /** 1-based line of the file where the record starts. */
  readonly line: number;
  readonly timestamp: bigint;
  /** The `{"timestamp","data"}` envelope as JSON text. */
  readonly envelope: Buffer;
  /** The raw JSON text of `data` (checked: valid JSON in valid UTF-8). */
  readonly data: Buffer;
}

/** One record read for export: `data` already rendered as JSON (stored bytes verbatim for json). */
export interface ExportRecord {
  readonly timestamp: bigint;
  readonly dataJson: string;
}

export interface StoreInfo {
  readonly dataType: DataType;
  readonly records: number;
  readonly oldest?: bigint;
  readonly newest?: bigint;
}

export interface StoreData {
  /** `server <url>` or `data path <dir>`, for messages. */
  readonly via: string;
  info(store: string): Promise<StoreInfo>;
  /** Writes records in order; one entry per record: null when stored, else the error message. */
  write(store: string, dataType: DataType, records: readonly ImportRecord[]): Promise<(string | null)[]>;
  /** Up to `limit` records with `from <= timestamp <= to`, oldest first. */
  read(store: string, from: bigint | undefined, to: bigint | undefined, limit: number): Promise<ExportRecord[]>;
  close(): Promise<void>;
}

export const PAGE_LIMIT = 10_000;

class LocalStoreData implements StoreData {
  private readonly catalog: StoreCatalog;

  constructor(private readonly local: LocalDataPath, private readonly runners: ReadonlyMap<string, PipelineRunner>) {
    this.catalog = local.catalog;
  }

  get via(): string { return `data path ${this.local.dataDir}`; }

  async info(store: string): Promise<StoreInfo> {
    const meta = this.catalog.meta(store);
    const s = await this.catalog.sinkOf(store).stats(store);
    return { dataType: meta.data_type, records: s.records, oldest: s.oldest, newest: s.newest };
  }

  async write(store: string, _dataType: DataType, records: readonly ImportRecord[]): Promise<(string | null)[]> {
    const runner = this.runners.get(this.catalog.pipelineOf(store) ?? '');
    if (!runner) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${store}`);
    const results = await runner.emit(records.map((r) => ({
      store, timestamp: r.timestamp, payload: r.data, format: 'json' as const, wellFormed: true, origin: { input: 'import' },
    })));
    return results.map((r) => (r.ok ? null : r.message));
  }

  async read(store: string, from: bigint | undefined, to: bigint | undefined, limit: number): Promise<ExportRecord[]> {
    const view = this.catalog.view(store);
    if (!view) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${store}`);
    const reader = this.catalog.sinkOf(store).reader;
    if (!reader) throw new TssError('TSS_ERR_READS_UNSUPPORTED');
    const rows = await reader.scan(store, { from, to, order: 'asc', limit, withData: true });
    return rows.map((r) => ({ timestamp: r.timestamp, dataJson: renderData(view, r.data!) }));
  }

  async close(): Promise<void> {
    try {
      for (const r of this.runners.values()) await r.drain();
    } finally {
      await this.local.close();
    }
  }
}

interface Reply { readonly status: number; readonly body: Buffer }

class RemoteStoreData implements StoreData {
  private readonly agent: http.Agent;
  private readonly lib: typeof http | typeof https;
  /** Whether the server has `POST …/data/batch`; learnt from the first try. */
  private batch: boolean | undefined;

  constructor(private readonly url: string, private readonly auth: Record<string, string>) {
    const secure = new URL(url).protocol === 'https:';
    this.lib = secure ? https : http;
    // The server is usually our own local owner of the data path; its certificate may be self-signed.
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  get via(): string { return `server ${this.url}`; }

  private request(method: string, path: string, body?: Buffer, contentType?: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = this.lib.request(new URL(path, this.url), {
        method, agent: this.agent, timeout: 60_000,
        headers: { ...this.auth, ...(body ? { 'Content-Type': contentType ?? 'application/json', 'Content-Length': body.length } : {}) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('the server did not answer in 60 s')));
      req.on('error', (err) => reject(new AdminError(`cannot reach the tsstore server at ${this.url}: ${err.message}`)));
      req.end(body);
    });
  }

  private static errorOf(reply: Reply): { message: string; code?: string } {
    try {
      const j = JSON.parse(reply.body.toString('utf8')) as { error?: string; code?: string };
      return { message: j.error ?? `HTTP ${reply.status}`, code: j.code };
    } catch {
      return { message: `HTTP ${reply.status}` };
    }
  }

  private fail(reply: Reply, what: string): never {
    throw new AdminError(`${what}: ${RemoteStoreData.errorOf(reply).message} (HTTP ${reply.status})`);
  }

  async info(store: string): Promise<StoreInfo> {
    const reply = await this.request('GET', `/api/stores/${encodeURIComponent(store)}/stats`);
    if (reply.status !== 200) this.fail(reply, `cannot read the stats of store ${store}`);
    const s = parseJsonExact(reply.body.toString('utf8')) as { data_type: DataType; records: number; oldest: bigint | null; newest: bigint | null };
    const big = (v: unknown): bigint | undefined => (v === null || v === undefined ? undefined : BigInt(v as bigint));
    return { dataType: s.data_type, records: Number(s.records), oldest: big(s.oldest), newest: big(s.newest) };
  }

  async write(store: string, dataType: DataType, records: readonly ImportRecord[]): Promise<(string | null)[]> {
    if (records.length === 0) return [];
    if (this.batch !== false) {
      const body = Buffer.concat(records.flatMap((r) => [r.envelope, NL]));
      const reply = await this.request('POST', `/api/stores/${encodeURIComponent(store)}/data/batch`, body, 'application/x-ndjson');
      const err = reply.status === 200 ? undefined : RemoteStoreData.errorOf(reply);
      if (reply.status === 405 || (reply.status === 404 && err?.code === 'TSS_ERR_NOT_FOUND')) {
        this.batch = false;
      } else {
        if (reply.status !== 200) this.fail(reply, `batch insert into ${store} failed`);
        this.batch = true;
        const parsed = JSON.parse(reply.body.toString('utf8')) as { results: { index: number; error?: string }[] };
        const out = new Array<string | null>(records.length).fill(null);
        for (const r of parsed.results) if (r.error !== undefined) out[r.index] = r.error;
        return out;
      }
    }
    // No batch route: one POST per record, in order, over one keep-alive connection.
    const out: (string | null)[] = [];
    const base = `/api/stores/${encodeURIComponent(store)}/data`;
    for (const r of records) {
      let reply: Reply;
      if (dataType === 'text' || dataType === 'binary') {
        const value: unknown = JSON.parse(r.data.toString('utf8'));
        if (typeof value !== 'string') { out.push(`data does not match store's data type: ${dataType} stores take a JSON string`); continue; }
        const raw = dataType === 'text' ? Buffer.from(value, 'utf8') : Buffer.from(value, 'base64');
        reply = await this.request('POST', `${base}?timestamp=${r.timestamp}`, raw, dataType === 'text' ? 'text/plain' : 'application/octet-stream');
      } else {
        reply = await this.request('POST', base, r.envelope, 'application/json');
      }
      if (reply.status === 201) out.push(null);
      else if (reply.status >= 400 && reply.status < 500 && reply.status !== 401 && reply.status !== 404) out.push(RemoteStoreData.errorOf(reply).message);
      else this.fail(reply, `insert into ${store} failed`);
    }
    return out;
  }

  async read(store: string, from: bigint | undefined, to: bigint | undefined, limit: number): Promise<ExportRecord[]> {
    const q = new URLSearchParams({ limit: String(limit), include_data: 'true' });
    if (from !== undefined) q.set('start_time', String(from));
    if (to !== undefined) q.set('end_time', String(to));
    const reply = await this.request('GET', `/api/stores/${encodeURIComponent(store)}/data/range?${q}`);
    if (reply.status !== 200) this.fail(reply, `cannot read store ${store}`);
    return parseObjects(reply.body);
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

const NL = Buffer.from('\n');

/** The records of a `{"objects":[…],"count":N}` response, keeping each `data` text verbatim. */
export function parseObjects(body: Buffer): ExportRecord[] {
  const spans = topLevelSpans(body, ['objects']);
  const span = spans.get('objects');
  if (!span) throw new AdminError('unexpected answer from the server: no "objects"');
  const out: ExportRecord[] = [];
  let i = span[0] + 1;
  for (;;) {
    i = skipWs(body, i);
    if (i >= span[1] || body[i] === 0x5d) return out;
    if (body[i] === 0x2c) { i++; continue; }
    const end = endOfValue(body, i);
    const obj = body.subarray(i, end);
    const f = topLevelSpans(obj, ['timestamp', 'data']);
    const ts = f.get('timestamp');
    const data = f.get('data');
    if (!ts || !data) throw new AdminError('unexpected answer from the server: a record without timestamp or data');
    out.push({ timestamp: BigInt(obj.toString('latin1', ts[0], ts[1])), dataJson: obj.toString('utf8', data[0], data[1]) });
    i = end;
  }
}

export interface OpenOptions {
  /** A server URL (`--url`); else the server owning the data path; else the data path. */
  readonly url?: string;
  /** A store API key for the server (`--api-key` / TSSTORE_API_KEY); else the admin key. */
  readonly apiKey?: string;
}

export async function openStoreData(config: TsstoreConfig, command: string, opts: OpenOptions = {}): Promise<StoreData> {
  const dataDir = config.store.base_path;
  const owner = opts.url === undefined ? await readLiveOwner(dataDir) : undefined;
  const url = opts.url ?? (owner?.role === 'server' ? owner.url : undefined);
  if (url) {
    const auth: Record<string, string> | undefined = opts.apiKey ? { 'X-API-Key': opts.apiKey } : config.server.admin_key ? { 'X-Admin-Key': config.server.admin_key } : undefined;
    if (!auth) throw new AdminError(`${opts.url ? `the server ${url}` : `a tsstore server owns ${dataDir}; it`} needs a key: set TSSTORE_ADMIN_KEY, or pass --api-key (or TSSTORE_API_KEY) with the store's key`);
    return new RemoteStoreData(url, auth);
  }
  const local = await openLocalDataPath(config, command);
  const runners = new Map(local.pipelines.map((p) => [p.name, new PipelineRunner(p.name, p.stages, local.catalog.pipelineSink(p.name), local.catalog, silentLogger())]));
  return new LocalStoreData(local, runners);
}
