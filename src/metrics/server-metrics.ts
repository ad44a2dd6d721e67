/**
 * The metrics of one server instance, in their own prom-client Registry (never the global one:
 * two servers in one process keep separate counts). Ingest counters and commit histograms are
 * updated by the pipeline runner per batch through series resolved once per (input, store);
 * per-store figures the sink knows (records, fill, time span, overwrites, fsyncs) are read from
 * `sink.stats()` when `/metrics` is scraped, so the write path pays nothing for them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricLabels, PluginCounter, PluginGauge, PluginMetrics } from '../plugin/descriptor.js';
import type { SinkStoreStats } from '../plugin/sink.js';
import { SerialQueue } from '../plugin/kit/serial-queue.js';

/** Counters of one (input, store) pair; `rejected(code)` resolves its series once per code. */
export interface IngestSeries {
  readonly received: { inc(value?: number): void };
  readonly accepted: { inc(value?: number): void };
  readonly bytes: { inc(value?: number): void };
  rejected(code: string): { inc(value?: number): void };
}

/** What a pipeline runner records. */
export interface PipelineMetrics {
  ingest(input: string, store: string): IngestSeries;
  /** One `sink.write` call of `records` records that took `seconds`. */
  commit(store: string, records: number, seconds: number): void;
}

/** Where per-store figures come from at scrape time. */
export interface StoreStatsSource {
  list(): string[];
  /** Undefined: not known without opening the store (it is counted as unknown, not opened). */
  stats(store: string): Promise<SinkStoreStats | undefined>;
  /** Stores whose data is open now, and the limit (`store.max_open`). */
  open?(): { open: number; max: number };
  /** Stores that cannot serve (damaged files). */
  unavailable?(): number;
}

/** Where the outputs' figures come from at scrape time (src/stores/delivery-host.ts). */
export interface OutputStatsSource {
  /** Deliveries with a persisted cursor. */
  named(): Promise<
    readonly {
      output: string;
      store: string;
      cursorName?: string;
      state: string;
      lagRecords: number;
      lagSeconds: number;
      sent: number;
      errors: number;
      missed: number;
    }[]
  >;
  /** Deliveries open now (transient live readers included), by output. */
  counts(): ReadonlyMap<string, number>;
}

const NS_PER_S = 1e9;
/** Stores whose stats a scrape reads at once. */
const STATS_CONCURRENCY = 32;

