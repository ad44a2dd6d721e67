/**
 * Group commit on the input side: records that arrive in the same event-loop turn, from any
 * number of connections, go to the pipeline as one `emit` (the runner splits them by store and
 * the sink writes each store's share with one write and one sync). Each submitter gets its own
 * slice of the results back, in order.
 *
 * Flushing on `setImmediate` collects everything the poll phase delivered (every socket's
 * 'data' / 'message' callbacks of this turn) without adding a timer's latency.
 */
import { reject, toTssError } from '../errors.js';
import type { Emit } from '../input.js';
import type { IngestRecord, RecordResult } from '../record.js';

export type ResultsCallback = (results: RecordResult[]) => void;

interface Waiter {
  readonly count: number;
  readonly done: ResultsCallback;
}

export class EmitBatcher {
  private records: IngestRecord[] = [];
  private waiters: Waiter[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private inflight = 0;
  private idle: (() => void)[] = [];

  /** `maxBatch`: flush at once when this many records are waiting (bounds one emit's size). */
  constructor(
    private readonly emit: Emit,
    private readonly maxBatch = 8192,
  ) {}

  /** Queue records for the next flush; `done` receives exactly one result per record, in order. */
  submit(records: IngestRecord[], done: ResultsCallback): void {
    if (records.length === 0) {
      done([]);
      return;
    }
    for (const r of records) this.records.push(r);
    this.waiters.push({ count: records.length, done });
    if (this.records.length >= this.maxBatch) this.flush();
    else this.scheduled ??= setImmediate(this.flush);
  }

  /** `submit` as a promise (for request/response inputs). */
  run(records: IngestRecord[]): Promise<RecordResult[]> {
    return new Promise((resolve) => this.submit(records, resolve));
  }

  /** Records handed to `emit` (or waiting for it) and not answered yet. */
  get busy(): boolean {
    return this.inflight > 0 || this.records.length > 0;
  }

  /** Flush what is waiting and resolve once every emit so far has been answered. */
  async settle(): Promise<void> {
    if (this.records.length > 0) this.flush();
    if (this.inflight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private readonly flush = (): void => {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    const records = this.records;
    const waiters = this.waiters;
    if (records.length === 0) return;
    this.records = [];
    this.waiters = [];
    this.inflight++;
    const finish = (): void => {
      if (--this.inflight === 0) for (const resolve of this.idle.splice(0)) resolve();
    };
    let p: Promise<RecordResult[]>;
    try {
      p = this.emit(records);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (results) => {
        if (waiters.length === 1) waiters[0].done(results);
        else {
          let at = 0;
          for (const w of waiters) {
            w.done(results.slice(at, at + w.count));
            at += w.count;
          }
        }
        finish();
      },
      (err: unknown) => {
        const e = toTssError(err);
        const r = reject(e.code, e.message);
        for (const w of waiters) w.done(new Array<RecordResult>(w.count).fill(r));
        finish();
      },
    );
  };
}
