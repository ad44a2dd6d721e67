/**
 * A sink that keeps records in memory: nothing survives a restart. For tests, demos and as the
 * smallest complete example of the Sink contract (reads included).
 */
import {
  assignTimestamp,
  type RecordResult,
  type ScanQuery,
  type Sink,
  type SinkReader,
  type SinkRecord,
  type SinkStoreStats,
  type SinkSupports,
  type StoredRecord,
  type StoreSpec,
  TssError,
} from 'tsstore/plugin';

interface Row {
  readonly timestamp: bigint;
  readonly data: Buffer;
  deleted: boolean;
}

export class MemorySink implements Sink, SinkReader {
  readonly reader: SinkReader = this;
  readonly supports: SinkSupports = { permanence: false };
  private readonly stores = new Map<string, Row[]>();
  /** Closed stores keep their rows (until the process ends), so reopening finds them. */
  private readonly closed = new Map<string, Row[]>();
  private open_ = false;

  constructor(private readonly maxRecords: number) {}

  async open(): Promise<void> {
    this.open_ = true;
  }
  async close(): Promise<void> {
    this.open_ = false;
  }
  isOpen(): boolean {
    return this.open_;
  }

  async createStore(spec: StoreSpec): Promise<void> {
    this.check();
    if (this.stores.has(spec.name)) throw new TssError('TSS_ERR_STORE_EXISTS');
    this.stores.set(spec.name, []);
    this.closed.delete(spec.name);
  }
  async openStore(spec: StoreSpec): Promise<void> {
    this.check();
    if (!this.stores.has(spec.name)) this.stores.set(spec.name, this.closed.get(spec.name) ?? []);
    this.closed.delete(spec.name);
  }
  async closeStore(name: string): Promise<void> {
    this.closed.set(name, this.rows(name));
    this.stores.delete(name);
  }
  async dropStore(name: string): Promise<void> {
    this.check();
    this.stores.delete(name);
    this.closed.delete(name);
  }
  async resetStore(name: string): Promise<void> {
    this.rows(name).length = 0;
  }

  async write(store: string, records: readonly SinkRecord[]): Promise<RecordResult[]> {
    const rows = this.rows(store);
    return records.map((r) => {
      const timestamp = assignTimestamp(r.timestamp, rows.length ? rows[rows.length - 1].timestamp : undefined);
      if (typeof timestamp !== 'bigint') return timestamp;
      rows.push({ timestamp, data: Buffer.from(r.data), deleted: false });
      if (rows.length > this.maxRecords) rows.shift();
      return { ok: true, timestamp, blockNum: 0, size: r.data.length };
    });
  }

  async stats(store: string): Promise<SinkStoreStats> {
    const rows = this.rows(store).filter((r) => !r.deleted);
    return {
      records: rows.length,
      bytes: rows.reduce((n, r) => n + r.data.length, 0),
      oldest: rows[0]?.timestamp,
      newest: rows[rows.length - 1]?.timestamp,
    };
  }

  async get(store: string, timestamp: bigint, withData: boolean): Promise<StoredRecord | null> {
    const row = this.rows(store).find((r) => r.timestamp === timestamp && !r.deleted);
    return row ? toStored(row, withData) : null;
  }

  async scan(store: string, q: ScanQuery): Promise<StoredRecord[]> {
    let rows = this.rows(store).filter((r) => !r.deleted && (q.from === undefined || r.timestamp >= q.from) && (q.to === undefined || r.timestamp <= q.to));
    if (q.order === 'desc') rows = rows.reverse();
    if (q.match) rows = rows.filter((r) => q.match!(r.data));
    return rows.slice(0, q.limit).map((r) => toStored(r, q.withData));
  }

  async remove(store: string, timestamp: bigint): Promise<boolean> {
    const row = this.rows(store).find((r) => r.timestamp === timestamp && !r.deleted);
    if (!row) return false;
    row.deleted = true;
    return true;
  }

  private rows(store: string): Row[] {
    this.check();
    const rows = this.stores.get(store);
    if (!rows) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${store}`);
    return rows;
  }

  private check(): void {
    if (!this.open_) throw new TssError('TSS_ERR_SINK_CLOSED');
  }
}

function toStored(r: Row, withData: boolean): StoredRecord {
  return { timestamp: r.timestamp, blockNum: 0, size: r.data.length, data: withData ? r.data : undefined };
}
