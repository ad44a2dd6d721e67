/**
 * A pipeline's sink as the server uses it: every store operation (writes, reads, stats) runs
 * with the store open — opened on first use and kept from closing while the operation is in
 * flight — and stats of a closed store come from its summary when it has one.
 *
 * The catalog alone attaches and detaches stores (createStore, openStore, closeStore, dropStore,
 * resetStore go to the real sink through it), so those are refused here.
 */
import { TssError } from '../plugin/errors.js';
import type { RecordResult } from '../plugin/record.js';
import type { Sink, SinkReader, SinkRecord, SinkStoreStats } from '../plugin/sink.js';

/** What the catalog provides: run an operation with the store open; stats, summary-aware. */
export interface StoreGate {
  use<T>(store: string, op: () => Promise<T>): Promise<T>;
  stats(store: string): Promise<SinkStoreStats>;
  /** Records of the store became durable (outputs are woken). */
  committed?(store: string): void;
  /** A record of the store was soft-deleted. */
  removed?(store: string, timestamp: bigint): void;
}

function managed(): Promise<never> {
  return Promise.reject(new TssError('TSS_ERR_INTERNAL', 'stores are attached and detached by the store catalog'));
}

export class OnDemandSink implements Sink {
  readonly reader?: SinkReader;
  readonly isOpen?: () => boolean;

  constructor(
    readonly inner: Sink,
    private readonly gate: StoreGate,
  ) {
    const r = inner.reader;
    if (r) {
      this.reader = {
        get: (store, ts, withData) => gate.use(store, () => r.get(store, ts, withData)),
        scan: (store, query) => gate.use(store, () => r.scan(store, query)),
        remove: async (store, ts) => {
          const done = await gate.use(store, () => r.remove(store, ts));
          if (done) gate.removed?.(store, ts);
          return done;
        },
      };
    }
    if (inner.isOpen) this.isOpen = () => inner.isOpen!();
  }

  open(): Promise<void> {
    return this.inner.open();
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  createStore(): Promise<void> {
    return managed();
  }
  openStore(): Promise<void> {
    return managed();
  }
  closeStore(): Promise<void> {
    return managed();
  }
  dropStore(): Promise<void> {
    return managed();
  }
  resetStore(): Promise<void> {
    return managed();
  }

  async write(store: string, records: readonly SinkRecord[]): Promise<RecordResult[]> {
    const results = await this.gate.use(store, () => this.inner.write(store, records));
    if (this.gate.committed) {
      for (const r of results) {
        if (r.ok) {
          this.gate.committed(store);
          break;
        }
      }
    }
    return results;
  }

  stats(store: string): Promise<SinkStoreStats> {
    return this.gate.stats(store);
  }
}
