/**
 * The `blockfile_forward` sink: store-and-forward for edge gateways. The block-file engine stores
 * and serves reads (a record is acknowledged once the ring has it); one StoreForwarder per store
 * drains the ring to NATS JetStream behind the client's back.
 */
import {
  type RecordResult,
  type Sink,
  type SinkContext,
  type SinkReader,
  type SinkRecord,
  type SinkStoreStats,
  type SinkSupports,
  type StoreSpec,
  TssError,
} from 'tsstore/plugin';
import { BlockFileSink } from '../blockfile/block-file-sink.js';
import { JetStreamLink } from '../nats_jetstream/jetstream-link.js';
import { removeCursor } from './forward-cursor.js';
import type { BlockFileForwardOptions } from './options.js';
import { StoreForwarder } from './store-forwarder.js';

export class BlockFileForwardSink implements Sink {
  readonly reader: SinkReader;
  readonly supports: SinkSupports;
  /** Forwarders drain stores without requests: the catalog opens the stores at start. */
  readonly backgroundWork = true;
  private readonly engine: BlockFileSink;
  private readonly link: JetStreamLink;
  private readonly forwarders = new Map<string, StoreForwarder>();
  private closed = false;

  constructor(
    private readonly options: BlockFileForwardOptions,
    private readonly ctx: SinkContext,
  ) {
    const { forward, ...engineOptions } = options;
    this.engine = new BlockFileSink(engineOptions, ctx);
    this.supports = this.engine.supports;
    this.link = new JetStreamLink(forward, ctx.logger.child({ component: 'forward' }));
    const inner = this.engine.reader;
    this.reader = {
      get: (store, ts, withData) => inner.get(store, ts, withData),
      scan: (store, q) => inner.scan(store, q),
      remove: async (store, ts) => {
        const done = await inner.remove(store, ts);
        if (done) this.forwarders.get(store)?.removed(ts);
        return done;
      },
    };
  }

  async open(): Promise<void> {
    await this.engine.open();
    this.link.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.forwarders.values()].map((f) => f.stop()));
    this.forwarders.clear();
    await this.engine.close();
    await this.link.close();
  }

  private async startForwarder(spec: StoreSpec): Promise<void> {
    const f = new StoreForwarder(spec.name, spec.dir, this.engine, this.link, this.options.forward, this.ctx.logger.child({ component: 'forward' }));
    await f.start();
    this.forwarders.set(spec.name, f);
  }

  async createStore(spec: StoreSpec): Promise<void> {
    await this.engine.createStore(spec);
    await removeCursor(spec.dir);
    await this.startForwarder(spec);
  }

  async openStore(spec: StoreSpec): Promise<void> {
    await this.engine.openStore(spec);
    await this.startForwarder(spec);
  }

  /**
   * Stops the store's forwarder (its cursor is saved as it goes) and closes the store. Records
   * not yet forwarded wait in the ring: forwarding resumes from the cursor when the store opens
   * again (at its next write or read).
   */
  async closeStore(name: string): Promise<void> {
    const f = this.forwarders.get(name);
    await this.engine.stats(name);
    this.forwarders.delete(name);
    await f?.stop();
    await this.engine.closeStore(name);
  }

  async dropStore(name: string): Promise<void> {
    const f = this.forwarders.get(name);
    await this.engine.stats(name);
    this.forwarders.delete(name);
    await f?.stop();
    await this.engine.dropStore(name);
  }

  async resetStore(name: string): Promise<void> {
    const f = this.forwarders.get(name);
    await this.engine.stats(name);
    await f?.stop();
    try {
      await this.engine.resetStore(name);
      await f?.resetCursor();
    } finally {
      if (f && !this.closed) await f.start();
    }
  }

  async write(store: string, records: readonly SinkRecord[]): Promise<RecordResult[]> {
    const res = await this.engine.write(store, records);
    this.forwarders.get(store)?.notify();
    return res;
  }

  async stats(store: string): Promise<SinkStoreStats> {
    const s = await this.engine.stats(store);
    const f = this.forwarders.get(store);
    if (!f) throw new TssError('TSS_ERR_STORE_NOT_FOUND');
    return { ...s, extra: { ...s.extra, ...(await f.stats(s)) } };
  }
}
