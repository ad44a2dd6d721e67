/**
 * The pipeline runner: what `emit` does.
 *
 *   input ──emit(records)──▶ group by store ──▶ stage 1 ─▶ … ─▶ stage n ──▶ sink.write(store, batch)
 *     ▲                                           │ rejection       │             │ results
 *     └──────────── RecordResult[] (same order) ◀─┴─────────────────┴─────────────┘
 *
 * The returned promise resolves when the sink has every accepted record durably: that is the
 * acknowledgement the input gives its client, and the back-pressure it obeys. Per-record problems
 * are results, never exceptions.
 *
 * Metrics are counted per batch through series resolved once per (input, store); rejections are
 * logged with store, input and code, rate-limited per (input, code).
 */
import { reject, toTssError, TssError, type Rejection } from '../plugin/errors.js';
import { RateLimitedLog } from '../core/rate-limited-log.js';
import type { PipelineMetrics, IngestSeries } from '../metrics/server-metrics.js';
import type { Logger, StoreAccess } from '../plugin/descriptor.js';
import type { IngestRecord, RecordResult } from '../plugin/record.js';
import type { Sink, SinkRecord } from '../plugin/sink.js';
import type { Stage } from '../plugin/stage.js';

export class PipelineRunner {
  private closing = false;
  private inflight = 0;
  private idle: (() => void) | undefined;
  private readonly rejections: RateLimitedLog;

  constructor(
    readonly name: string,
    private readonly stages: readonly Stage[],
    readonly sink: Sink,
    private readonly stores: Pick<StoreAccess, 'view'>,
    private readonly logger: Logger,
    /** With several pipelines: the pipeline each store belongs to (records for others are rejected). */
    private readonly ownerOf?: (store: string) => string | undefined,
    private readonly metrics?: PipelineMetrics,
  ) {
    this.rejections = new RateLimitedLog(logger);
  }

  /** The Emit handed to inputs. */
  readonly emit = async (records: IngestRecord[]): Promise<RecordResult[]> => {
    if (this.closing) throw new TssError('TSS_ERR_SHUTTING_DOWN');
    if (records.length === 0) return [];
    this.inflight++;
    try {
      const results = new Array<RecordResult>(records.length);
      const first = records[0].store;
      if (records.every((r) => r.store === first)) {
        await this.runStore(first, records, null, results);
      } else {
        const groups = new Map<string, number[]>();
        records.forEach((r, i) => {
          const g = groups.get(r.store);
          if (g) g.push(i);
          else groups.set(r.store, [i]);
        });
        await Promise.all(
          [...groups].map(([store, idx]) =>
            this.runStore(
              store,
              idx.map((i) => records[i]),
              idx,
              results,
            ),
          ),
        );
      }
      return results;
    } finally {
      if (--this.inflight === 0 && this.idle) this.idle();
    }
  };

  /** Stop taking new records and wait until every emit in flight has been answered. */
  async drain(): Promise<void> {
    this.closing = true;
    if (this.inflight > 0)
      await new Promise<void>((resolve) => {
        this.idle = resolve;
      });
    this.rejections.close();
  }

  /** Whether `emit` still takes records. */
  get accepting(): boolean {
    return !this.closing;
  }

  private seriesOf(records: readonly IngestRecord[], store: string): IngestSeries | null | undefined {
    if (!this.metrics) return undefined;
    const input = records[0].origin.input;
    for (let i = 1; i < records.length; i++) if (records[i].origin.input !== input) return null;
    return this.metrics.ingest(input, store);
  }

  private rejected(store: string, record: IngestRecord, r: Rejection, series: IngestSeries | null | undefined): void {
    const input = record.origin.input;
    if (series !== undefined) (series ?? this.metrics!.ingest(input, store)).rejected(r.code).inc();
    this.rejections.log(`${input}\u0000${r.code}`, { store, input, code: r.code, err: r.message }, 'Record rejected.');
  }

  private async runStore(store: string, records: IngestRecord[], index: number[] | null, results: RecordResult[]): Promise<void> {
    // `series` is the one series of a single-input batch, null for a mixed batch (rare: resolved
    // per record), undefined without metrics.
    const series = this.seriesOf(records, store);
    if (series !== undefined) {
      let bytes = 0;
      for (const r of records) bytes += r.payload.length;
      if (series) {
        series.received.inc(records.length);
        series.bytes.inc(bytes);
      } else {
        for (const r of records) {
          const s = this.metrics!.ingest(r.origin.input, store);
          s.received.inc();
          s.bytes.inc(r.payload.length);
        }
      }
    }
    let accepted = 0;
    const put = (i: number, r: RecordResult): void => {
      results[index ? index[i] : i] = r;
      if (r.ok) {
        if (series === null) this.metrics!.ingest(records[i].origin.input, store).accepted.inc();
        else accepted++;
      } else this.rejected(store, records[i], r, series);
    };
    try {
      await this.runStages(store, records, index, results, put);
    } finally {
      if (series && accepted > 0) series.accepted.inc(accepted);
    }
  }

  private async runStages(
    store: string,
    records: IngestRecord[],
    index: number[] | null,
    results: RecordResult[],
    put: (i: number, r: RecordResult) => void,
  ): Promise<void> {
    const view = this.stores.view(store);
    if (!view) {
      const r = reject('TSS_ERR_STORE_NOT_FOUND', `store not found: ${store}`);
      records.forEach((_, i) => put(i, r));
      return;
    }
    if (this.ownerOf) {
      const owner = this.ownerOf(store);
      if (owner !== this.name) {
        const r = reject('TSS_ERR_WRONG_PIPELINE', `store ${store} belongs to pipeline ${owner}; this input feeds pipeline ${this.name}`);
        records.forEach((_, i) => put(i, r));
        return;
      }
    }
    let live = records;
    let slots = records.map((_, i) => i);
    try {
      for (const stage of this.stages) {
        const out = await stage.process(live, view);
        let rejected = false;
        for (let i = 0; i < out.length; i++) {
          if ((out[i] as Rejection).ok === false) {
            rejected = true;
            break;
          }
        }
        if (!rejected) {
          live = out as IngestRecord[];
          continue;
        }
        const nextLive: IngestRecord[] = [];
        const nextSlots: number[] = [];
        for (let i = 0; i < out.length; i++) {
          const o = out[i];
          if ((o as Rejection).ok === false) put(slots[i], o as Rejection);
          else {
            nextLive.push(o as IngestRecord);
            nextSlots.push(slots[i]);
          }
        }
        live = nextLive;
        slots = nextSlots;
        if (live.length === 0) return;
      }
      const batch: SinkRecord[] = live.map((r) => ({ timestamp: r.timestamp, data: r.payload }));
      const started = this.metrics ? process.hrtime.bigint() : 0n;
      const written = await this.sink.write(store, batch);
      if (this.metrics) this.metrics.commit(store, batch.length, Number(process.hrtime.bigint() - started) / 1e9);
      for (let i = 0; i < written.length; i++) put(slots[i], written[i]);
    } catch (err) {
      const e = toTssError(err);
      if (e.code === 'TSS_ERR_INTERNAL')
        this.logger.error({ pipeline: this.name, store, err: (err as Error)?.stack ?? String(err) }, 'Pipeline failed a batch.');
      const r = reject(e.code, e.message);
      for (const s of slots) if (results[index ? index[s] : s] === undefined) put(s, r);
    }
  }
}
