import fs from 'node:fs';
import path from 'node:path';
import {
  assignTimestamp,
  defineSink,
  Joi,
  readStateFile,
  SerialQueue,
  TssError,
  type RecordResult,
  type Sink,
  type SinkRecord,
  type SinkStoreStats,
  type StoreSpec,
} from 'tsstore/plugin';

interface JsonlOptions {
  fsync: boolean;
}
interface Store {
  file: string;
  fh: fs.promises.FileHandle;
  records: number;
  bytes: number;
  oldest?: bigint;
  newest?: bigint;
  queue: SerialQueue;
}

/** `{"t":"<timestamp>","d":"<data, base64>"}` per line in `<store dir>/records.jsonl`. */
class JsonlSink implements Sink {
  readonly supports = { permanence: true };
  private readonly stores = new Map<string, Store>();
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(private readonly options: JsonlOptions) {}

  async open(): Promise<void> {
    this.state = 'open';
  }
  isOpen(): boolean {
    return this.state === 'open';
  }

  async close(): Promise<void> {
    if (this.state !== 'open') {
      this.state = 'closed';
      return;
    }
    this.state = 'closed';
    for (const s of this.stores.values()) await s.queue.run(() => s.fh.close());
    this.stores.clear();
  }

  async createStore(spec: StoreSpec): Promise<void> {
    this.check();
    if (this.stores.has(spec.name)) throw new TssError('TSS_ERR_STORE_EXISTS');
    await fs.promises.writeFile(path.join(spec.dir, 'records.jsonl'), '');
    await this.attach(spec);
  }

  /** Reads the file once; a torn last line (a crash mid-append) is cut off, never refused. */
  async openStore(spec: StoreSpec): Promise<void> {
    this.check();
    if (this.stores.has(spec.name)) throw new TssError('TSS_ERR_STORE_EXISTS');
    await this.attach(spec);
  }

  /** Detaches the store (its file stays); the next call for it is `openStore`. */
  async closeStore(name: string): Promise<void> {
    const s = this.store(name);
    this.stores.delete(name);
    await s.queue.run(() => s.fh.close());
  }

  /** Detaching is all: tsstore removes the store directory, file included, afterwards. */
  async dropStore(name: string): Promise<void> {
    await this.closeStore(name);
  }

  async resetStore(name: string): Promise<void> {
    const s = this.store(name);
    await s.queue.run(async () => {
      await s.fh.truncate(0);
      await s.fh.sync();
      Object.assign(s, { records: 0, bytes: 0, oldest: undefined, newest: undefined });
    });
  }

  /** One append (and one fsync) per call; calls to one store run one after another. */
  async write(store: string, records: readonly SinkRecord[]): Promise<RecordResult[]> {
    const s = this.store(store);
    return s.queue.run(async () => {
      if (this.stores.get(store) !== s) throw new TssError('TSS_ERR_STORE_NOT_FOUND');
      const results: RecordResult[] = [];
      let lines = '';
      let newest = s.newest;
      for (const r of records) {
        const ts = assignTimestamp(r.timestamp, newest);
        if (typeof ts !== 'bigint') {
          results.push(ts);
          continue;
        }
        newest = ts;
        lines += `{"t":"${ts}","d":"${r.data.toString('base64')}"}\n`;
        results.push({ ok: true, timestamp: ts, blockNum: 0, size: r.data.length });
      }
      if (lines) {
        await s.fh.appendFile(lines);
        if (this.options.fsync) await s.fh.sync();
      }
      for (const r of results)
        if (r.ok) {
          s.records++;
          s.bytes += r.size;
          s.oldest ??= r.timestamp;
          s.newest = r.timestamp;
        }
      return results;
    });
  }

  async stats(store: string): Promise<SinkStoreStats> {
    const s = this.store(store);
    return { records: s.records, bytes: s.bytes, oldest: s.oldest, newest: s.newest };
  }

  private async attach(spec: StoreSpec): Promise<void> {
    const file = path.join(spec.dir, 'records.jsonl');
    const text = (await readStateFile(file)) ?? '';
    const whole = text.slice(0, text.lastIndexOf('\n') + 1);
    const s: Store = { file, fh: await fs.promises.open(file, 'a+'), records: 0, bytes: 0, queue: new SerialQueue() };
    if (whole.length < text.length) await s.fh.truncate(Buffer.byteLength(whole));
    for (const line of whole.split('\n')) {
      if (!line) continue;
      const { t, d } = JSON.parse(line) as { t: string; d: string };
      s.records++;
      s.bytes += Buffer.from(d, 'base64').length;
      s.oldest ??= BigInt(t);
      s.newest = BigInt(t);
    }
    this.stores.set(spec.name, s);
  }

  private store(name: string): Store {
    this.check();
    const s = this.stores.get(name);
    if (!s) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${name}`);
    return s;
  }

  private check(): void {
    if (this.state !== 'open') throw new TssError('TSS_ERR_SINK_CLOSED');
  }
}

/** Appends each store's records to `<store dir>/records.jsonl`. */
export default defineSink<JsonlOptions>({
  type: 'jsonl',
  description: 'Appends records to one JSON-lines file per store (example sink)',
  apiVersion: '^1.0.0',
  options: Joi.object({ fsync: Joi.boolean().default(true) }),
  create: (options) => new JsonlSink(options),
});
