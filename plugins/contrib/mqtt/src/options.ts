/** Options of the `mqtt` input (its config block minus `type`); see README.md. */
import { Joi } from 'tsstore/plugin';
import type { TimestampUnit } from './payload-timestamp.js';
import { parseTopicPattern } from './topic-pattern.js';

export interface TopicSubscription {
  readonly topic: string;
  readonly qos: 0 | 1;
}

export interface MqttInputOptions {
  readonly url: string;
  /** Filters to subscribe to; default: the `store_from` pattern as a filter. */
  readonly topics?: readonly (string | { topic: string; qos?: 0 | 1 })[];
  /** QoS of subscriptions that do not name their own. */
  readonly qos: 0 | 1;
  /** Every message goes to this store... */
  readonly store?: string;
  /** ...or the store is taken from the topic by this pattern (`sensors/+store/#`). */
  readonly store_from?: string;
  readonly timestamp_field?: string;
  readonly timestamp_unit: TimestampUnit;
  readonly client_id?: string;
  readonly clean: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly protocol_version: 4 | 5;
  readonly keepalive_s: number;
  readonly reconnect_period_ms: number;
  readonly connect_timeout_ms: number;
  /** Store the retained message the broker replays on subscribe (default: skip it). */
  readonly store_retained: boolean;
  /** QoS 0 messages being stored at once before the input stops reading. */
  readonly max_inflight: number;
}

const patternCheck = (value: string, helpers: Joi.CustomHelpers) => {
  try {
    parseTopicPattern(value);
    return value;
  } catch (err) {
    return helpers.message({ custom: `"store_from" ${(err as Error).message}` });
  }
};

const filter = Joi.string()
  .min(1)
  .max(65535)
  .pattern(/^[^#+]*(?:(?:^|\/)[+](?=\/|$)[^#+]*)*(?:(?:^|\/)#)?$/, 'MQTT topic filter');

export const mqttOptionsSchema: Joi.ObjectSchema<MqttInputOptions> = Joi.object<MqttInputOptions>({
  url: Joi.string()
    .uri({ scheme: ['mqtt', 'mqtts', 'tcp', 'tls', 'ssl', 'ws', 'wss'] })
    .required(),
  topics: Joi.array()
    .min(1)
    .items(filter, Joi.object({ topic: filter.required(), qos: Joi.number().valid(0, 1) })),
  qos: Joi.number().valid(0, 1).default(1),
  store: Joi.string().pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'store name'),
  store_from: Joi.string().custom(patternCheck),
  timestamp_field: Joi.string().min(1),
  timestamp_unit: Joi.string().valid('ns', 'us', 'ms', 's').default('ns'),
  client_id: Joi.string().min(1).max(128),
  clean: Joi.boolean().default(false),
  username: Joi.string(),
  password: Joi.string(),
  protocol_version: Joi.number().valid(4, 5).default(4),
  keepalive_s: Joi.number().integer().min(0).max(65535).default(60),
  reconnect_period_ms: Joi.number().integer().min(10).max(3_600_000).default(1000),
  connect_timeout_ms: Joi.number().integer().min(100).max(600_000).default(10_000),
  store_retained: Joi.boolean().default(false),
  max_inflight: Joi.number().integer().min(1).max(100_000).default(256),
})
  .xor('store', 'store_from')
  .with('store', 'topics');