/** Sink stats extras that have metrics of their own above. */
const HANDLED_EXTRAS = new Set(['deletedRecords', 'fsync', 'overwrittenRecords', 'fsyncs', 'commits']);

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly rendering = new SerialQueue();
  private readonly hooks: (() => Promise<void> | void)[] = [];
  private readonly pluginMetrics = new Map<string, { type: 'counter' | 'gauge'; signature: string; metric: Counter | Gauge }>();

  private readonly received = this.counter('tsstore_records_received_total', 'Records handed to the pipeline by an input.', ['input', 'store']);
  private readonly accepted = this.counter('tsstore_records_accepted_total', 'Records the sink accepted (durable per its fsync policy).', ['input', 'store']);
  private readonly rejected = this.counter('tsstore_records_rejected_total', 'Records rejected by a stage or the sink, by error code.', [
    'input',
    'store',
    'code',
  ]);
  private readonly bytes = this.counter('tsstore_records_received_bytes_total', 'Bytes of record data handed to the pipeline.', ['input', 'store']);
  private readonly commitSeconds = new Histogram({
    name: 'tsstore_sink_commit_seconds',
    help: 'Time from sink.write to its acknowledgement (queueing, write and fsync).',
    labelNames: ['pipeline', 'store'],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly commitRecords = new Histogram({
    name: 'tsstore_sink_commit_batch_records',
    help: 'Records per sink.write call.',
    labelNames: ['pipeline', 'store'],
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000],
    registers: [this.registry],
  });
  private readonly httpErrors = this.counter('tsstore_http_errors_total', 'HTTP requests answered with an error, by error code.', ['code']);
  private readonly httpErrorSeries = new Map<string, { inc(value?: number): void }>();
  private readonly httpPauses = this.counter(
    'tsstore_http_reads_paused_total',
    'Times the HTTP server stopped reading a connection with too many unanswered pipelined requests.',
    [],
  );

  private readonly storeGauges = {
    records: this.gauge('tsstore_store_records', 'Live records in the store.'),
    bytes: this.gauge('tsstore_store_bytes', 'Bytes of live record data in the store.'),
    capacity: this.gauge('tsstore_store_capacity_bytes', 'Fixed footprint of the store, where the sink has one.'),
    fill: this.gauge('tsstore_store_fill_ratio', 'Fraction of the store footprint in use (0..1).'),
    oldest: this.gauge('tsstore_store_oldest_timestamp_seconds', 'Timestamp of the oldest record, in seconds since the epoch.'),
    newest: this.gauge('tsstore_store_newest_timestamp_seconds', 'Timestamp of the newest record, in seconds since the epoch.'),
    deleted: this.gauge('tsstore_store_deleted_records', 'Soft-deleted records still occupying the store.'),
    fsyncPolicy: new Gauge({
      name: 'tsstore_store_fsync_policy',
      help: 'The sink fsync policy of the store (value 1, policy in a label).',
      labelNames: ['store', 'policy'],
      registers: [this.registry],
    }),
    figure: new Gauge({
      name: 'tsstore_store_sink_figure',
      help: "Any other numeric figure the store's sink reports in its stats (e.g. the forwarder's forwardLagRecords, forwardLagSeconds, forwardLostRecords).",
      labelNames: ['store', 'figure'],
      registers: [this.registry],
    }),
    info: new Gauge({
      name: 'tsstore_store_sink_info',
      help: "Text figures the store's sink reports in its stats (value 1, text in a label; e.g. forwardState).",
      labelNames: ['store', 'figure', 'value'],
      registers: [this.registry],
    }),
  };
  private readonly storeCounters = {
    overwritten: this.counter('tsstore_store_overwritten_records_total', 'Records reclaimed by the ring since the store was opened.', ['store']),
    fsyncs: this.counter('tsstore_store_fsyncs_total', 'fsync/fdatasync calls of the store since it was opened.', ['store']),
    commits: this.counter('tsstore_store_commits_total', 'Group commits (physical writes) of the store since it was opened.', ['store']),
  };

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private counter(name: string, help: string, labelNames: string[]): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, labelNames: ['store'], registers: [this.registry] });
  }

  /** A gauge whose value is read when scraped. */
  scrapeGauge(name: string, help: string, read: () => number): void {
    const g = new Gauge({ name, help, registers: [this.registry] });
    this.hooks.push(() => g.set(read()));
  }

  /** Runs before every scrape (e.g. to refresh figures kept elsewhere). */
  onScrape(hook: () => Promise<void> | void): void {
    this.hooks.push(hook);
  }

  pipeline(name: string): PipelineMetrics {
    const series = new Map<string, IngestSeries>();
    const commits = new Map<string, { seconds: ReturnType<Histogram['labels']>; records: ReturnType<Histogram['labels']> }>();
    return {
      ingest: (input, store) => {
        const key = `${input}\u0000${store}`;
        let s = series.get(key);
        if (!s) {
          const codes = new Map<string, { inc(value?: number): void }>();
          s = {
            received: this.received.labels(input, store),
            accepted: this.accepted.labels(input, store),
            bytes: this.bytes.labels(input, store),
            rejected: (code) => {
              let c = codes.get(code);
              if (!c) {
                c = this.rejected.labels(input, store, code);
                codes.set(code, c);
              }
              return c;
            },
          };
          series.set(key, s);
        }
        return s;
      },
      commit: (store, records, seconds) => {
        let c = commits.get(store);
        if (!c) {
          c = { seconds: this.commitSeconds.labels(name, store), records: this.commitRecords.labels(name, store) };
          commits.set(store, c);
        }
        c.seconds.observe(seconds);
        c.records.observe(records);
      },
    };
  }

  httpReadsPaused(): void {
    this.httpPauses.inc();
  }

  httpError(code: string): void {
    let c = this.httpErrorSeries.get(code);
    if (!c) {
      c = this.httpErrors.labels(code);
      this.httpErrorSeries.set(code, c);
    }
    c.inc();
  }

  /**
   * Per-store figures from the sink, refreshed at every scrape. Closed stores report the figures
   * of their summary; a closed store without one is counted in `tsstore_stores{state="unknown"}`
   * (a scrape never opens a store).
   */
  /** Outputs: per delivery with a persisted cursor, its state, lag, sent, errors and missed records. */
  watchOutputs(source: OutputStatsSource): void {
    const labelNames = ['output', 'store', 'cursor'];
    const state = new Gauge({
      name: 'tsstore_output_state',
      help: 'State of an output delivery (value 1, state in a label): starting, idle, delivering, retrying, stopped.',
      labelNames: [...labelNames, 'state'],
      registers: [this.registry],
    });
    const lagRecords = new Gauge({
      name: 'tsstore_output_lag_records',
      help: 'Records committed after the output cursor and not yet delivered.',
      labelNames,
      registers: [this.registry],
    });
    const lagSeconds = new Gauge({
      name: 'tsstore_output_lag_seconds',
      help: 'Age of the oldest record not yet delivered (0 when caught up).',
      labelNames,
      registers: [this.registry],
    });
    const sent = this.counter('tsstore_output_sent_records_total', 'Records the destination acknowledged since the delivery opened.', labelNames);
    const errors = this.counter('tsstore_output_errors_total', 'Failed deliveries (and reads) since the delivery opened.', labelNames);
    const missed = this.counter('tsstore_output_missed_records_total', 'Records the ring overwrote before the output delivered them.', labelNames);
    const open = new Gauge({
      name: 'tsstore_output_deliveries',
      help: 'Deliveries open now, live readers included, by output.',
      labelNames: ['output'],
      registers: [this.registry],
    });
    this.hooks.push(async () => {
      for (const m of [state, lagRecords, lagSeconds, sent, errors, missed, open]) m.reset();
      for (const d of await source.named()) {
        const l = { output: d.output, store: d.store, cursor: d.cursorName ?? '' };
        state.set({ ...l, state: d.state }, 1);
        lagRecords.set(l, d.lagRecords);
        lagSeconds.set(l, d.lagSeconds);
        sent.inc(l, d.sent);
        errors.inc(l, d.errors);
        missed.inc(l, d.missed);
      }
      for (const [output, n] of source.counts()) open.set({ output }, n);
    });
  }

  watchStores(source: StoreStatsSource): void {
    const stores = new Gauge({
      name: 'tsstore_stores',
      help: 'Stores by state: open (data open), closed (figures from the summary), unknown (closed, no summary yet), unavailable (damaged).',
      labelNames: ['state'],
      registers: [this.registry],
    });
    const maxOpen = new Gauge({ name: 'tsstore_stores_max_open', help: 'Stores whose data may be open at once (store.max_open).', registers: [this.registry] });
    this.hooks.push(async () => {
      for (const g of Object.values(this.storeGauges)) g.reset();
      for (const c of Object.values(this.storeCounters)) c.reset();
      let known = 0;
      let unknown = 0;
      const names = source.list();
      const all = new Array<SinkStoreStats | undefined | null>(names.length);
      let next = 0;
      // Closed stores' summaries are read from disk at the first scrape: a few at a time.
      await Promise.all(
        Array.from({ length: Math.min(STATS_CONCURRENCY, names.length) }, async () => {
          for (let i = next++; i < names.length; i = next++) {
            // null: a closed sink or a store dropped meanwhile (/ready reports the former)
            all[i] = await source.stats(names[i]).catch(() => null);
          }
        }),
      );
      for (const [i, store] of names.entries()) {
        const s = all[i];
        if (s === null) continue;
        if (!s) {
          unknown++;
          continue;
        }
        known++;
        const g = this.storeGauges;
        g.records.set({ store }, s.records);
        g.bytes.set({ store }, s.bytes);
        if (s.capacityBytes !== undefined) g.capacity.set({ store }, s.capacityBytes);
        if (s.fill !== undefined) g.fill.set({ store }, s.fill);
        if (s.oldest !== undefined) g.oldest.set({ store }, Number(s.oldest) / NS_PER_S);
        if (s.newest !== undefined) g.newest.set({ store }, Number(s.newest) / NS_PER_S);
        const x = s.extra ?? {};
        if (typeof x.deletedRecords === 'number') g.deleted.set({ store }, x.deletedRecords);
        if (typeof x.fsync === 'string') g.fsyncPolicy.set({ store, policy: x.fsync }, 1);
        const c = this.storeCounters;
        if (typeof x.overwrittenRecords === 'number') c.overwritten.inc({ store }, x.overwrittenRecords);
        if (typeof x.fsyncs === 'number') c.fsyncs.inc({ store }, x.fsyncs);
        if (typeof x.commits === 'number') c.commits.inc({ store }, x.commits);
        for (const [figure, v] of Object.entries(x)) {
          if (HANDLED_EXTRAS.has(figure)) continue;
          if (typeof v === 'number') g.figure.set({ store, figure }, v);
          else if (typeof v === 'string' && v.length <= 64) g.info.set({ store, figure, value: v }, 1);
        }
      }
      const open = source.open?.();
      if (open) {
        stores.set({ state: 'open' }, open.open);
        stores.set({ state: 'closed' }, Math.max(0, known - open.open));
        maxOpen.set(open.max);
      }
      stores.set({ state: 'unknown' }, unknown);
      stores.set({ state: 'unavailable' }, source.unavailable?.() ?? 0);
    });
  }

  /** The metrics facility handed to one plugin instance (see PluginMetrics). */
  plugin(kind: 'input' | 'stage' | 'sink' | 'output', id: string): PluginMetrics {
    const withId = (labels?: MetricLabels): Record<string, string> => ({ ...labels, [kind]: id });
    const get = (type: 'counter' | 'gauge', name: string, help: string, labelNames: readonly string[] = []): Counter | Gauge => {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`metric name "${name}" must be snake_case`);
      if (labelNames.includes(kind)) throw new Error(`metric ${name}: the label "${kind}" is added by tsstore`);
      const full = `tsstore_${kind}_${name}`;
      const signature = `${type}|${help}|${[...labelNames].sort().join(',')}`;
      const known = this.pluginMetrics.get(full);
      if (known) {
        if (known.signature !== signature) throw new Error(`metric ${full} is already registered with another type, help or labels`);
        return known.metric;
      }
      const config = { name: full, help, labelNames: [kind, ...labelNames], registers: [this.registry] };
      const metric = type === 'counter' ? new Counter(config) : new Gauge(config);
      this.pluginMetrics.set(full, { type, signature, metric });
      return metric;
    };
    return {
      counter: (name, help, labelNames): PluginCounter => {
        const m = get('counter', name, help, labelNames) as Counter;
        return {
          inc: (labels, value = 1) => m.inc(withId(labels), value),
          labels: (labels) => m.labels(withId(labels)),
        };
      },
      gauge: (name, help, labelNames): PluginGauge => {
        const m = get('gauge', name, help, labelNames) as Gauge;
        return {
          set: (labels, value) => m.set(withId(labels), value),
          inc: (labels, value = 1) => m.inc(withId(labels), value),
          dec: (labels, value = 1) => m.dec(withId(labels), value),
          labels: (labels) => m.labels(withId(labels)),
        };
      },
    };
  }

  /** The Prometheus text exposition, after refreshing scrape-time figures. */
  render(): Promise<string> {
    // Serialised: scrape hooks reset and refill series, two interleaved scrapes would double count.
    return this.rendering.run(async () => {
      for (const hook of this.hooks) await hook();
      return this.registry.metrics();
    });
  }
}
