/** Options of the JetStream connection, shared by `nats_jetstream` and `blockfile_forward`'s `forward` block. */
import Joi from 'joi';
import { parseDurationNs } from 'tsstore/plugin';

export interface JetStreamTlsOptions {
  readonly ca_file?: string;
  readonly cert_file?: string;
  readonly key_file?: string;
}

export interface JetStreamOptions {
  readonly servers: readonly string[];
  readonly token?: string;
  readonly user?: string;
  readonly pass?: string;
  /** A NATS `.creds` file (JWT + NKey seed). */
  readonly creds_file?: string;
  /** `true` for TLS with the system CAs, or files. */
  readonly tls?: boolean | JetStreamTlsOptions;
  readonly stream: string;
  /** Subject per store; `<store>` is the store name and must be the last token. */
  readonly subject: string;
  readonly create_stream: boolean;
  /** Settings used only when this sink creates the stream. */
  readonly replicas: number;
  readonly max_bytes: number;
  readonly max_age: string;
  readonly duplicate_window: string;
  /** Publishes awaiting their PubAck at once, per sink. */
  readonly max_in_flight: number;
  readonly ack_timeout: string;
  /** Upper bound of the retry backoff (connect, stream lookup, forwarding). */
  readonly retry_max: string;
}

const duration = Joi.string()
  .custom((v: string, helpers) => (parseDurationNs(v) === undefined ? helpers.error('any.invalid') : v), 'duration')
  .messages({ 'any.invalid': '{{#label}} must be a duration like 500ms, 30s, 2m, 7d' });

export const jetStreamKeys = {
  servers: Joi.array().items(Joi.string().min(1)).min(1).single().required(),
  token: Joi.string().min(1),
  user: Joi.string().min(1),
  pass: Joi.string().min(1),
  creds_file: Joi.string().min(1),
  tls: Joi.alternatives(Joi.boolean(), Joi.object({ ca_file: Joi.string(), cert_file: Joi.string(), key_file: Joi.string() }).and('cert_file', 'key_file')),
  stream: Joi.string()
    .pattern(/^[A-Za-z0-9_-]{1,64}$/)
    .default('TSS'),
  subject: Joi.string()
    .pattern(/^([A-Za-z0-9_-]+\.)*<store>$/)
    .default('tsstore.<store>')
    .messages({ 'string.pattern.base': '{{#label}} must be dot-separated tokens ending with <store>, e.g. tsstore.<store>' }),
  create_stream: Joi.boolean().default(false),
  replicas: Joi.number().integer().min(1).max(5).default(1),
  max_bytes: Joi.number().integer().min(-1).default(-1),
  max_age: Joi.alternatives(Joi.valid('0'), duration).default('0'),
  duplicate_window: duration.default('2m'),
  max_in_flight: Joi.number().integer().min(1).max(65536).default(1024),
  ack_timeout: duration.default('5s'),
  retry_max: duration.default('10s'),
};

export const jetStreamOptionsSchema: Joi.ObjectSchema<JetStreamOptions> = Joi.object<JetStreamOptions>(jetStreamKeys)
  .and('user', 'pass')
  .oxor('token', 'user', 'creds_file');

export function durationMs(text: string): number {
  return Number((parseDurationNs(text) ?? 0n) / 1_000_000n);
}

export function durationNs(text: string): number {
  return Number(parseDurationNs(text) ?? 0n);
}
