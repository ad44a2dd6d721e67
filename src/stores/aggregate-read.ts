/**
 * Aggregated reads: a sink reader's records, a page at a time, through a WindowAggregator, as
 * the `{"objects":[…],"count":n}` answer (docs/protocol.md, "Aggregation"). Holds one page of
 * records and one window's state at once, however many records the span has.
 */
import { aggWindowJson, WindowAggregator, type AggregationSpec, type AggWindow } from '../core/aggregate/index.js';
import type { StoredRecord } from '../plugin/record.js';
import type { ScanQuery, SinkReader } from '../plugin/sink.js';
import type { StoreView } from '../plugin/stage.js';

/** Records read per scan call. */
export const AGG_PAGE_RECORDS = 10_000;

export interface AggregatedRead {
  readonly reader: SinkReader;
  readonly view: StoreView;
  readonly spec: AggregationSpec;
  /** Bounds, order, `withData` and `match` of the records read; `limit` counts windows. */
  readonly query: ScanQuery;
}

/**
 * Windows of the records `query` selects, in its order, at most `query.limit` of them, each
 * complete (the scan reads on until the next window starts or the records end).
 */
export async function* aggregateWindows(read: AggregatedRead): AsyncGenerator<AggWindow[]> {
  const { reader, view, spec, query } = read;
  const agg = new WindowAggregator(spec, view, { order: query.order, withData: query.withData });
  let emitted = 0;
  let bounds = { from: query.from, to: query.to };
  for (;;) {
    const page: StoredRecord[] = await reader.scan(view.name, { ...query, ...bounds, limit: AGG_PAGE_RECORDS });
    const out: AggWindow[] = [];
    for (const r of page) {
      const closed = agg.add(r.timestamp, r.data);
      if (closed) {
        out.push(closed);
        if (++emitted === query.limit) {
          yield out;
          return;
        }
      }
    }
    if (page.length < AGG_PAGE_RECORDS) {
      const last = agg.flush();
      if (last) out.push(last);
      yield out;
      return;
    }
    yield out;
    const t = page[page.length - 1].timestamp;
    bounds = query.order === 'asc' ? { ...bounds, from: t + 1n } : { ...bounds, to: t - 1n };
    if (bounds.from !== undefined && bounds.to !== undefined && bounds.from > bounds.to) {
      const last = agg.flush();
      if (last) yield [last];
      return;
    }
  }
}

/** The JSON answer of `aggregateWindows`, in chunks (the first chunk only after the first page was read). */
export async function* aggregatedObjects(read: AggregatedRead): AsyncGenerator<string> {
  let count = 0;
  let head = '{"objects":[';
  for await (const windows of aggregateWindows(read)) {
    if (windows.length === 0) continue;
    const text = windows.map(aggWindowJson).join(',');
    yield head + (count > 0 ? ',' : '') + text;
    head = '';
    count += windows.length;
  }
  yield `${head}],"count":${count}}`;
}
