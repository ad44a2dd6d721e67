/** Options of the `mqtt_publish` output (its config block minus `type`). */
import { Joi } from 'tsstore/plugin';

export interface MqttPublishOptions {
  /** Connections per store; more are refused with 409. */
  readonly max_connections_per_store: number;
  /** Records read from the store and published per round (all of them in flight at once, QoS 1). */
  readonly batch: number;
  /** TCP + TLS + CONNECT/CONNACK must finish within this, else the attempt fails and is retried. */
  readonly connect_timeout_ms: number;
  /** Reconnect delay after the n-th failure in a row: doubling from min to max, jittered. */
  readonly backoff_min_ms: number;
  readonly backoff_max_ms: number;
  /** MQTT keep-alive in seconds (the broker drops a client silent for 1.5 times this). */
  readonly keepalive_s: number;
}

export const mqttPublishOptionsSchema: Joi.ObjectSchema<MqttPublishOptions> = Joi.object<MqttPublishOptions>({
  max_connections_per_store: Joi.number().integer().min(1).max(10_000).default(64),
  batch: Joi.number().integer().min(1).max(10_000).default(500),
  connect_timeout_ms: Joi.number().integer().min(10).max(3_600_000).default(10_000),
  backoff_min_ms: Joi.number().integer().min(1).max(3_600_000).default(1000),
  backoff_max_ms: Joi.number().integer().min(Joi.ref('backoff_min_ms')).max(3_600_000).default(60_000),
  keepalive_s: Joi.number().integer().min(0).max(65_535).default(60),
});
