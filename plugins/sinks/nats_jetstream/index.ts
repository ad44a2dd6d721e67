/** The `nats_jetstream` sink plugin: records go straight to a NATS JetStream stream (see README.md). */
import { defineSink } from 'tsstore/plugin';
import { NatsJetStreamSink } from './nats-jetstream-sink.js';
import { JetStreamOptions, jetStreamOptionsSchema } from './options.js';

export const natsJetStreamSink = defineSink<JetStreamOptions>({
  type: 'nats_jetstream',
  description: 'Publishes every record to a NATS JetStream stream (acknowledged after the PubAck; de-duplicated by <store>:<timestamp>)',
  apiVersion: '^1.0.0',
  options: jetStreamOptionsSchema,
  create: (options, ctx) => new NatsJetStreamSink(options, ctx),
});

export default natsJetStreamSink;
export { NatsJetStreamSink } from './nats-jetstream-sink.js';
export { JetStreamLink } from './jetstream-link.js';
export type { JetStreamOptions } from './options.js';
