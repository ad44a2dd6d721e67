/**
 * The store catalog: which stores exist, their options, keys and schema. It owns each store's
 * directory and side files (store.json, keys.json, schema.json) and tells the sink about stores;
 * the sink owns the data. `store.json` is written last when a store is created, so a directory
 * without it is an unfinished creation and is removed at load.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../plugin/kit/state-file.js';
import { SerialQueue } from '../plugin/kit/serial-queue.js';
import { TssError } from '../plugin/errors.js';
import type { Logger, StoreAccess } from '../plugin/descriptor.js';
import type { DataType } from '../plugin/record.js';
import type { Sink, StoreSpec } from '../plugin/sink.js';
import type { StoreSchema, StoreView } from '../plugin/stage.js';
import { readSchema } from './schema-file.js';
import { checkKeyFormat, generateKey, readKeys, verifyKey, writeKeys, type KeyRecord, type NewKey } from './api-keys.js';
import { checkStoreName, resolveStoreOptions, DEFAULT_STORE_OPTIONS, type StoreOptions } from './store-options.js';

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

interface StoreEntry {
  readonly spec: StoreSpec;
  readonly pipeline: string;
  readonly sink: Sink;
  readonly meta: StoreMeta;
  keys: KeyRecord[];
  view: StoreView;
}

export interface CreatedStore extends NewKey {
  readonly name: string;
}

export class StoreCatalog implements StoreAccess {
  private readonly stores = new Map<string, StoreEntry>();
  /** Serialises catalog changes (create/drop/reset/keys): rare, and must not interleave. */
  private readonly mutex = new SerialQueue();
  private readonly sinks: ReadonlyMap<string, Sink>;
  private readonly defaultPipeline: string;
  private readonly dropListeners = new Set<(store: string) => void | Promise<void>>();

  constructor(
    readonly dataDir: string,
    sinks: Sink | PipelineSinks,
    private readonly logger: Logger,
    private readonly defaults: StoreOptions = DEFAULT_STORE_OPTIONS,
  ) {
    const many = 'sinks' in sinks && sinks.sinks instanceof Map ? sinks as PipelineSinks : undefined;
    this.sinks = many ? many.sinks : new Map([['main', sinks as Sink]]);
    this.defaultPipeline = many ? many.defaultPipeline : 'main';
  }

  /** The pipelines stores can belong to. */
  pipelines(): string[] {
    return [...this.sinks.keys()];
  }

  /** Attach every store found under the data path. */
  async load(): Promise<void> {
    await fs.promises.mkdir(this.dataDir, { recursive: true });
    for (const entry of await fs.promises.readdir(this.dataDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = path.join(this.dataDir, entry.name);
      let meta: StoreMeta;
      try {
        meta = JSON.parse(await fs.promises.readFile(path.join(dir, 'store.json'), 'utf8')) as StoreMeta;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync(path.join(dir, CREATING_MARKER))) {
          this.logger.warn({ dir }, 'Removing a store directory whose creation never finished.');
          await fs.promises.rm(dir, { recursive: true, force: true });
        } else if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.logger.error({ dir, err: (err as Error).message }, 'Skipping a store whose store.json cannot be read.');
        }
        continue;
      }
      const pipeline = meta.pipeline ?? this.defaultPipeline;
      const sink = this.sinks.get(pipeline);
      if (!sink) {
        this.logger.error({ store: meta.name, pipeline, pipelines: this.pipelines() }, 'Skipping a store whose pipeline is not configured; add the pipeline back to serve it.');
        continue;
      }
      let schema: StoreSchema | undefined;
      try {
        schema = meta.data_type === 'schema' ? await readSchema(dir) : undefined;
      } catch (err) {
        this.logger.error({ dir, err: (err as Error).message }, 'Skipping a store whose schema.json cannot be read.');
        continue;
      }
      const spec = specOf(meta, dir);
      await sink.openStore(spec);
      const keys = await readKeys(dir);
      this.stores.set(meta.name, { spec, pipeline, sink, meta, keys, view: { name: meta.name, dataType: meta.data_type, ...(schema ? { schema } : {}) } });
    }
    this.logger.info({ stores: this.stores.size, dataDir: this.dataDir }, 'Store catalog loaded.');
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

  /** The sink holding the store's data (its pipeline's sink). */
  sinkOf(name: string): Sink {
    return this.entry(name).sink;
  }

  /** The pipeline the store belongs to, or undefined for an unknown store. */
  pipelineOf(name: string): string | undefined {
    return this.stores.get(name)?.pipeline;
  }

  view(name: string): StoreView | undefined {
    return this.stores.get(name)?.view;
  }

  authenticate(name: string, apiKey: string | undefined): StoreView {
    checkKeyFormat(apiKey);
    const entry = this.stores.get(name);
    if (!entry) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${name}`);
    verifyKey(entry.keys, apiKey);
    return entry.view;
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
      if (this.stores.has(storeName)) throw new TssError('TSS_ERR_STORE_EXISTS');
      const dir = path.join(this.dataDir, storeName);
      try {
        await fs.promises.mkdir(dir, { mode: 0o700 });
        await fs.promises.writeFile(path.join(dir, CREATING_MARKER), '');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new TssError('TSS_ERR_STORE_EXISTS', `store already exists (directory ${dir} is present)`);
        throw err;
      }
      const meta: StoreMeta = {
        name: storeName, data_type: opts.dataType, num_blocks: opts.numBlocks,
        data_block_size: opts.dataBlockSize, index_block_size: opts.indexBlockSize, created_at: new Date().toISOString(),
        ...(explicit !== undefined ? { pipeline } : {}),
      };
      const spec = specOf(meta, dir);
      const { key, record } = generateKey();
      try {
        await sink.createStore(spec);
        await writeKeys(dir, [record]);
        await writeFileAtomic(path.join(dir, 'store.json'), JSON.stringify(meta, null, 2) + '\n', 0o644);
        await fs.promises.rm(path.join(dir, CREATING_MARKER), { force: true });
      } catch (err) {
        await sink.dropStore(storeName).catch(() => undefined);
        await fs.promises.rm(dir, { recursive: true, force: true });
        throw err;
      }
      this.stores.set(storeName, { spec, pipeline, sink, meta, keys: [record], view: { name: storeName, dataType: meta.data_type } });
      this.logger.info({ store: storeName, pipeline, dataType: meta.data_type, numBlocks: meta.num_blocks, dataBlockSize: meta.data_block_size }, 'Store created.');
      return { name: storeName, ...key };
    });
  }

  async drop(name: string): Promise<void> {
    await this.mutex.run(async () => {
      const entry = this.entry(name);
      this.stores.delete(name);
      await this.notifyDropped(name);
      await entry.sink.dropStore(name);
      // store.json goes first, so a crash mid-removal never leaves a half store that loads.
      await fs.promises.rm(path.join(entry.spec.dir, 'store.json'), { force: true });
      await fs.promises.rm(entry.spec.dir, { recursive: true, force: true });
      this.logger.info({ store: name }, 'Store deleted.');
    });
  }

  onStoreDropped(listener: (store: string) => void | Promise<void>): () => void {
    this.dropListeners.add(listener);
    return () => { this.dropListeners.delete(listener); };
  }

  private async notifyDropped(name: string): Promise<void> {
    await Promise.all([...this.dropListeners].map(async (listener) => {
      try {
        await listener(name);
      } catch (err) {
        this.logger.error({ store: name, err: (err as Error)?.stack ?? String(err) }, 'A store-deletion listener failed; deleting the store anyway.');
      }
    }));
  }

  async reset(name: string): Promise<void> {
    await this.mutex.run(async () => {
      await this.entry(name).sink.resetStore(name);
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
      this.logger.info({ store: name, keyId: key.key_id }, 'API key regenerated; older keys revoked.');
      return key;
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
    if (!e) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${name}`);
    return e;
  }
}

function specOf(meta: StoreMeta, dir: string): StoreSpec {
  return {
    name: meta.name, dir, dataType: meta.data_type, numBlocks: meta.num_blocks,
    dataBlockSize: meta.data_block_size, indexBlockSize: meta.index_block_size,
  };
}
