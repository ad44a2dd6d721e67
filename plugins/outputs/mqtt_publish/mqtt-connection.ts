/**
 * One MQTT publish connection: a delivery reading one store from its cursor, and an MQTT client
 * (QoS 1) that publishes each record to the topic. The delivery moves the cursor only over records
 * the broker acknowledged (PUBACK), so a lost connection, a broker restart or a tsstore crash
 * repeats at most the records in flight (the ones published but not yet acknowledged; with a
 * persisted cursor after kill -9, the last batch acknowledged before the cursor file was
 * replaced) and never skips one.
 *
 * The client never reconnects by itself: this class redials with the kit's backoff (doubling from
 * `backoff_min_ms` to `backoff_max_ms`, jittered), a new client each time, and wakes the delivery
 * when the broker took the connection. `cursor_persist_interval: -1` makes one attempt: the first
 * failure or lost connection ends the connection (status `failed`) until it is deleted or
 * tsstore restarts.
 */
import net from 'node:net';
import tls from 'node:tls';
import type * as Mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { backoffDelay, type Delivery, expandCompact, type Logger, OutboundPolicy, type OutputContext, type OutputRecord, type StoreView } from 'tsstore/plugin';
import type { MqttConnectionConfig } from './connection-file.js';
import type { MqttPublishOptions } from './options.js';

/** The MQTT client, loaded on first use: a server with no MQTT connection never pays for it (startup time, memory). */
let mqttModule: typeof Mqtt | undefined;
function mqtt(): typeof Mqtt {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (mqttModule ??= require('mqtt') as typeof Mqtt);
}

export type MqttConnectionState = 'connecting' | 'connected' | 'disconnected' | 'error' | 'failed' | 'stopped';

export const MASK = '********';

/** The broker URL without credentials, for logs and listings. */
export function maskedUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username || u.password) {
      u.password = u.password ? 'x' : '';
      return u.toString().replace(/:x@/, `:${MASK}@`).replace(/\/$/, '');
    }
    return raw;
  } catch {
    return '(invalid url)';
  }
}

function describe(err: unknown): string {
  const e = err as (Error & { code?: string | number }) | undefined;
  const msg = e?.message || String(err);
  return typeof e?.code === 'string' && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}

/** The JSON text of a record's `data` (schema stores expanded to their field names). */
function renderData(view: StoreView | undefined, data: Buffer): string {
  switch (view?.dataType) {
    case 'schema':
      return view.schema ? expandCompact(view.schema, data) : data.toString('utf8');
    case 'text':
      return JSON.stringify(data.toString('utf8'));
    case 'binary':
      return JSON.stringify(data.toString('base64'));
    default:
      return data.toString('utf8');
  }
}

/** The MQTT payload of a record: the stored bytes (schema stores expanded), or the envelope. */
export function payloadOf(view: StoreView | undefined, record: OutputRecord, includeTimestamp: boolean): Buffer | string {
  if (includeTimestamp) return `{"timestamp":${record.timestamp},"data":${renderData(view, record.data)}}`;
  if (view?.dataType === 'schema' && view.schema) return expandCompact(view.schema, record.data);
  return record.data;
}

export class MqttConnection {
  private state: MqttConnectionState = 'connecting';
  private client?: MqttClient;
  private connected = false;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private delivery?: Delivery;
  private stopped = false;
  private sent = 0;
  private errors = 0;
  private lastError?: string;
  private lastErrorAt?: string;
  private readonly logger: Logger;
  private readonly outbound: OutboundPolicy;

  constructor(
    readonly store: string,
    readonly config: MqttConnectionConfig,
    private readonly options: MqttPublishOptions,
    private readonly ctx: OutputContext,
    private readonly onGone: (conn: MqttConnection) => void,
  ) {
    this.outbound = ctx.outbound ?? OutboundPolicy.from();
    this.logger = ctx.logger.child({ store, connection: config.id, broker: maskedUrl(config.broker_url) });
  }

  get id(): string {
    return this.config.id;
  }

  /** The persisted cursor's name, when the cursor is persisted. */
  get cursorName(): string | undefined {
    return this.config.cursor_persist_interval > 0 ? `mqtt-${this.config.id}` : undefined;
  }

  async start(): Promise<void> {
    const { from } = this.config;
    this.delivery = await this.ctx.deliveries.open({
      store: this.store,
      cursor: this.cursorName,
      from: from === 0n ? 'oldest' : from === -1n ? 'now' : from,
      batch: this.options.batch,
      retry: { minMs: this.options.backoff_min_ms, maxMs: this.options.backoff_max_ms },
      deliver: (records) => this.publish(records),
      missed: (count) => this.logger.warn({ missed: count }, 'The ring overwrote records before they were published.'),
      stopped: () => {
        void this.stop().then(() => this.onGone(this));
      },
    });
    if (this.stopped) {
      await this.delivery.stop();
      return;
    }
    this.dial();
  }

  /** Stops the delivery (after the publish in flight settled) and closes the client. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped && this.state === 'stopped') return;
    this.stopped = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.delivery?.stop();
    this.closeClient();
    this.state = 'stopped';
  }

  /** Stops and deletes the persisted cursor. */
  async remove(): Promise<void> {
    this.stopped = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.delivery?.remove();
    this.closeClient();
    this.state = 'stopped';
  }

