import Joi from 'joi';
import { defineInput } from 'tsstore/plugin';
import { WebSocketInput, type WebSocketInputOptions } from './websocket-input.js';

/** `websocket`: streaming writes over WebSocket on the shared HTTP port. */
export default defineInput<WebSocketInputOptions>({
  type: 'websocket',
  description: 'WebSocket streaming write: GET /api/stores/:store/ws/write, one ack or error frame per message.',
  apiVersion: '^1.1.0',
  options: Joi.object({
    max_message: Joi.number()
      .integer()
      .min(64)
      .default(1024 * 1024),
    ping_interval_ms: Joi.number().integer().min(0).default(30_000),
    max_in_flight: Joi.number().integer().min(2).default(4096),
    shutdown_grace_ms: Joi.number().integer().min(0).default(5_000),
  }),
  create: (options, ctx) => new WebSocketInput(options, ctx),
});
