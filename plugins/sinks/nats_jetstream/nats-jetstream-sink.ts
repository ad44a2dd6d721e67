/**
 * The `nats_jetstream` sink: every record becomes one JetStream message on the store's subject,
 * acknowledged to the client only after its PubAck. No local data: the newest timestamp (and the
 * running byte total carried in a header) is learned from the stream's last message of the store
 * before the first write after start, so a restart never reissues a timestamp.
 *
 * No `reader`: JetStream has no index by record timestamp, so the query routes answer 501.
 */
import {
  assignTimestamp,
  type RecordResult,
  reject,
  type Sink,
  type SinkContext,
  type SinkRecord,
  type SinkStoreStats,
  type StoreSpec,
  TssError,
} from 'tsstore/plugin';
import { JetStreamLink } from './jetstream-link.js';
import type { JetStreamOptions } from './options.js';

interface StoreState {
  newest: bigint | undefined;
  bytesSum: number;
  /** Resolves once `newest` is known; undefined until the first attempt. */
  learned: Promise<void> | undefined;
  /**
   * Client timestamps whose publish failed (the message may still have landed): a resend with
   * the same timestamp is allowed, and de-duplication keeps it once in the stream.
   */
  readonly inDoubt: Set<bigint>;
}

const MAX_IN_DOUBT = 10_000;

type State = 'new' | 'open' | 'closing' | 'closed';

export class NatsJetStreamSink implements Sink {
  readonly reader = undefined;
  private readonly link: JetStreamLink;
  private readonly stores = new Map<string, StoreState>();
  private readonly writes = new Set<Promise<unknown>>();
  private state: State = 'new';

  constructor(
    options: JetStreamOptions,
    private readonly ctx: SinkContext,
  ) {
    this.link = new JetStreamLink(options, ctx.logger);
  }

