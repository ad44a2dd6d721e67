/**
 * The store catalog: which stores exist, their options, keys and schema. It owns each store's
 * directory and side files (store.json, keys.json, schema.json, summary.json) and tells the sink
 * about stores; the sink owns the data. `store.json` is written last when a store is created, so
 * a directory without it is an unfinished creation and is removed at load.
 *
 * Loading reads the side files only: a store's data opens on first use, and at most
 * `maxOpen` stores are open at once (see store-lifecycle.ts); a closed store's figures come from
 * its summary (store-summary.ts). Everything else reaches a store's data through `sinkOf(store)`,
 * which opens it as needed.
 *
 * One damaged store never stops the others: a store whose side files cannot be read is skipped
 * at load, and one whose data cannot be opened fails its requests; both are reported (the error
 * names the store and the file) by `unavailable()`, which /ready and `tsstore status` show. Their
 * requests get TSS_ERR_STORE_UNAVAILABLE (503) with the reason.
 */
import { setMaxListeners } from 'node:events';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { removeAtomicLeftovers, writeFileAtomic } from '../plugin/kit/state-file.js';
import { SerialQueue } from '../plugin/kit/serial-queue.js';
import { TssError } from '../plugin/errors.js';
import type { Logger, StoreAccess, StoreSession } from '../plugin/descriptor.js';
import type { DataType } from '../plugin/record.js';
import type { Sink, SinkStoreStats, StoreSpec } from '../plugin/sink.js';
import type { StoreSchema, StoreView } from '../plugin/stage.js';
import { readSchemaSync } from './schema-file.js';
import { checkKeyFormat, generateKey, hashKey, readKeysSync, verifyKey, writeKeys, type KeyRecord, type NewKey } from './api-keys.js';
import { OnDemandSink } from './on-demand-sink.js';
import { OUTPUTS_DIR } from './delivery.js';
import { StoreLifecycle, type UseOptions } from './store-lifecycle.js';
import { invalidateSummary, readSummary, writeSummary } from './store-summary.js';
import { checkStoreName, resolveStoreOptions, DATA_TYPES, DEFAULT_STORE_OPTIONS, type StoreOptions } from '../config/store-options.js';

export interface StoreMeta {
  readonly name: string;
  readonly data_type: DataType;
  readonly num_blocks: number;
  readonly data_block_size: number;
  readonly index_block_size: number;
  readonly created_at: string;
  /** The pipeline the store belongs to; absent: the default pipeline (`main`, else the first). */
  readonly pipeline?: string;
}

/** Several pipelines: each has its own sink, and each store belongs to one pipeline. */
export interface PipelineSinks {
  readonly sinks: ReadonlyMap<string, Sink>;
  readonly defaultPipeline: string;
}

/** Present in a store directory from mkdir until store.json is written. */
const CREATING_MARKER = '.creating';

/** Default of `store.max_open`: stores whose data may be open at once. */
export const DEFAULT_MAX_OPEN = 256;

export interface CatalogOptions {
  /** Stores whose data may be open at once (least recently used idle ones close). */
  readonly maxOpen?: number;
}

/** Why a store cannot serve: names the store and, where one is at fault, the file. */
export interface StoreProblem {
  readonly store: string;
  /** The file at fault, relative to the store directory (e.g. `keys.json`), when known. */
  readonly file?: string;
  readonly error: string;
  /** A skipped store's keys when keys.json could be read: its key holders are told it is damaged. */
  readonly keys?: readonly KeyRecord[];
}

interface StoreEntry {
  readonly spec: StoreSpec;
  readonly pipeline: string;
  readonly sink: Sink;
  readonly meta: StoreMeta;
  keys: KeyRecord[];
  view: StoreView;
  /** A closed store's figures: undefined until read, null when it has no valid summary. */
  summary?: SinkStoreStats | null;
  /**
   * One AbortController per key id with open sessions ('' for admin-key sessions), created at the
   * first session of that key: revoking the key aborts it, deleting or resetting the store aborts
   * them all. Sessions share it, so authentication allocates nothing per session.
   */
  sessions?: Map<string, AbortController>;
}

