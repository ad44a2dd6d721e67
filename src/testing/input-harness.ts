/**
 * A harness for testing an input plugin without a full server (`tsstore/testing`):
 *
 *   const h = await inputHarness(myInput, { options: { port: 0 } });
 *   await h.createStore('sensors');                  // a real store (json unless told otherwise)
 *   ... drive the input with a real client ...
 *   const stored = await h.waitForRecords('sensors', 3);
 *   await h.stop();
 *
 * The options go through the descriptor's joi schema exactly as a config block would. The input
 * gets a real context: `stores` is a real store catalog (API keys included) in a temp directory,
 * `http` is a real HTTP server on 127.0.0.1 port 0 (`h.url`) for inputs that add routes, and
 * `emit` is a real pipeline runner: the `validate` stage (or the stages given) into an in-memory
 * sink. Every emit and its results are kept in `h.emits` for assertions on rejections.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpServer } from '../http/app.js';
import { silentLogger } from '../core/logger.js';
import { PipelineRunner } from '../pipeline/runner.js';
import { StoreCatalog } from '../stores/store-catalog.js';
import type { InputContext, InputDescriptor, Logger } from '../plugin/descriptor.js';
import { OutboundPolicy, type OutboundOptions } from '../plugin/kit/outbound.js';
import type { InputPlugin, Resource } from '../plugin/input.js';
import type { IngestRecord, RecordResult, StoredRecord } from '../plugin/record.js';
import type { Stage } from '../plugin/stage.js';
import { MemorySink } from '../../plugins/sinks/memory/memory-sink.js';
import { ValidateStage } from '../../plugins/stages/validate/validate-stage.js';

export interface InputHarnessOptions {
  /** The input's config block without `type` (validated, defaults applied). */
  readonly options?: Record<string, unknown>;
  /** Instance id (the key in the pipeline config); default `test`. */
  readonly id?: string;
  /** Stages between the input and the sink; default: the built-in `validate` stage. */
  readonly stages?: readonly Stage[];
  /** Start the input at once (default true); else call `h.start()`. */
  readonly start?: boolean;
  readonly logger?: Logger;
  /** The outbound allow-list given to the input (`ctx.outbound`); default: the server's default (public addresses only). */
  readonly outbound?: OutboundOptions;
}

export interface HarnessEmit {
  readonly records: readonly IngestRecord[];
  readonly results: readonly RecordResult[];
}

export interface InputHarness {
  readonly plugin: InputPlugin;
  /** Options after the schema (defaults applied). */
  readonly options: Record<string, unknown>;
  /** What `resources()` claims. */
  readonly resources: readonly Resource[];
  /** The harness's HTTP server (routes the input registered, with store-key auth). */
  readonly url: string;
  /** Every emit so far, in order, with its results. */
  readonly emits: readonly HarnessEmit[];
  /** Admin key of the harness's HTTP server. */
  readonly adminKey: string;
  start(): Promise<void>;
  /** Creates a store (`data_type`, `num_blocks`, ... as over the API) and returns its API key. */
  createStore(name: string, options?: Record<string, unknown>): Promise<string>;
  /**
   * Replaces the store's keys with a new one (returned), as `keys/regenerate` does: every session
   * opened with an older key must end (StoreSession).
   */
  regenerateKey(store: string): Promise<string>;
  /** Deletes the store, as `DELETE /api/stores/:store` does: its sessions must end. */
  deleteStore(store: string): Promise<void>;
  /** Empties the store, as `POST /api/stores/:store/reset` does: its sessions must end. */
  resetStore(store: string): Promise<void>;
  /** Stored records of a store, oldest first, with their data. */
  records(store: string): Promise<StoredRecord[]>;
  /** Waits until the store holds at least `count` records (default timeout 10 s). */
  waitForRecords(store: string, count: number, timeoutMs?: number): Promise<StoredRecord[]>;
  /** Stops the input, drains the pipeline, closes everything and removes the temp directory. */
  stop(): Promise<void>;
}

const ADMIN_KEY = 'input-harness-admin-key-0123456789';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function inputHarness(descriptor: InputDescriptor<any>, opts: InputHarnessOptions = {}): Promise<InputHarness> {
  const { value, error } = descriptor.options.validate(opts.options ?? {}, { abortEarly: false, convert: true });
  if (error)
    throw new Error(`invalid options for input ${descriptor.type}: ${error.details.map((d) => `${d.path.join('.') || '(root)'}: ${d.message}`).join('; ')}`);
  const logger = opts.logger ?? silentLogger();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `tss-input-${descriptor.type}-`));
  const sink = new MemorySink(1_000_000);
  await sink.open();
  const catalog = new StoreCatalog(dataDir, sink, logger);
  await catalog.load();
  const runner = new PipelineRunner('test', opts.stages ?? [new ValidateStage()], catalog.pipelineSink('main'), catalog, logger);
  const http = new HttpServer({ host: '127.0.0.1', port: 0, wsMaxFrame: 16 * 1024 * 1024 }, logger);
  const emits: HarnessEmit[] = [];
  const emit = async (records: IngestRecord[]): Promise<RecordResult[]> => {
    const results = await runner.emit(records);
    emits.push({ records: [...records], results });
    return results;
  };
  const id = opts.id ?? 'test';
  const ctx: InputContext = {
    id,
    logger: logger.child({ input: id }),
    dataDir,
    stores: catalog,
    http: http.host(catalog, ADMIN_KEY),
    outbound: OutboundPolicy.from(opts.outbound),
  };
  const plugin = descriptor.create(value, ctx);
  let started = false;
  let stopped = false;
  const harness: InputHarness = {
    plugin,
    options: value as Record<string, unknown>,
    resources: plugin.resources?.() ?? [],
    get url() {
      return http.url;
    },
    emits,
    adminKey: ADMIN_KEY,
    async start() {
      if (started) return;
      started = true;
      await plugin.start(emit);
      await http.listen();
    },
    async createStore(name, options = {}) {
      const created = await catalog.create(name, options);
      return created.api_key;
    },
    async regenerateKey(store) {
      return (await catalog.regenerateKey(store)).api_key;
    },
    deleteStore: (store) => catalog.drop(store),
    resetStore: (store) => catalog.reset(store),
    async records(store) {
      return sink.scan(store, { order: 'asc', limit: Number.MAX_SAFE_INTEGER, withData: true });
    },
    async waitForRecords(store, count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = catalog.has(store) ? await harness.records(store) : [];
        if (rows.length >= count) return rows;
        if (Date.now() > deadline) throw new Error(`store ${store} holds ${rows.length} records after ${timeoutMs} ms, expected ${count}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await http.close(1000);
      if (started) await plugin.stop();
      await runner.drain();
      await sink.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (opts.start !== false) await harness.start();
  return harness;
}
