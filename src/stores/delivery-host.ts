/**
 * Every delivery of one server (src/stores/delivery.ts), by store: woken by the catalog's commit
 * events, told about soft deletes and resets, stopped when their store is deleted (before its
 * directory, cursor files included, is removed). Each output instance gets a `Deliveries` facade
 * that labels its deliveries with the output's id (metrics, store stats).
 */
import type { Logger } from '../plugin/descriptor.js';
import { TssError } from '../plugin/errors.js';
import type { Deliveries, Delivery, DeliverySpec, DeliveryStatus } from '../plugin/output.js';
import { CURSOR_NAME, StoreDelivery } from './delivery.js';
import type { StoreCatalog } from './store-catalog.js';

interface Entry {
  readonly output: string;
  readonly delivery: StoreDelivery;
}

export interface LabelledStatus extends DeliveryStatus {
  /** The output instance (its config id) that opened the delivery. */
  readonly output: string;
}

/** A delivery's figures as the API shows them (snake_case; absent values omitted). */
export function renderDeliveryStatus(s: LabelledStatus): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    output: s.output,
    cursor_name: s.cursorName,
    state: s.state,
    cursor: s.cursor,
    lag_records: s.lagRecords,
    lag_seconds: s.lagSeconds,
    sent: s.sent,
    errors: s.errors,
    missed: s.missed,
    last_error: s.lastError,
    last_error_at: s.lastErrorAt,
    last_sent_at: s.lastSentAt,
  };
  for (const k of Object.keys(doc)) if (doc[k] === undefined) delete doc[k];
  return doc;
}

export class DeliveryHost {
  private readonly byStore = new Map<string, Set<Entry>>();
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly catalog: StoreCatalog,
    private readonly logger: Logger,
  ) {
    this.unsubscribe.push(
      catalog.watch({
        committed: (store) => {
          for (const e of this.byStore.get(store) ?? []) e.delivery.committed();
        },
        removed: (store, ts) => {
          for (const e of this.byStore.get(store) ?? []) e.delivery.removed(ts);
        },
        reset: (store) => {
          for (const e of this.byStore.get(store) ?? []) e.delivery.reset();
        },
        created: (store) => {
          for (const e of this.byStore.get(store) ?? []) e.delivery.wake();
        },
      }),
    );
    this.unsubscribe.push(
      catalog.onStoreDropped(async (store) => {
        const entries = [...(this.byStore.get(store) ?? [])];
        await Promise.all(entries.map((e) => e.delivery.halt('store deleted')));
        this.byStore.delete(store);
      }),
    );
  }

  /** The facade an output instance uses. */
  forOutput(output: string): Deliveries {
    return { open: (spec) => this.open(output, spec) };
  }

  async open(output: string, spec: DeliverySpec): Promise<Delivery> {
    if (this.closed) throw new TssError('TSS_ERR_SHUTTING_DOWN');
    if (spec.cursor !== undefined) {
      if (!CURSOR_NAME.test(spec.cursor))
        throw new TssError('TSS_ERR_BAD_REQUEST', `invalid cursor name ${JSON.stringify(spec.cursor)}: letters, digits, _ . - (up to 100)`);
      for (const e of this.byStore.get(spec.store) ?? []) {
        if (e.delivery.cursorName === spec.cursor)
          throw new TssError('TSS_ERR_BAD_REQUEST', `cursor ${spec.cursor} of store ${spec.store} is already being read`);
      }
    }
    if (spec.from !== undefined && typeof spec.from === 'bigint' && spec.from < 0n) throw new TssError('TSS_ERR_BAD_REQUEST', 'from must not be negative');
    const catalog = this.catalog;
    const source = {
      reader: (store: string) => catalog.sinkOf(store).reader,
      stats: (store: string) => catalog.stats(store),
      storeDir: (store: string) => catalog.storeDir(store),
    };
    let set = this.byStore.get(spec.store);
    if (!set) this.byStore.set(spec.store, (set = new Set()));
    const entries = set;
    const delivery: StoreDelivery = new StoreDelivery(spec, source, this.logger.child({ output }), (d) => {
      for (const e of entries) if (e.delivery === d) entries.delete(e);
      if (entries.size === 0 && this.byStore.get(spec.store) === entries) this.byStore.delete(spec.store);
    });
    entries.add({ output, delivery });
    delivery.start();
    return delivery;
  }

  /** Figures of every delivery with a persisted cursor (transient ones come and go with readers). */
  async named(store?: string): Promise<LabelledStatus[]> {
    const entries: Entry[] = [];
    for (const [s, set] of this.byStore) if (store === undefined || s === store) for (const e of set) if (e.delivery.cursorName !== undefined) entries.push(e);
    return Promise.all(entries.map(async (e) => ({ ...(await e.delivery.status()), output: e.output })));
  }

  /** Deliveries open now, transient ones included, by output. */
  counts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const set of this.byStore.values()) for (const e of set) out.set(e.output, (out.get(e.output) ?? 0) + 1);
    return out;
  }

  /** Stops every delivery still open (outputs stop their own first). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.byStore.values()].flatMap((set) => [...set]);
    await Promise.all(all.map((e) => e.delivery.stop()));
    this.byStore.clear();
    for (const u of this.unsubscribe) u();
  }
}
