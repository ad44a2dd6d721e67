/** Read-back routes (docs/protocol.md, "Reading"), served by any sink with the read capability. */
import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { parseTimestampToken, storedJson } from '../core/json/index.js';
import { TssError } from '../plugin/errors.js';
import type { StoredRecord, SchemaFormat } from '../plugin/record.js';
import type { ScanQuery, SinkReader } from '../plugin/sink.js';
import type { StoreView } from '../plugin/stage.js';
import { renderData } from '../core/render-data.js';
import { aggregatedObjects } from '../stores/aggregate-read.js';
import { checkAggregationFor, checkWindowCount, parseAggregation, type AggregationSpec } from '../core/aggregate/index.js';
import { storeAuth } from './auth.js';
import { formatParam } from '../plugin/kit/http.js';
import { boolParam, filterParam, limitParam, one, PAGE_LIMIT, sinceParam, timeParam } from './query-params.js';
import { sendJson, type RouteDeps } from './store-routes.js';

type Params = Record<string, string>;

function readerOf(deps: RouteDeps, view: StoreView): SinkReader {
  const reader = deps.sinkOf(view.name).reader;
  if (!reader) throw new TssError('TSS_ERR_READS_UNSUPPORTED');
  return reader;
}

function pathTimestamp(ctx: Context): bigint {
  const raw = (ctx as Context & { params: Params }).params.ts;
  const t = parseTimestampToken(raw);
  if (typeof t === 'object' || t === undefined)
    throw new TssError('TSS_ERR_TIMESTAMP_INVALID', `invalid timestamp "${raw}": expected a positive integer of nanoseconds`);
  return t;
}

function objectsJson(view: StoreView, records: StoredRecord[], format: SchemaFormat): string {
  const parts = records.map((r) => storedJson(r, r.data === undefined ? undefined : renderData(view, r.data, format)));
  return `{"objects":[${parts.join(',')}],"count":${records.length}}`;
}

/** `{"objects":[...],"count":N}` in pages: each page resumes after the last timestamp sent. */
async function* streamObjects(reader: SinkReader, view: StoreView, query: ScanQuery, format: SchemaFormat, first: StoredRecord[]): AsyncGenerator<string> {
  yield '{"objects":[';
  let count = 0;
  let page = first;
  let bounds = { from: query.from, to: query.to };
  for (;;) {
    const parts = page.map((r) => storedJson(r, r.data === undefined ? undefined : renderData(view, r.data, format)));
    if (parts.length) yield (count > 0 ? ',' : '') + parts.join(',');
    count += page.length;
    const want = Math.min(PAGE_LIMIT, query.limit - count);
    if (page.length < PAGE_LIMIT || want <= 0) break;
    const last = page[page.length - 1].timestamp;
    bounds = query.order === 'asc' ? { ...bounds, from: last + 1n } : { ...bounds, to: last - 1n };
    page = await reader.scan(view.name, { ...query, ...bounds, limit: want });
  }
  yield `],"count":${count}}`;
}

/**
 * `agg_window` and friends (docs/protocol.md, "Aggregation"): windows instead of records, `limit`
 * counting windows. The span read may divide into at most MAX_AGG_WINDOWS windows, its bounds
 * taken from the request and clipped to the records the store holds.
 */
async function sendAggregated(ctx: Context, deps: RouteDeps, view: StoreView, spec: AggregationSpec, query: ScanQuery): Promise<void> {
  checkAggregationFor(spec, view);
  if (one(ctx.query, 'format') === 'compact')
    throw new TssError(
      'TSS_ERR_QUERY_INVALID',
      'invalid format: aggregated windows always name their fields (format=compact cannot be combined with agg_window)',
    );
  const reader = readerOf(deps, view);
  const held = await deps.sinkOf(view.name).stats(view.name);
  if (held.oldest !== undefined && held.newest !== undefined) {
    const lo = query.from !== undefined && query.from > held.oldest ? query.from : held.oldest;
    const hi = query.to !== undefined && query.to < held.newest ? query.to : held.newest;
    checkWindowCount(spec, lo, hi);
  }
  const chunks = aggregatedObjects({ reader, view, spec, query });
  const first = await chunks.next(); // reads the first page: its errors are still an ordinary error answer
  const firstText = first.done ? '{"objects":[],"count":0}' : first.value;
  const second = first.done ? undefined : await chunks.next();
  if (!second || second.done) {
    sendJson(ctx, 200, firstText);
    return;
  }
  const secondText = second.value;
  ctx.status = 200;
  ctx.type = 'application/json';
  ctx.body = Readable.from(
    (async function* () {
      yield firstText;
      yield secondText;
      yield* chunks;
    })(),
  );
}

