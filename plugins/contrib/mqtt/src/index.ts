/** tsstore-input-mqtt: the `mqtt` input plugin (see README.md). */
import { defineInput } from 'tsstore/plugin';
import { MqttInput } from './mqtt-input.js';
import { mqttOptionsSchema, type MqttInputOptions } from './options.js';

export const mqttInput = defineInput<MqttInputOptions>({
  type: 'mqtt',
  description: 'MQTT subscriber: topics → stores, payload → data, QoS 1 acknowledged once stored',
  apiVersion: '^1.0.0',
  options: mqttOptionsSchema,
  create: (options, ctx) => new MqttInput(options, ctx),
});

export default mqttInput;
export type { MqttInputOptions } from './options.js';
export { parseTopicPattern } from './topic-pattern.js';
