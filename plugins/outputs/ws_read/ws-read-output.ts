/**
 * The `ws_read` output: a live read stream, `GET /api/stores/:store/ws/read?from=...` on the
 * shared HTTP port. Each reader gets a delivery (cursor in memory) that sends the stored records
 * after `from`, then every new record once it is durable, in timestamp order, one text message
 * per record in the envelope the `ws_pull` input accepts: `{"timestamp":T,"data":...}` (exact
 * integer timestamps). Records the ring overwrote before the reader got them are announced with
 * `{"type":"missed","count":N}` before the records after the gap (ws_pull ignores messages
 * without `data`).
 *
 * Bounded per reader: at most one batch is read from the store at a time, and sending waits for
 * the socket whenever more than `max_buffered_bytes` are queued on it, so a slow reader pauses
 * only its own delivery (and, if it stays behind the ring, is told what it missed).
 */
import type { Context } from 'koa';
import type WebSocket from 'ws';
import {
  type Delivery,
  type DeliveryFrom,
  formatParam,
  type OutputContext,
  type OutputPlugin,
  type OutputRecord,
  parseTimestampToken,
  queryValue,
  renderData,
  type Resource,
  type SchemaFormat,
  type StoreView,
  substringFilter,
  TssError,
  upgradeOrClose,
} from 'tsstore/plugin';

export interface WsReadOptions {
  /** Records read from the store and sent per round (the records of one reader in memory). */
  readonly batch: number;
  /** Bytes queued on a reader's socket above which sending waits for the socket. */
  readonly max_buffered_bytes: number;
  /** Readers at once (every store); more are refused with 409. */
  readonly max_readers: number;
  /** Server ping period; a reader that answered nothing for a whole period is cut. 0: never. */
  readonly ping_interval_ms: number;
}

export const WS_READ_ROUTE = '/api/stores/:store/ws/read';

function fromParam(q: Context['query']): DeliveryFrom {
  const v = queryValue(q, 'from');
  if (v === undefined || v === '' || v === 'now') return 'now';
  if (v === 'oldest') return 'oldest';
  const t = /^\d+$/.test(v) ? parseTimestampToken(v) : undefined;
  if (typeof t !== 'bigint') throw new TssError('TSS_ERR_QUERY_INVALID', `invalid from: expected oldest, now or a timestamp in nanoseconds, got "${v}"`);
  return t;
}

function filterOf(q: Context['query']): ((text: string) => boolean) | undefined {
  const ic = queryValue(q, 'filter_ignore_case');
  if (ic !== undefined && ic !== '' && !/^(true|false|1|0|yes|no)$/i.test(ic))
    throw new TssError('TSS_ERR_QUERY_INVALID', `invalid filter_ignore_case: must be true or false, got "${ic}"`);
  return substringFilter(queryValue(q, 'filter'), ic !== undefined && /^(true|1|yes)$/i.test(ic));
}

interface Reader {
  readonly ws: WebSocket;
  delivery?: Delivery;
  alive: boolean;
}

export class WsReadOutput implements OutputPlugin {
  private readonly readers = new Set<Reader>();
  private pinger?: NodeJS.Timeout;
  private stopping = false;

  constructor(
    private readonly options: WsReadOptions,
    private readonly ctx: OutputContext,
  ) {}

  resources(): Resource[] {
    return [{ kind: 'http-route', id: `GET ${WS_READ_ROUTE}` }];
  }

  async start(): Promise<void> {
    const { router, storeAuth } = this.ctx.http;
    router.get(WS_READ_ROUTE, storeAuth, (ctx) => this.accept(ctx));
    if (this.options.ping_interval_ms > 0) {
      this.pinger = setInterval(() => this.ping(), this.options.ping_interval_ms);
      this.pinger.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.pinger) clearInterval(this.pinger);
    await Promise.all(
      [...this.readers].map(async (r) => {
        await r.delivery?.stop();
        r.ws.close(1001, 'server shutting down');
      }),
    );
  }

  private ping(): void {
    for (const r of this.readers) {
      if (!r.alive) {
        r.ws.terminate();
        continue;
      }
      r.alive = false;
      r.ws.ping();
    }
  }

  private async accept(ctx: Context): Promise<void> {
    if (this.stopping) throw new TssError('TSS_ERR_SHUTTING_DOWN');
    const upgrade = (ctx as Context & { ws?: () => Promise<WebSocket> }).ws;
    if (!upgrade) throw new TssError('TSS_ERR_UPGRADE_REQUIRED', 'upgrade required: this endpoint is a WebSocket; connect with a WebSocket client');
    const view = ctx.state.store as StoreView;
    const from = fromParam(ctx.query);
    const format = formatParam(ctx.query);
    const filter = filterOf(ctx.query);
    if (this.readers.size >= this.options.max_readers)
      throw new TssError('TSS_ERR_CONNECTION_LIMIT', `too many live readers: the limit is ${this.options.max_readers} (max_readers)`);
    const ws = await upgradeOrClose(ctx.req.socket, upgrade);
    if (!ws) return;
    ws.on('error', () => undefined);
    if (this.stopping) {
      ws.close(1001, 'server shutting down');
      return;
    }
    const reader: Reader = { ws, alive: true };
    this.readers.add(reader);
    ws.on('pong', () => {
      reader.alive = true;
    });
    ws.on('message', () => {
      reader.alive = true;
    });
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const gone = closed.then((): never => {
      throw new Error('the reader disconnected');
    });
    gone.catch(() => undefined);
    void closed.then(async () => {
      this.readers.delete(reader);
      await reader.delivery?.stop();
    });
    const send = (records: readonly OutputRecord[]): Promise<void> => this.send(ws, view, format, records, gone);
    try {
      reader.delivery = await this.ctx.deliveries.open({
        store: view.name,
        from,
        batch: this.options.batch,
        retry: { minMs: 100, maxMs: 1000 },
        match: filter && ((data) => filter(renderData(view, data, format))),
        deliver: send,
        missed: (count) => Promise.race([this.sendText(ws, `{"type":"missed","count":${count}}`), gone]),
        stopped: (reason) => ws.close(1001, reason),
      });
      if (ws.readyState !== ws.OPEN) await reader.delivery.stop();
    } catch (err) {
      ws.close(1011, (err as Error).message.slice(0, 120));
    }
  }

  /** Sends records, waiting for the socket whenever too much is queued; resolves once written. */
  private async send(ws: WebSocket, view: StoreView, format: SchemaFormat, records: readonly OutputRecord[], gone: Promise<never>): Promise<void> {
    let last: Promise<void> | undefined;
    for (const r of records) {
      last = this.sendText(ws, `{"timestamp":${r.timestamp},"data":${renderData(view, r.data, format)}}`);
      // A reader that goes away mid-send ends the delivery with the socket.
      if (ws.bufferedAmount > this.options.max_buffered_bytes) await Promise.race([last, gone]);
    }
    await Promise.race([last, gone]);
  }

  private sendText(ws: WebSocket, text: string): Promise<void> {
    if (ws.readyState !== ws.OPEN) return Promise.reject(new Error('the reader disconnected'));
    const sent = new Promise<void>((resolve, reject) => ws.send(text, (err) => (err ? reject(err) : resolve())));
    sent.catch(() => undefined);
    return sent;
  }
}
