/**
 * Per-connection reply ordering and back-pressure for streaming inputs.
 *
 * A connection submits records (answered when the sink has them) and fixed replies (protocol
 * errors, `OK bye`) in arrival order; replies leave in exactly that order however the emits
 * complete. `pending` counts what was received and not yet answered. Above `high` the input is
 * told to stop reading; at or below `low`, and once the transport has drained its writes, it is
 * told to read again. So a client that floods faster than the sink commits, or never reads its
 * replies, is slowed down instead of growing the server's memory.
 */
import type { IngestRecord, RecordResult } from '../record.js';
import type { EmitBatcher } from './emit-batcher.js';

export interface ReplyTransport {
  /** Send these replies, in order. */
  write(replies: string[]): void;
  /** Stop reading from the client. */
  pause(): void;
  /** Read from the client again. */
  resume(): void;
}

interface Batch {
  readonly count: number;
  results?: RecordResult[];
}

type Entry = string | Batch;

export class OrderedReplies {
  private queue: Entry[] = [];
  private head = 0;
  private pending = 0;
  private paused = false;
  private writeBlocked = false;
  private closed = false;
  private drained: (() => void)[] = [];

  constructor(
    private readonly batcher: EmitBatcher,
    private readonly transport: ReplyTransport,
    private readonly render: (r: RecordResult) => string,
    private readonly high: number,
    private readonly low: number,
  ) {}

  /** Records and replies received and not answered yet. */
  get outstanding(): number {
    return this.pending;
  }

  /** A reply that needs no pipeline work; it still waits for everything received before it. */
  reply(text: string): void {
    if (this.closed) return;
    this.pending++;
    this.queue.push(text);
    if (this.queue.length - this.head === 1) this.pump();
  }

  /** Hand records to the pipeline; their replies take their place in the order. */
  submit(records: IngestRecord[]): void {
    if (this.closed || records.length === 0) return;
    const batch: Batch = { count: records.length };
    this.queue.push(batch);
    this.pending += records.length;
    if (!this.paused && this.pending > this.high) {
      this.paused = true;
      this.transport.pause();
    }
    this.batcher.submit(records, (results) => {
      batch.results = results;
      this.pump();
    });
  }

  /** The transport reports whether its write buffer is full (it must call again when drained). */
  setWriteBlocked(blocked: boolean): void {
    this.writeBlocked = blocked;
    if (blocked) {
      if (!this.paused) {
        this.paused = true;
        this.transport.pause();
      }
    } else this.maybeResume();
  }

  /** Resolves when every reply so far has been handed to the transport (or the connection closed). */
  whenAnswered(): Promise<void> {
    if (this.closed || this.head === this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** The connection is gone: drop replies still to come (their records are still written). */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private pump(): void {
    if (this.closed) return;
    const out: string[] = [];
    let n = 0;
    while (this.head < this.queue.length) {
      const e = this.queue[this.head];
      if (typeof e === 'string') {
        out.push(e);
        n++;
      } else if (e.results) {
        for (const r of e.results) out.push(this.render(r));
        n += e.count;
      } else break;
      this.head++;
    }
    if (n === 0) return;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.pending -= n;
    this.transport.write(out);
    this.maybeResume();
    if (this.head === this.queue.length) for (const resolve of this.drained.splice(0)) resolve();
  }

  private maybeResume(): void {
    if (this.paused && !this.writeBlocked && this.pending <= this.low && !this.closed) {
      this.paused = false;
      this.transport.resume();
    }
  }
}