/** Session slot of admin-key sessions (key ids are 8 hex digits, never empty). */
const ADMIN_SESSION = '';
/**
 * What a store key is checked against when its store does not exist (or its keys cannot be read):
 * one key nobody holds, so the answer (401 invalid API key) and the work done (one hash, one
 * comparison) are those of a wrong key on an existing store. No store probing with a key.
 */
const NOBODYS_KEYS: readonly KeyRecord[] = [{ key_id: '00000000', hash: hashKey(`tsstore_${crypto.randomUUID()}`), created_at: '' }];

/** A side file that cannot be used: the store is skipped and reported. */
class SideFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

function describeError(err: unknown): string {
  if (err instanceof SyntaxError) return `not valid JSON (${err.message.replace(/\s+/g, ' ').slice(0, 160)})`;
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}${e.syscall ? ` on ${e.syscall}` : ''}` : (e?.message ?? String(err));
}

function readSideFile<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new SideFileError(file, `${file} cannot be read: ${describeError(err)}`);
  }
}

function checkMeta(meta: unknown, dirName: string): StoreMeta {
  const m = meta as Partial<StoreMeta> | null;
  const bad = (field: string): never => {
    throw new SideFileError('store.json', `store.json: invalid ${field}`);
  };
  if (typeof m !== 'object' || m === null || Array.isArray(m)) bad('document (expected an object)');
  if (m!.name !== dirName) bad(`name ${JSON.stringify(m!.name)} (the directory is ${dirName})`);
  if (!DATA_TYPES.includes(m!.data_type as DataType)) bad('data_type');
  for (const f of ['num_blocks', 'data_block_size', 'index_block_size'] as const) {
    if (typeof m![f] !== 'number' || !Number.isInteger(m![f]) || (m![f] as number) < 1) bad(f);
  }
  if (m!.pipeline !== undefined && typeof m!.pipeline !== 'string') bad('pipeline');
  return m as StoreMeta;
}

function checkKeys(keys: KeyRecord[]): KeyRecord[] {
  for (const k of keys) {
    if (typeof k !== 'object' || k === null || typeof k.key_id !== 'string' || typeof k.hash !== 'string') {
      throw new SideFileError('keys.json', 'keys.json: a key entry lacks key_id or hash');
    }
  }
  return keys;
}

/** What happens to stores' data, for readers that follow it (outputs). Listeners must not throw. */
export interface StoreEvents {
  /** Records became durable (called after the write resolved, once per write call). */
  committed?(store: string): void;
  /** A record was soft-deleted. */
  removed?(store: string, timestamp: bigint): void;
  /** The store was emptied (after the sink's reset resolved). */
  reset?(store: string): void;
  /** The store was created. */
  created?(store: string): void;
}

export interface CreatedStore extends NewKey {
  readonly name: string;
}

export class StoreCatalog implements StoreAccess {
  private readonly stores = new Map<string, StoreEntry>();
  /** Stores skipped at load (damaged side files, pipeline not configured). */
  private readonly skipped = new Map<string, StoreProblem>();
  /** Stores whose data failed to open at their last attempt. */
  private readonly openFailures = new Map<string, StoreProblem>();
  /** Serialises catalog changes (create/drop/reset/keys): rare, and must not interleave. */
  private readonly mutex = new SerialQueue();
  private readonly sinks: ReadonlyMap<string, Sink>;
  /** Each pipeline's sink as the rest of the server uses it (stores open on demand). */
  private readonly onDemand: ReadonlyMap<string, OnDemandSink>;
  private readonly defaultPipeline: string;
  private readonly dropListeners = new Set<(store: string) => void | Promise<void>>();
  private readonly watchers = new Set<StoreEvents>();
  private readonly lifecycle: StoreLifecycle;

  constructor(
    readonly dataDir: string,
    sinks: Sink | PipelineSinks,
    private readonly logger: Logger,
    private readonly defaults: StoreOptions = DEFAULT_STORE_OPTIONS,
    options: CatalogOptions = {},
  ) {
    const many = 'sinks' in sinks && sinks.sinks instanceof Map ? (sinks as PipelineSinks) : undefined;
    this.sinks = many ? many.sinks : new Map([['main', sinks as Sink]]);
    this.defaultPipeline = many ? many.defaultPipeline : 'main';
    const gate = {
      use: <T>(store: string, op: () => Promise<T>) => this.use(store, op),
      stats: (store: string) => this.stats(store),
      committed: (store: string) => {
        for (const w of this.watchers) w.committed?.(store);
      },
      removed: (store: string, ts: bigint) => {
        for (const w of this.watchers) w.removed?.(store, ts);
      },
    };
    this.onDemand = new Map([...this.sinks].map(([name, sink]) => [name, new OnDemandSink(sink, gate)]));
    this.lifecycle = new StoreLifecycle(options.maxOpen ?? DEFAULT_MAX_OPEN, {
      open: (store) => this.attach(store),
      close: (store) => this.detach(store),
      openFailed: (store, err) => this.openFailed(store, err),
      opened: (store) => {
        this.openFailures.delete(store);
        this.logger.info({ store }, 'Store opened again after a failure.');
      },
    });
  }

  /** The pipelines stores can belong to. */
  pipelines(): string[] {
    return [...this.sinks.keys()];
  }

  /**
   * Reads every store's side files under the data path; data opens on first use. The reads are
   * synchronous: loading runs before anything is served, and for thousands of small files a
   * synchronous read costs a third of the CPU of an asynchronous one (no threadpool round trips).
   */
  async load(): Promise<void> {
    await fs.promises.mkdir(this.dataDir, { recursive: true });
    for (const entry of fs.readdirSync(this.dataDir, { withFileTypes: true })) {
      if (entry.isDirectory()) await this.loadOne(entry.name);
    }
    this.logger.info({ stores: this.stores.size, skipped: this.skipped.size, dataDir: this.dataDir }, 'Store catalog loaded.');
    await this.openBackgroundStores();
  }

  /** Stores of sinks with background work open at start, as many as the budget allows. */
  private async openBackgroundStores(): Promise<void> {
    const eager = this.list()
      .filter((name) => this.stores.get(name)!.sink.backgroundWork)
      .slice(0, this.lifecycle.maxOpen);
    for (const name of eager) await this.use(name, async () => undefined, { touch: false }).catch(() => undefined); // failures are reported as unavailable
  }

  private async loadOne(dirName: string): Promise<void> {
    const dir = path.join(this.dataDir, dirName);
    // Temp files of side-file writes a crash interrupted (we hold the data-path lock: none is live).
    const leftovers = [...(await removeAtomicLeftovers(dir)), ...(await removeAtomicLeftovers(path.join(dir, OUTPUTS_DIR))).map((n) => `${OUTPUTS_DIR}/${n}`)];
    if (leftovers.length) this.logger.info({ dir, removed: leftovers }, 'Removed temp files of interrupted writes.');
    let meta: StoreMeta;
    try {
      const text = fs.readFileSync(path.join(dir, 'store.json'), 'utf8');
      meta = checkMeta(
        readSideFile('store.json', () => JSON.parse(text) as unknown),
        dirName,
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && fs.existsSync(path.join(dir, CREATING_MARKER))) {
        this.logger.warn({ dir }, 'Removing a store directory whose creation never finished.');
        await fs.promises.rm(dir, { recursive: true, force: true });
      } else if (code !== 'ENOENT') {
        this.skip(dirName, 'store.json', err instanceof SideFileError ? err.message : `store.json cannot be read: ${describeError(err)}`);
      }
      return; // ENOENT without the marker: not a store (or one half deleted)
    }
    let keys: KeyRecord[] | undefined;
    try {
      keys = checkKeys(readSideFile('keys.json', () => readKeysSync(dir)));
      const pipeline = meta.pipeline ?? this.defaultPipeline;
      const sink = this.sinks.get(pipeline);
      if (!sink)
        throw new SideFileError(
          'store.json',
          `its pipeline ${pipeline} is not configured (pipelines: ${this.pipelines().join(', ')}); add the pipeline back to serve it`,
        );
      const schema = meta.data_type === 'schema' ? readSideFile('schema.json', () => readSchemaSync(dir)) : undefined;
      const spec = specOf(meta, dir);
      this.stores.set(meta.name, { spec, pipeline, sink, meta, keys, view: { name: meta.name, dataType: meta.data_type, ...(schema ? { schema } : {}) } });
    } catch (err) {
      if (!(err instanceof SideFileError)) throw err;
      this.skip(meta.name, err.file, err.message, keys);
    }
  }

  private skip(store: string, file: string, error: string, keys?: readonly KeyRecord[]): void {
    this.skipped.set(store, { store, file, error, ...(keys ? { keys } : {}) });
    this.logger.error({ store, file: path.join(this.dataDir, store, file), err: error }, 'Skipping a damaged store; every other store serves.');
  }

  /** Stores that cannot serve now, with the reason (skipped at load, or their data failed to open). */
  unavailable(): StoreProblem[] {
    return [...this.skipped.values(), ...this.openFailures.values()]
      .map(({ keys: _keys, ...shown }) => shown)
      .sort((a, b) => (a.store < b.store ? -1 : a.store > b.store ? 1 : 0));
  }

  /** The error for a request to a store that is not in the catalog. */
  missing(name: string): TssError {
    const p = this.skipped.get(name);
    return p ? unavailableError(p) : new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${name}`);
  }

  // ---- open stores (see store-lifecycle.ts) ----

  /** Runs `op` with the store's data open (opening it if needed; never closed under `op`). */
  use<T>(name: string, op: () => Promise<T>, options?: UseOptions): Promise<T> {
    if (!this.stores.has(name)) return Promise.reject(this.missing(name));
    return this.lifecycle.use(name, op, options);
  }

  /** The store's figures: live when open, else from its summary, else the store is opened. */
  async stats(name: string): Promise<SinkStoreStats> {
    const entry = this.entry(name);
    if (!this.lifecycle.isOpen(name)) {
      const summary = await this.summaryOf(entry);
      if (summary && !this.lifecycle.isOpen(name)) return summary;
    }
    return this.use(name, () => entry.sink.stats(name));
  }

  /**
   * Figures without opening anything (for /metrics): live when open, the summary when closed,
   * undefined when closed without a summary (e.g. after kill -9, until the store is next used).
   */
  async knownStats(name: string): Promise<SinkStoreStats | undefined> {
    const entry = this.entry(name);
    // A store closing now has no summary until its close has written one.
    await this.lifecycle.quiet(name);
    if (this.lifecycle.isOpen(name)) return this.use(name, () => entry.sink.stats(name), { touch: false });
    return (await this.summaryOf(entry)) ?? undefined;
  }

  /** Stores whose data is open now, and the limit. */
  openStores(): { open: number; max: number } {
    return { open: this.lifecycle.openCount, max: this.lifecycle.maxOpen };
  }

  /** Closes every open store, writing their summaries (before the sinks close). */
  closeAll(): Promise<void> {
    return this.lifecycle.closeAll();
  }

  private async summaryOf(entry: StoreEntry): Promise<SinkStoreStats | null> {
    if (entry.summary === undefined) entry.summary = (await readSummary(entry.spec.dir)) ?? null;
    return entry.summary;
  }

  private async attach(name: string): Promise<void> {
    const entry = this.stores.get(name);
    if (!entry) throw this.missing(name);
    entry.summary = null;
    await invalidateSummary(entry.spec.dir);
    await entry.sink.openStore(entry.spec);
  }

  private async detach(name: string): Promise<void> {
    const entry = this.stores.get(name);
    if (!entry) return;
    let stats: SinkStoreStats | undefined;
    try {
      stats = await entry.sink.stats(name);
    } catch (err) {
      this.logger.warn({ store: name, err: (err as Error).message }, 'No figures for a closing store; its stats will open it.');
    }
    try {
      await entry.sink.closeStore(name);
    } catch (err) {
      this.logger.error({ store: name, err: (err as Error)?.stack ?? String(err) }, 'The sink failed to close a store.');
      throw err;
    }
    if (!stats) return;
    try {
      await writeSummary(entry.spec.dir, stats);
      entry.summary = stats;
    } catch (err) {
      this.logger.warn({ store: name, err: (err as Error).message }, 'Could not write the summary of a closed store; its stats will open it.');
    }
  }

  private openFailed(name: string, err: unknown): TssError {
    if (err instanceof TssError && err.code !== 'TSS_ERR_INTERNAL') return err; // e.g. the store was dropped meanwhile
    const dir = this.stores.get(name)?.spec.dir;
    const message = (err as Error)?.message ?? String(err);
    const file = dir ? fileIn(dir, message) : undefined;
    const problem: StoreProblem = {
      store: name,
      ...(file ? { file } : {}),
      error: `its data cannot be opened: ${dir ? message.split(dir + path.sep).join('') : message}`,
    };
    if (!this.openFailures.has(name))
      this.logger.error({ store: name, dir, err: message }, 'A store failed to open; its requests fail until it opens, every other store serves.');
    this.openFailures.set(name, problem);
    return unavailableError(problem);
  }

  list(): string[] {
    return [...this.stores.keys()].sort();
  }

  has(name: string): boolean {
    return this.stores.has(name);
  }

  meta(name: string): StoreMeta {
    return this.entry(name).meta;
  }

  /** The sink holding the store's data (its pipeline's sink), opening stores on demand. */
  sinkOf(name: string): Sink {
    return this.onDemand.get(this.entry(name).pipeline)!;
  }

  /** A pipeline's sink as its runner uses it (stores open on demand). */
  pipelineSink(pipeline: string): Sink {
    const sink = this.onDemand.get(pipeline);
    if (!sink) throw new TssError('TSS_ERR_INTERNAL', `no pipeline ${pipeline}`);
    return sink;
  }

  /** The pipeline the store belongs to, or undefined for an unknown store. */
  pipelineOf(name: string): string | undefined {
    return this.stores.get(name)?.pipeline;
  }

  view(name: string): StoreView | undefined {
    return this.stores.get(name)?.view;
  }

  authenticate(name: string, apiKey: string | undefined): StoreView {
    return this.verified(name, apiKey).entry.view;
  }

  session(name: string, apiKey: string | undefined): StoreSession {
    const { entry, keyId } = this.verified(name, apiKey);
    return { store: entry.view, signal: sessionSignal(entry, keyId) };
  }

  /**
   * Checks a store key. A store that does not exist answers exactly as a wrong key on one that
   * does (NOBODYS_KEYS); a damaged store answers 503 only to a key that is one of its own (when
   * its keys.json could be read), else the same 401.
   */
  private verified(name: string, apiKey: string | undefined): { entry: StoreEntry; keyId: string } {
    checkKeyFormat(apiKey, true);
    const entry = this.stores.get(name);
    if (entry) return { entry, keyId: verifyKey(entry.keys, apiKey) };
    const damaged = this.skipped.get(name);
    verifyKey(damaged?.keys ?? NOBODYS_KEYS, apiKey);
    throw this.missing(name); // only reached with a damaged store's own key
  }

  /** A session opened with the admin key: it ends when the store is deleted or reset. */
  adminSession(name: string): StoreSession {
    const entry = this.stores.get(name);
    if (!entry) throw this.missing(name);
    return { store: entry.view, signal: sessionSignal(entry, ADMIN_SESSION) };
  }

  async create(name: unknown, options: Record<string, unknown> = {}): Promise<CreatedStore> {
    const storeName = checkStoreName(name);
    const opts = resolveStoreOptions(options, this.defaults);
    const explicit = options.pipeline;
    if (explicit !== undefined && (typeof explicit !== 'string' || !this.sinks.has(explicit))) {
      throw new TssError('TSS_ERR_STORE_OPTIONS', `invalid pipeline: ${JSON.stringify(explicit)} is not configured; pipelines: ${this.pipelines().join(', ')}`);
    }
    const pipeline = (explicit as string | undefined) ?? this.defaultPipeline;
    const sink = this.sinks.get(pipeline)!;
    return this.mutex.run(async () => {
      if (this.stores.has(storeName) || this.skipped.has(storeName)) throw new TssError('TSS_ERR_STORE_EXISTS');
      const dir = path.join(this.dataDir, storeName);
      try {
        await fs.promises.mkdir(dir, { mode: 0o700 });
        await fs.promises.writeFile(path.join(dir, CREATING_MARKER), '');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new TssError('TSS_ERR_STORE_EXISTS', `store already exists (directory ${dir} is present)`);
        throw err;
      }
      const meta: StoreMeta = {
        name: storeName,
        data_type: opts.dataType,
        num_blocks: opts.numBlocks,
        data_block_size: opts.dataBlockSize,
        index_block_size: opts.indexBlockSize,
        created_at: new Date().toISOString(),
        ...(explicit !== undefined ? { pipeline } : {}),
      };
      const spec = specOf(meta, dir);
      const { key, record } = generateKey();
      await this.lifecycle.reserve(); // a new store is open: it takes a slot like any other
      try {
        await sink.createStore(spec);
        await writeKeys(dir, [record]);
        await writeFileAtomic(path.join(dir, 'store.json'), JSON.stringify(meta, null, 2) + '\n', 0o644);
        await fs.promises.rm(path.join(dir, CREATING_MARKER), { force: true });
      } catch (err) {
        this.lifecycle.unreserve();
        await sink.dropStore(storeName).catch(() => undefined);
        await fs.promises.rm(dir, { recursive: true, force: true });
        throw err;
      }
      this.stores.set(storeName, { spec, pipeline, sink, meta, keys: [record], view: { name: storeName, dataType: meta.data_type } });
      this.lifecycle.adopt(storeName);
      for (const w of this.watchers) w.created?.(storeName);
      this.logger.info(
        { store: storeName, pipeline, dataType: meta.data_type, numBlocks: meta.num_blocks, dataBlockSize: meta.data_block_size },
        'Store created.',
      );
      return { name: storeName, ...key };
    });
  }

  async drop(name: string): Promise<void> {
    await this.mutex.run(async () => {
      const entry = this.entry(name);
      this.stores.delete(name);
      this.openFailures.delete(name);
      endSessions(entry, `store ${name} was deleted`);
      await this.notifyDropped(name);
      await this.lifecycle.retire(name, async (open) => {
        if (open) {
          await entry.sink.dropStore(name);
          return;
        }
        // The sink drops attached stores only: attach it in a slot of its own. Data that cannot
        // be opened goes with the directory below.
        await this.lifecycle.reserve();
        try {
          try {
            await entry.sink.openStore(entry.spec);
          } catch (err) {
            this.logger.warn({ store: name, err: (err as Error).message }, 'Deleting a store whose data cannot be opened: removing its directory.');
            return;
          }
          await entry.sink.dropStore(name);
        } finally {
          this.lifecycle.unreserve();
        }
      });
      // store.json goes first, so a crash mid-removal never leaves a half store that loads.
      await fs.promises.rm(path.join(entry.spec.dir, 'store.json'), { force: true });
      await fs.promises.rm(entry.spec.dir, { recursive: true, force: true });
      this.logger.info({ store: name }, 'Store deleted.');
    });
  }

  onStoreDropped(listener: (store: string) => void | Promise<void>): () => void {
    this.dropListeners.add(listener);
    return () => {
      this.dropListeners.delete(listener);
    };
  }

  /** Be told about commits, soft deletes and resets of every store. Returns the unsubscribe. */
  watch(events: StoreEvents): () => void {
    this.watchers.add(events);
    return () => {
      this.watchers.delete(events);
    };
  }

  private async notifyDropped(name: string): Promise<void> {
    await Promise.all(
      [...this.dropListeners].map(async (listener) => {
        try {
          await listener(name);
        } catch (err) {
          this.logger.error({ store: name, err: (err as Error)?.stack ?? String(err) }, 'A store-deletion listener failed; deleting the store anyway.');
        }
      }),
    );
  }

  async reset(name: string): Promise<void> {
    await this.mutex.run(async () => {
      const entry = this.entry(name);
      endSessions(entry, `store ${name} was reset`);
      await this.use(name, () => entry.sink.resetStore(name));
      for (const w of this.watchers) w.reset?.(name);
      this.logger.info({ store: name }, 'Store reset.');
    });
  }

  listKeys(name: string): { key_id: string; created_at: string }[] {
    return this.entry(name).keys.map((k) => ({ key_id: k.key_id, created_at: k.created_at }));
  }

  /** Revoke one key by id; throws TSS_ERR_NOT_FOUND when the store has no such key. */
  async revokeKey(name: string, keyId: string): Promise<void> {
    await this.mutex.run(async () => {
      const entry = this.entry(name);
      const keys = entry.keys.filter((k) => k.key_id !== keyId);
      if (keys.length === entry.keys.length) throw new TssError('TSS_ERR_NOT_FOUND', `store ${name} has no key with id ${keyId}`);
      await writeKeys(entry.spec.dir, keys);
      entry.keys = keys;
      endSessions(entry, `the API key ${keyId} of store ${name} was revoked`, (slot) => slot === keyId);
      this.logger.info({ store: name, keyId }, 'API key revoked.');
    });
  }

  /** Replace every key of the store with a new one. */
  async regenerateKey(name: string): Promise<NewKey> {
    return this.mutex.run(async () => {
      const entry = this.entry(name);
      const { key, record } = generateKey();
      await writeKeys(entry.spec.dir, [record]);
      entry.keys = [record];
      endSessions(entry, `the API keys of store ${name} were regenerated`, (slot) => slot !== ADMIN_SESSION);
      this.logger.info({ store: name, keyId: key.key_id }, 'API key regenerated; older keys revoked.');
      return key;
    });
  }

  /** Replace every key of the store with these (hashes carried over by `tsstore migrate`). */
  async replaceKeys(name: string, keys: readonly KeyRecord[]): Promise<void> {
    await this.mutex.run(async () => {
      const entry = this.entry(name);
      await writeKeys(entry.spec.dir, keys);
      entry.keys = [...keys];
      endSessions(entry, `the API keys of store ${name} were replaced`, (slot) => slot !== ADMIN_SESSION);
      this.logger.info({ store: name, keys: keys.length }, 'API keys replaced.');
    });
  }

  /** Replace the store's schema view (the schema service persists it). */
  setSchemaView(name: string, schema: StoreSchema | undefined): void {
    const entry = this.entry(name);
    entry.view = { ...entry.view, schema };
  }

  storeDir(name: string): string {
    return this.entry(name).spec.dir;
  }

  private entry(name: string): StoreEntry {
    const e = this.stores.get(name);
    if (!e) throw this.missing(name);
    return e;
  }
}

