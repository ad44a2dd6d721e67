/**
 * What the store and key commands act on: the running server that owns the data path (through
 * its HTTP API with the admin key, so changes take effect at once and nothing touches its files),
 * or, when no server runs, the data path itself under the owner lock.
 */
import { TsstoreClient } from '../client/index.js';
import type { TsstoreConfig } from '../config/config-types.js';
import { parseJsonExact } from '../core/json/index.js';
import { readLiveOwner } from '../stores/data-lock.js';
import type { StoreCatalog, StoreProblem } from '../stores/store-catalog.js';
import { openLocalDataPath, type LocalDataPath } from './local-data-path.js';
import { storeStats } from '../stores/store-stats.js';
import { schemaJson, SchemaService, type SchemaBody } from '../stores/schema-service.js';

export interface StoreAdmin {
  /** `server <url>` or `data path <dir>`, for messages. */
  readonly via: string;
  create(name: string, options: Record<string, unknown>): Promise<{ name: string; api_key: string; key_id: string }>;
  list(): Promise<string[]>;
  /** Stores that cannot serve (damaged files), with the reason. */
  unavailable(): Promise<StoreProblem[]>;
  stats(name: string): Promise<Record<string, unknown>>;
  remove(name: string): Promise<void>;
  reset(name: string): Promise<void>;
  keys(name: string): Promise<{ key_id: string; created_at: string }[]>;
  revoke(name: string, keyId: string): Promise<void>;
  regenerate(name: string): Promise<{ api_key: string; key_id: string }>;
  /** The store's current schema (an error when it has none or is not a schema store). */
  getSchema(name: string): Promise<SchemaBody>;
  /** Sets a new schema version (append-only); returns the schema now in force. */
  setSchema(name: string, body: unknown): Promise<SchemaBody>;
  close(): Promise<void>;
}

export class AdminError extends Error {}

/** Through the server's admin API, with the client library (tsstore/client). */
export class RemoteAdmin implements StoreAdmin {
  private readonly client: TsstoreClient;
  constructor(
    private readonly url: string,
    private readonly adminKey: string,
  ) {
    // The server is the local owner of our own data path; its certificate may be self-signed.
    this.client = new TsstoreClient({ url, adminKey, rejectUnauthorized: false, timeoutMs: 30_000, maxSockets: 1 });
  }
  get via(): string {
    return `server ${this.url}`;
  }
  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    let reply: { status: number; body: Buffer };
    try {
      reply = await this.client.request(method, path, { 'X-Admin-Key': this.adminKey }, body === undefined ? undefined : JSON.stringify(body));
    } catch (err) {
      throw new AdminError((err as Error).message);
    }
    const text = reply.body.toString('utf8');
    let parsed: unknown = text;
    try {
      parsed = parseJsonExact(text);
    } catch {
      /* keep text */
    }
    if (reply.status >= 400) throw new AdminError((parsed as { error?: string })?.error ?? `HTTP ${reply.status}`);
    return parsed;
  }
  async create(name: string, options: Record<string, unknown>) {
    return (await this.call('POST', '/api/stores', { name, ...options })) as { name: string; api_key: string; key_id: string };
  }
  async list() {
    return ((await this.call('GET', '/api/stores')) as { stores: string[] }).stores;
  }
  async unavailable() {
    return ((await this.call('GET', '/api/stores')) as { unavailable?: StoreProblem[] }).unavailable ?? [];
  }
  async stats(name: string) {
    return (await this.call('GET', `/api/stores/${encodeURIComponent(name)}/stats`)) as Record<string, unknown>;
  }
  async remove(name: string) {
    await this.call('DELETE', `/api/stores/${encodeURIComponent(name)}`);
  }
  async reset(name: string) {
    await this.call('POST', `/api/stores/${encodeURIComponent(name)}/reset`);
  }
  async keys(name: string) {
    return ((await this.call('GET', `/api/stores/${encodeURIComponent(name)}/keys`)) as { keys: { key_id: string; created_at: string }[] }).keys;
  }
  async revoke(name: string, keyId: string) {
    await this.call('DELETE', `/api/stores/${encodeURIComponent(name)}/keys/${encodeURIComponent(keyId)}`);
  }
  async regenerate(name: string) {
    return (await this.call('POST', `/api/stores/${encodeURIComponent(name)}/keys/regenerate`)) as { api_key: string; key_id: string };
  }
  async getSchema(name: string) {
    return (await this.call('GET', `/api/stores/${encodeURIComponent(name)}/schema`)) as SchemaBody;
  }
  async setSchema(name: string, body: unknown) {
    return (await this.call('PUT', `/api/stores/${encodeURIComponent(name)}/schema`, body)) as SchemaBody;
  }
  async close() {
    this.client.close();
  }
}

class LocalAdmin implements StoreAdmin {
  private readonly catalog: StoreCatalog;
  private readonly schemas: SchemaService;
  constructor(private readonly local: LocalDataPath) {
    this.catalog = local.catalog;
    this.schemas = new SchemaService(local.catalog);
  }

  get via(): string {
    return `data path ${this.local.dataDir}`;
  }
  async create(name: string, options: Record<string, unknown>) {
    return this.catalog.create(name, options);
  }
  async list() {
    return this.catalog.list();
  }
  async unavailable() {
    return this.catalog.unavailable();
  }
  async stats(name: string) {
    return storeStats(this.catalog, this.catalog.sinkOf(name), name);
  }
  async remove(name: string) {
    await this.catalog.drop(name);
  }
  async reset(name: string) {
    await this.catalog.reset(name);
  }
  async keys(name: string) {
    return this.catalog.listKeys(name);
  }
  async revoke(name: string, keyId: string) {
    await this.catalog.revokeKey(name, keyId);
  }
  async regenerate(name: string) {
    return this.catalog.regenerateKey(name);
  }
  async getSchema(name: string) {
    return schemaJson(this.schemas.get(name));
  }
  async setSchema(name: string, body: unknown) {
    return schemaJson((await this.schemas.set(name, body)).schema);
  }
  async close() {
    await this.local.close();
  }
}

export async function openStoreAdmin(config: TsstoreConfig, command: string): Promise<StoreAdmin> {
  const dataDir = config.store.base_path;
  const owner = await readLiveOwner(dataDir);
  if (owner?.role === 'server' && owner.url) {
    if (!config.server.admin_key)
      throw new AdminError(
        `a tsstore server (pid ${owner.pid}) owns ${dataDir}; set TSSTORE_ADMIN_KEY (or server.admin_key in the config) so this command can ask it`,
      );
    return new RemoteAdmin(owner.url, config.server.admin_key);
  }
  const local = await openLocalDataPath(config, command);
  return new LocalAdmin(local);
}
