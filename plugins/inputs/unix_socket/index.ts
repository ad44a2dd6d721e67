import Joi from 'joi';
import { defineInput } from 'tsstore/plugin';
import { UnixSocketInput, type UnixSocketInputOptions } from './unix-socket-input.js';

/** `unix_socket`: the AUTH / OK / ERROR / QUIT line protocol on a local socket file. */
export default defineInput<UnixSocketInputOptions>({
  type: 'unix_socket',
  description: 'Unix socket line protocol: AUTH <store> <key>, then one JSON value per line.',
  apiVersion: '^1.1.0',
  options: Joi.object({
    path: Joi.string().required().messages({ 'any.required': 'is required (set server.socket_path, TSSTORE_SOCKET_PATH or serve --socket)' }),
    mode: Joi.alternatives(Joi.number().integer().min(0).max(0o777), Joi.string().pattern(/^0?[0-7]{3}$/)).default('0660'),
    max_line: Joi.number()
      .integer()
      .min(64)
      .default(1024 * 1024),
    auth_timeout_ms: Joi.number().integer().min(10).default(10_000),
    max_in_flight: Joi.number().integer().min(2).default(4096),
    shutdown_grace_ms: Joi.number().integer().min(0).default(5_000),
  }),
  create: (options, ctx) => new UnixSocketInput(options, ctx),
});
