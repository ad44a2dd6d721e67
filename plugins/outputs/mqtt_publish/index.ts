import { defineOutput } from 'tsstore/plugin';
import { MqttPublishOutput } from './mqtt-publish-output.js';
import { mqttPublishOptionsSchema, type MqttPublishOptions } from './options.js';

/** `mqtt_publish`: per-store connections that publish a store's records to an MQTT broker (QoS 1). */
export default defineOutput<MqttPublishOptions>({
  type: 'mqtt_publish',
  description: "MQTT publish: POST /api/stores/:store/mqtt/connections publishes a store's records to a broker topic at QoS 1, resuming from a cursor.",
  apiVersion: '^1.0.0',
  options: mqttPublishOptionsSchema,
  create: (options, ctx) => new MqttPublishOutput(options, ctx),
});