interface ListSpec {
  readonly order: 'asc' | 'desc';
  readonly defaultLimit: number;
  /** Serves agg_window (newest and range). */
  readonly aggregates?: boolean;
  readonly bounds: (q: Context['query']) => { from?: bigint; to?: bigint };
}

export function registerQueryRoutes(router: Router, deps: RouteDeps): void {
  const auth = storeAuth(deps.catalog, deps.adminKey);
  const view = (ctx: Context): StoreView => ctx.state.store as StoreView;

  router.get('/api/stores/:store/data/time/:ts', auth, async (ctx) => {
    const ts = pathTimestamp(ctx);
    const format = formatParam(ctx.query);
    const withData = boolParam(ctx.query, 'include_data', true);
    const rec = await readerOf(deps, view(ctx)).get(view(ctx).name, ts, withData);
    if (!rec) throw new TssError('TSS_ERR_NOT_FOUND', `no record with timestamp ${ts}`);
    sendJson(ctx, 200, storedJson(rec, rec.data === undefined ? undefined : renderData(view(ctx), rec.data, format)));
  });

  router.delete('/api/stores/:store/data/time/:ts', auth, async (ctx) => {
    const ts = pathTimestamp(ctx);
    const removed = await readerOf(deps, view(ctx)).remove(view(ctx).name, ts);
    if (!removed) throw new TssError('TSS_ERR_NOT_FOUND', `no record with timestamp ${ts}`);
    sendJson(ctx, 200, `{"deleted":true,"timestamp":${ts}}`);
  });

  const list =
    (spec: ListSpec) =>
    async (ctx: Context): Promise<void> => {
      const q = ctx.query;
      const format = formatParam(q);
      const v = view(ctx);
      const text = filterParam(q);
      const query: ScanQuery = {
        ...spec.bounds(q),
        order: spec.order,
        limit: limitParam(q, spec.defaultLimit),
        withData: boolParam(q, 'include_data', true),
        match: text && ((data: Buffer) => text(renderData(v, data, format))),
      };
      const agg = parseAggregation({ agg_window: one(q, 'agg_window'), agg_fields: one(q, 'agg_fields'), agg_default: one(q, 'agg_default') });
      if (agg) {
        if (!spec.aggregates) throw new TssError('TSS_ERR_QUERY_INVALID', 'invalid agg_window: aggregation is served by data/newest and data/range');
        await sendAggregated(ctx, deps, v, agg, query);
        return;
      }
      const reader = readerOf(deps, v);
      if (query.limit <= PAGE_LIMIT) {
        sendJson(ctx, 200, objectsJson(v, await reader.scan(v.name, query), format));
        return;
      }
      // Up to the reference's 100,000: read, render and send a page at a time, never the whole answer in memory.
      const first = await reader.scan(v.name, { ...query, limit: PAGE_LIMIT });
      ctx.status = 200;
      ctx.type = 'application/json';
      ctx.body = Readable.from(streamObjects(reader, v, query, format, first));
    };

  router.get('/api/stores/:store/data/oldest', auth, list({ order: 'asc', defaultLimit: 10, bounds: () => ({}) }));
  router.get('/api/stores/:store/data/newest', auth, list({ order: 'desc', defaultLimit: 10, aggregates: true, bounds: (q) => ({ from: sinceParam(q) }) }));
  router.get(
    '/api/stores/:store/data/range',
    auth,
    list({
      order: 'asc',
      defaultLimit: 1000,
      aggregates: true,
      bounds: (q) => {
        const after = timeParam(q, 'after');
        const start = timeParam(q, 'start_time');
        const since = sinceParam(q);
        const end = timeParam(q, 'end_time');
        const lows = [after === undefined ? undefined : after + 1n, start, since].filter((x): x is bigint => x !== undefined);
        const from = lows.length ? lows.reduce((a, b) => (a > b ? a : b)) : undefined;
        if (from !== undefined && end !== undefined && end < from)
          throw new TssError('TSS_ERR_QUERY_INVALID', 'invalid end_time: before the start of the range');
        return { from, to: end };
      },
    }),
  );
}
