/**
 * The MQTT subscriber input: one client connection to a broker, subscribed to the configured
 * filters. Each message becomes one record: the store comes from `store` or the topic
 * (`store_from`), the data is the payload byte for byte, the timestamp optionally comes from a
 * JSON field of the payload.
 *
 * Acknowledgement: mqtt.js sends PUBACK for a QoS 1 message when `handleMessage`'s callback is
 * called, and hands over the next message only then; the callback is called after emit resolved,
 * that is once the record is stored. A record the pipeline refuses for good (unknown store, bad
 * data, a timestamp not newer than the store's newest) is acknowledged and logged, so the broker
 * does not redeliver it forever; a redelivered message whose timestamp is already stored is such a
 * refusal, which is how redelivery stores nothing twice. When the pipeline cannot take records at
 * all (shutting down, disk full) the message is not acknowledged and the connection is dropped:
 * with a persistent session (`clean: false`, the default) the broker redelivers it after the
 * reconnect. QoS 0 messages are pipelined up to `max_inflight`.
 */
import os from 'node:os';
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Emit, ErrorCode, IngestRecord, InputContext, InputPlugin, RecordResult } from 'tsstore/plugin';
import type { MqttInputOptions, TopicSubscription } from './options.js';
import { timestampFromPayload } from './payload-timestamp.js';
import { parseTopicPattern, type TopicPattern } from './topic-pattern.js';