  /** The listing: the request's fields (password masked) and the figures. Absent values omitted. */
  async status(): Promise<Record<string, unknown>> {
    const c = this.config;
    const d = this.delivery ? await this.delivery.status() : undefined;
    const s: Record<string, unknown> = {
      id: c.id,
      broker_url: maskedUrl(c.broker_url),
      topic: c.topic,
      client_id: this.clientId(),
      ...(c.username !== undefined ? { username: c.username } : {}),
      ...(c.password !== undefined ? { password: MASK } : {}),
      from: c.from,
      include_timestamp: c.include_timestamp,
      cursor_persist_interval: c.cursor_persist_interval,
      status: this.state,
      created_at: c.created_at,
      ...(d?.cursor !== undefined ? { last_timestamp: d.cursor } : {}),
      messages_sent: this.sent,
      errors: this.errors,
      ...(this.lastError !== undefined ? { last_error: this.lastError, last_error_at: this.lastErrorAt } : {}),
      ...(d ? { lag_records: d.lagRecords, missed: d.missed } : {}),
    };
    return s;
  }

  private clientId(): string {
    return this.config.client_id ?? `tsstore-${this.store}-${this.config.id}`;
  }

  private fail(message: string): void {
    this.errors++;
    this.lastError = message;
    this.lastErrorAt = new Date().toISOString();
  }

  private dial(): void {
    if (this.stopped) return;
    this.state = 'connecting';
    // Every dial is checked against the outbound allow-list: the host may resolve elsewhere now.
    this.outbound.check(this.config.broker_url).then(
      () => this.connect(),
      (err: unknown) => {
        if (this.stopped) return;
        this.down(describe(err), true);
      },
    );
  }

  /** A new client on a socket tsstore opens itself, so the connect uses only checked addresses. */
  private connect(): void {
    if (this.stopped) return;
    const c = this.config;
    const url = new URL(c.broker_url);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const lookup = this.outbound.lookupFor(url);
    const tlsWanted = url.protocol === 'ssl:' || url.protocol === 'mqtts:';
    const port = Number(url.port) || (tlsWanted ? 8883 : 1883);
    const opts: IClientOptions = {
      clientId: this.clientId(),
      username: c.username,
      password: c.password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: this.options.connect_timeout_ms,
      keepalive: this.options.keepalive_s,
      resubscribe: false,
    };
    const open = (): net.Socket =>
      tlsWanted
        ? tls.connect({ host, port, lookup, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: true })
        : net.connect({ host, port, lookup });
    const client = new (mqtt().MqttClient)(open, opts);
    this.client = client;
    let refused: string | undefined;
    client.on('connect', () => {
      if (this.client !== client) return;
      this.connected = true;
      this.attempt = 0;
      this.state = 'connected';
      this.logger.info({}, 'Connected to the MQTT broker.');
      this.delivery?.wake();
    });
    client.on('error', (err) => {
      refused = describe(err);
    });
    client.on('close', () => {
      if (this.client !== client) return;
      const wasConnected = this.connected;
      this.connected = false;
      this.client = undefined;
      // Fail the publishes still waiting for a PUBACK: the delivery retries them.
      client.end(true);
      if (this.stopped) return;
      this.down(refused ?? (wasConnected ? 'connection to the broker lost' : 'could not connect to the broker'), refused !== undefined);
    });
  }

  /** The connection is down: count it, then end a one-shot connection or redial after a backoff delay. */
  private down(reason: string, refused: boolean): void {
    this.fail(reason);
    if (this.config.cursor_persist_interval === -1) {
      this.state = 'failed';
      this.logger.warn({ err: reason }, 'MQTT connection failed; cursor_persist_interval -1 makes one attempt, not reconnecting.');
      void this.delivery?.stop();
      return;
    }
    this.state = refused ? 'error' : 'disconnected';
    const delay = backoffDelay(this.attempt++, this.options.backoff_min_ms, this.options.backoff_max_ms);
    this.logger.warn({ err: reason, retryInMs: delay }, 'MQTT connection down; reconnecting.');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dial();
    }, delay);
  }

  private closeClient(): void {
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    client?.end(true);
  }

  /** Publishes a batch at QoS 1; resolves with how many, from the start, the broker acknowledged. */
  private async publish(records: readonly OutputRecord[]): Promise<number> {
    const client = this.client;
    if (!client || !this.connected) throw new Error(this.lastError ?? 'not connected to the broker yet');
    const view = this.ctx.stores.view(this.store);
    const acks = records.map((r) => {
      const p = new Promise<void>((resolve, reject) => {
        client.publish(this.config.topic, payloadOf(view, r, this.config.include_timestamp), { qos: 1 }, (err) => (err ? reject(err) : resolve()));
      });
      p.catch(() => undefined);
      return p;
    });
    let n = 0;
    for (const ack of acks) {
      try {
        await ack;
      } catch (err) {
        if (n === 0) {
          this.fail(describe(err));
          throw err;
        }
        break;
      }
      n++;
      this.sent++;
    }
    return n;
  }
}