function sessionSignal(entry: StoreEntry, slot: string): AbortSignal {
  entry.sessions ??= new Map();
  let controller = entry.sessions.get(slot);
  if (!controller) {
    controller = new AbortController();
    setMaxListeners(0, controller.signal); // one listener per open connection of the key
    entry.sessions.set(slot, controller);
  }
  return controller.signal;
}

/** Ends the sessions of the slots `which` picks (all by default): their signal aborts. */
function endSessions(entry: StoreEntry, why: string, which: (slot: string) => boolean = () => true): void {
  if (!entry.sessions) return;
  for (const [slot, controller] of entry.sessions) {
    if (!which(slot)) continue;
    entry.sessions.delete(slot);
    controller.abort(new TssError('TSS_ERR_SESSION_ENDED', `session ended: ${why}`));
  }
}

function unavailableError(p: StoreProblem): TssError {
  return new TssError('TSS_ERR_STORE_UNAVAILABLE', `store ${p.store} is unavailable: ${p.error}`);
}

/** The first file of the store directory that an error message names, relative to it. */
function fileIn(dir: string, message: string): string | undefined {
  const at = message.indexOf(dir + path.sep);
  if (at < 0) return undefined;
  const rest = message.slice(at + dir.length + 1);
  return /^[^'"\s,)]+/.exec(rest)?.[0];
}

function specOf(meta: StoreMeta, dir: string): StoreSpec {
  return {
    name: meta.name,
    dir,
    dataType: meta.data_type,
    numBlocks: meta.num_blocks,
    dataBlockSize: meta.data_block_size,
    indexBlockSize: meta.index_block_size,
  };
}