/** Outcomes that mean "the pipeline cannot take records now": retry later, do not acknowledge. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set(['TSS_ERR_SHUTTING_DOWN', 'TSS_ERR_SINK_CLOSED', 'TSS_ERR_DISK_FULL', 'TSS_ERR_INTERNAL']);

export class MqttInput implements InputPlugin {
  private client?: MqttClient;
  private emit?: Emit;
  private stopping = false;
  private readonly pattern?: TopicPattern;
  private readonly subscriptions: TopicSubscription[];
  private readonly inflight = new Set<Promise<unknown>>();
  private resumeReading?: () => void;

  constructor(
    private readonly options: MqttInputOptions,
    private readonly ctx: InputContext,
  ) {
    this.pattern = options.store_from ? parseTopicPattern(options.store_from) : undefined;
    const topics = options.topics ?? [this.pattern!.filter];
    this.subscriptions = topics.map((t) => (typeof t === 'string' ? { topic: t, qos: options.qos } : { topic: t.topic, qos: t.qos ?? options.qos }));
  }

  async start(emit: Emit): Promise<void> {
    this.emit = emit;
    const o = this.options;
    const clientOptions: IClientOptions = {
      clientId: o.client_id ?? `tsstore-${os.hostname()}-${this.ctx.id}`,
      clean: o.clean,
      username: o.username,
      password: o.password,
      protocolVersion: o.protocol_version,
      keepalive: o.keepalive_s,
      reconnectPeriod: o.reconnect_period_ms,
      connectTimeout: o.connect_timeout_ms,
      // Subscriptions are made on every connect without a session (below), not replayed by mqtt.js.
      resubscribe: false,
    };
    const client = connect(o.url, clientOptions);
    this.client = client;
    client.handleMessage = (packet, done) => this.onMessage(packet, done);
    client.on('connect', (connack) => {
      this.ctx.logger.info({ url: redact(o.url), sessionPresent: connack.sessionPresent }, 'Connected to the MQTT broker.');
      if (!connack.sessionPresent) this.subscribe(client);
    });
    client.on('reconnect', () => this.ctx.logger.debug({ url: redact(o.url) }, 'Reconnecting to the MQTT broker.'));
    client.on('offline', () => {
      if (!this.stopping) this.ctx.logger.warn({ url: redact(o.url) }, 'MQTT broker unreachable; retrying.');
    });
    // Without a listener an 'error' event (connection refused, bad credentials) would end the process.
    client.on('error', (err) => this.ctx.logger.warn({ url: redact(o.url), err: err.message }, 'MQTT connection error.'));
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.resumeReading?.();
    // Records already handed to the pipeline are answered (and acknowledged) before disconnecting.
    await Promise.allSettled([...this.inflight]);
    const client = this.client;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => client.end(true, () => resolve()), 2000);
      client.end(false, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private subscribe(client: MqttClient): void {
    const filters = Object.fromEntries(this.subscriptions.map((s) => [s.topic, { qos: s.qos }]));
    client.subscribe(filters, (err, granted) => {
      if (err) {
        this.ctx.logger.warn({ err: err.message }, 'MQTT subscribe failed; retrying on the next connection.');
        return;
      }
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (refused.length) this.ctx.logger.error({ refused }, 'The MQTT broker refused subscriptions.');
      this.ctx.logger.info({ topics: this.subscriptions.map((s) => `${s.topic} (QoS ${s.qos})`) }, 'Subscribed.');
    });
  }

  private onMessage(packet: IPublishPacket, done: (err?: Error) => void): void {
    if (this.stopping) return; // neither stored nor acknowledged: redelivered after a restart
    const work = this.store(packet)
      .catch((err: Error) => {
        this.ctx.logger.error({ topic: packet.topic, err: err.stack ?? String(err) }, 'Failed to handle an MQTT message; it stays unacknowledged.');
        return false;
      })
      .then((ack) => {
        if (packet.qos === 0) return;
        if (ack) done();
        else this.dropConnection();
      });
    if (packet.qos !== 0) {
      this.track(work);
      return;
    }
    this.track(work);
    if (this.inflight.size < this.options.max_inflight) done();
    else
      this.resumeReading = () => {
        this.resumeReading = undefined;
        done();
      };
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    void p.finally(() => {
      this.inflight.delete(p);
      if (this.resumeReading && this.inflight.size < this.options.max_inflight) this.resumeReading();
    });
  }

  /** Stores one message; resolves whether it may be acknowledged. */
  private async store(packet: IPublishPacket): Promise<boolean> {
    const topic = packet.topic;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const store = this.options.store ?? this.pattern!.storeOf(topic);
    const log = { topic, qos: packet.qos, dup: packet.dup };
    if (packet.retain && !this.options.store_retained) {
      this.ctx.logger.debug(log, 'Skipped a retained MQTT message replayed on subscribe.');
      return true;
    }
    if (!store) {
      this.ctx.logger.warn(log, 'Dropped an MQTT message whose topic names no store (it does not fit store_from).');
      return true;
    }
    let timestamp: bigint | undefined;
    if (this.options.timestamp_field) {
      const t = timestampFromPayload(payload, this.options.timestamp_field, this.options.timestamp_unit);
      if (!t.ok) {
        this.ctx.logger.warn({ ...log, store, err: t.message }, 'Dropped an MQTT message with a bad timestamp.');
        return true;
      }
      timestamp = t.timestamp;
    }
    const dataType = this.ctx.stores.view(store)?.dataType;
    const record: IngestRecord = {
      store,
      timestamp,
      payload,
      format: dataType === 'text' || dataType === 'binary' ? 'raw' : 'json',
      origin: { input: this.ctx.id, remote: topic },
    };
    let result: RecordResult;
    try {
      [result] = await this.emit!([record]);
    } catch (err) {
      this.ctx.logger.warn({ ...log, store, err: (err as Error).message }, 'The pipeline cannot take the MQTT message now; it stays unacknowledged.');
      return false;
    }
    if (result.ok) return true;
    if (RETRYABLE.has(result.code)) {
      this.ctx.logger.error(
        { ...log, store, code: result.code, err: result.message },
        'Could not store the MQTT message; it stays unacknowledged for redelivery.',
      );
      return false;
    }
    if (result.code === 'TSS_ERR_TIMESTAMP_ORDER' && timestamp !== undefined) {
      this.ctx.logger.debug({ ...log, store, timestamp: timestamp.toString() }, 'Skipped an MQTT message whose timestamp is already stored (a redelivery).');
      return true;
    }
    this.ctx.logger.warn({ ...log, store, code: result.code, err: result.message }, 'Dropped an MQTT message the pipeline refused.');
    return true;
  }

  /** Unacknowledged message: drop the connection so the broker redelivers it after reconnecting. */
  private dropConnection(): void {
    if (this.stopping || !this.client) return;
    this.client.stream?.destroy();
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
