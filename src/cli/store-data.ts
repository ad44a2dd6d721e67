/**
 * Record-level access for `import` and `export`: through a running server's REST API (the one
 * owning the data path, or `--url`), or, when no server runs, on the data path itself under the
 * owner lock, writing through a PipelineRunner so the configured stages validate every record.
 */
import type { TsstoreConfig } from '../config/config-types.js';
import { TsstoreClient, TsstoreError, parseObjects as parseStoredObjects } from '../client/index.js';
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

  constructor(
    private readonly local: LocalDataPath,
    private readonly runners: ReadonlyMap<string, PipelineRunner>,
  ) {
    this.catalog = local.catalog;
  }

  get via(): string {
    return `data path ${this.local.dataDir}`;
  }

  async info(store: string): Promise<StoreInfo> {
    const meta = this.catalog.meta(store);
    const s = await this.catalog.sinkOf(store).stats(store);
    return { dataType: meta.data_type, records: s.records, oldest: s.oldest, newest: s.newest };
  }

  async write(store: string, _dataType: DataType, records: readonly ImportRecord[]): Promise<(string | null)[]> {
    const runner = this.runners.get(this.catalog.pipelineOf(store) ?? '');
    if (!runner) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${store}`);
    const results = await runner.emit(
      records.map((r) => ({
        store,
        timestamp: r.timestamp,
        payload: r.data,
        format: 'json' as const,
        wellFormed: true,
        origin: { input: 'import' },
      })),
    );
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

/** Through a server's REST API, with the client library (tsstore/client). */
class RemoteStoreData implements StoreData {
  private readonly client: TsstoreClient;
  /** Whether the server has `POST …/data/batch`; learnt from the first try. */
  private batch: boolean | undefined;

  constructor(
    private readonly url: string,
    auth: { apiKey?: string; adminKey?: string },
  ) {
    // The server is usually our own local owner of the data path; its certificate may be self-signed.
    this.client = new TsstoreClient({ url, ...auth, maxSockets: 1, rejectUnauthorized: false });
  }

  get via(): string {
    return `server ${this.url}`;
  }

  async info(store: string): Promise<StoreInfo> {
    const s = await this.client.stats(store).catch(cliError(`cannot read the stats of store ${store}`));
    return { dataType: s.dataType as DataType, records: s.records, oldest: s.oldest, newest: s.newest };
  }

  async write(store: string, dataType: DataType, records: readonly ImportRecord[]): Promise<(string | null)[]> {
    if (records.length === 0) return [];
    const recs = records.map((r) => ({ timestamp: r.timestamp, json: r.data }));
    if (this.batch !== false) {
      try {
        const results = await this.client.insertBatch(store, recs);
        this.batch = true;
        return results.map((r) => (r.ok ? null : r.error));
      } catch (err) {
        const e = err as TsstoreError;
        if (!(e.status === 405 || (e.status === 404 && e.code === 'TSS_ERR_NOT_FOUND'))) throw cliError(`batch insert into ${store} failed`)(err);
        this.batch = false;
      }
    }
    // No batch route: one POST per record, in order, over one keep-alive connection.
    const out: (string | null)[] = [];
    for (const r of records) {
      try {
        if (dataType === 'text' || dataType === 'binary') {
          const value: unknown = JSON.parse(r.data.toString('utf8'));
          if (typeof value !== 'string') {
            out.push(`data does not match store's data type: ${dataType} stores take a JSON string`);
            continue;
          }
          const raw = dataType === 'text' ? Buffer.from(value, 'utf8') : Buffer.from(value, 'base64');
          await this.client.insertRaw(store, raw, { timestamp: r.timestamp, contentType: dataType === 'text' ? 'text/plain' : 'application/octet-stream' });
        } else {
          await this.client.insert(store, { timestamp: r.timestamp, json: r.data });
        }
        out.push(null);
      } catch (err) {
        const e = err as TsstoreError;
        if (e.status !== undefined && e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 404) out.push(e.serverMessage ?? e.message);
        else throw cliError(`insert into ${store} failed`)(err);
      }
    }
    return out;
  }

  async read(store: string, from: bigint | undefined, to: bigint | undefined, limit: number): Promise<ExportRecord[]> {
    const page = await this.client.range(store, { start: from, end: to, limit, includeData: true }).catch(cliError(`cannot read store ${store}`));
    return page.map((r) => ({ timestamp: r.timestamp, dataJson: r.json ?? 'null' }));
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

/** The records of a `{"objects":[…],"count":N}` answer, each `data` kept as its exact text. */
export function parseObjects(body: Buffer): ExportRecord[] {
  return parseStoredObjects(body).map((r) => ({ timestamp: r.timestamp, dataJson: r.json ?? 'null' }));
}

/** A client error as the CLI reports it: `<what>: <server message> (HTTP n)`, or unreachable. */
function cliError(what: string): (err: unknown) => never {
  return (err) => {
    const e = err as TsstoreError;
    if (e instanceof TsstoreError && e.status !== undefined) throw new AdminError(`${what}: ${e.serverMessage ?? e.message} (HTTP ${e.status})`);
    throw new AdminError((err as Error).message);
  };
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
    const auth = opts.apiKey ? { apiKey: opts.apiKey } : config.server.admin_key ? { adminKey: config.server.admin_key } : undefined;
    if (!auth)
      throw new AdminError(
        `${opts.url ? `the server ${url}` : `a tsstore server owns ${dataDir}; it`} needs a key: set TSSTORE_ADMIN_KEY, or pass --api-key (or TSSTORE_API_KEY) with the store's key`,
      );
    return new RemoteStoreData(url, auth);
  }
  const local = await openLocalDataPath(config, command);
  const runners = new Map(
    local.pipelines.map((p) => [p.name, new PipelineRunner(p.name, p.stages, local.catalog.pipelineSink(p.name), local.catalog, silentLogger())]),
  );
  return new LocalStoreData(local, runners);
}