  async open(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state !== 'new') throw new TssError('TSS_ERR_SINK_CLOSED');
    this.state = 'open';
    this.link.start();
  }

  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.state = 'closing';
    await Promise.allSettled([...this.writes]);
    await this.link.close();
    this.state = 'closed';
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new TssError('TSS_ERR_SINK_CLOSED');
  }

  private store(name: string): StoreState {
    this.assertOpen();
    const s = this.stores.get(name);
    if (!s) throw new TssError('TSS_ERR_STORE_NOT_FOUND');
    return s;
  }

  private fresh(): StoreState {
    return { newest: undefined, bytesSum: 0, learned: Promise.resolve(), inDoubt: new Set() };
  }

  /** A new store starts empty: whatever an earlier store of that name left on its subject goes. */
  async createStore(spec: StoreSpec): Promise<void> {
    this.assertOpen();
    if (this.stores.has(spec.name)) throw new TssError('TSS_ERR_STORE_EXISTS');
    await this.connected();
    await this.link.purge(spec.name);
    this.stores.set(spec.name, this.fresh());
  }

  /** Never needs the uplink: what the stream holds is learned before the first write. */
  async openStore(spec: StoreSpec): Promise<void> {
    this.assertOpen();
    if (this.stores.has(spec.name)) throw new TssError('TSS_ERR_STORE_EXISTS');
    this.stores.set(spec.name, { newest: undefined, bytesSum: 0, learned: undefined, inDoubt: new Set() });
  }

  /** Forgets the store's state; what the stream holds is learned again after the next open. */
  async closeStore(name: string): Promise<void> {
    this.store(name);
    this.stores.delete(name);
  }

  async dropStore(name: string): Promise<void> {
    this.store(name);
    await this.connected();
    await this.link.purge(name);
    this.stores.delete(name);
  }

  async resetStore(name: string): Promise<void> {
    this.store(name);
    await this.connected();
    await this.link.purge(name);
    this.stores.set(name, this.fresh());
  }

  /** Waits briefly for a connection that is being set up (the link connects in the background). */
  private async connected(): Promise<void> {
    for (let i = 0; i < 50 && this.link.state !== 'connected' && this.state !== 'closed'; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.link.ready();
  }

  private learn(name: string, s: StoreState): Promise<void> {
    s.learned ??= (async () => {
      await this.connected();
      const last = await this.link.lastRecord(name);
      if (this.stores.get(name) !== s) return;
      if (last && (s.newest === undefined || last.timestamp > s.newest)) {
        s.newest = last.timestamp;
        s.bytesSum = last.bytesSum;
      }
    })().catch((err: unknown) => {
      s.learned = undefined;
      throw err;
    });
    return s.learned;
  }

  write(store: string, records: readonly SinkRecord[]): Promise<RecordResult[]> {
    const p = this.doWrite(store, records);
    this.writes.add(p);
    const done = (): void => void this.writes.delete(p);
    p.then(done, done);
    return p;
  }

  private async doWrite(store: string, records: readonly SinkRecord[]): Promise<RecordResult[]> {
    const s = this.store(store);
    if (records.length === 0) return [];
    await this.learn(store, s);
    const { js } = await this.link.ready();
    if (this.stores.get(store) !== s) throw new TssError('TSS_ERR_STORE_NOT_FOUND');
    // Timestamps are assigned synchronously, so concurrent calls can never interleave them.
    const results: (RecordResult | Promise<RecordResult>)[] = records.map((r) => {
      // A resend of a client timestamp whose publish is in doubt is allowed once more.
      const retry = r.timestamp !== undefined && s.newest !== undefined && r.timestamp <= s.newest && s.inDoubt.has(r.timestamp);
      const timestamp = retry ? (r.timestamp as bigint) : assignTimestamp(r.timestamp, s.newest);
      if (typeof timestamp !== 'bigint') return timestamp;
      if (!retry) {
        s.newest = timestamp;
        s.bytesSum += r.data.length;
      }
      return this.publishOne(js, store, s, timestamp, r, retry ? undefined : s.bytesSum, retry);
    });
    return Promise.all(results);
  }

  private async publishOne(
    js: Parameters<JetStreamLink['publish']>[0],
    store: string,
    s: StoreState,
    timestamp: bigint,
    r: SinkRecord,
    bytesSum: number | undefined,
    retry: boolean,
  ): Promise<RecordResult> {
    try {
      const ack = await this.link.publish(js, { store, timestamp, data: r.data, bytesSum });
      if (ack.duplicate && !retry && !(await this.isOurs(ack.seq, timestamp))) {
        // The id was used before a reset or drop of this store (JetStream remembers ids for its
        // duplicate window even after a purge): this record is new, so it goes without an id.
        await this.link.publish(js, { store, timestamp, data: r.data, bytesSum, dedup: false });
      }
      s.inDoubt.delete(timestamp);
      return { ok: true, timestamp, blockNum: 0, size: r.data.length };
    } catch (err) {
      if (r.timestamp !== undefined && this.stores.get(store) === s) {
        if (s.inDoubt.size >= MAX_IN_DOUBT) s.inDoubt.delete(s.inDoubt.values().next().value as bigint);
        s.inDoubt.add(timestamp);
      }
      const e = this.link.upstream(err);
      return reject(e.code, e.message);
    }
  }

  private async isOurs(seq: number, timestamp: bigint): Promise<boolean> {
    const m = await this.link.recordAt(seq).catch(() => null);
    return m !== null && m.timestamp === timestamp;
  }

  async stats(store: string): Promise<SinkStoreStats> {
    const s = this.store(store);
    await this.learn(store, s);
    const [records, first, last] = await Promise.all([this.link.count(store), this.link.firstRecord(store), this.link.lastRecord(store)]);
    const bytes = first && last ? last.bytesSum - first.bytesSum + first.size : 0;
    return {
      records,
      bytes,
      oldest: first?.timestamp,
      newest: last?.timestamp,
      extra: {
        jetstreamStream: this.link.stream,
        jetstreamSubject: this.link.subjectOf(store),
        jetstreamState: this.link.state,
        jetstreamLastError: this.link.lastError ?? '',
        jetstreamPublished: this.link.published,
        jetstreamDuplicates: this.link.duplicates,
        jetstreamPublishFailures: this.link.failures,
      },
    };
  }
}
