import { defineOutput, Joi } from 'tsstore/plugin';
import { WsReadOutput, type WsReadOptions } from './ws-read-output.js';

/** `ws_read`: live read stream over WebSocket on the shared HTTP port. */
export default defineOutput<WsReadOptions>({
  type: 'ws_read',
  description: 'Live read stream: GET /api/stores/:store/ws/read?from=oldest|now|<ts> sends stored records, then each new one once durable.',
  apiVersion: '^1.0.0',
  options: Joi.object({
    batch: Joi.number().integer().min(1).max(100_000).default(500),
    max_buffered_bytes: Joi.number()
      .integer()
      .min(1024)
      .max(1 << 30)
      .default(1024 * 1024),
    max_readers: Joi.number().integer().min(1).max(1_000_000).default(1024),
    ping_interval_ms: Joi.number().integer().min(0).default(30_000),
  }),
  create: (options, ctx) => new WsReadOutput(options, ctx),
});
