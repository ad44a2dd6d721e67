import Joi from 'joi';
import { defineInput } from 'tsstore/plugin';
import { RestInput, type RestInputOptions } from './rest-input.js';

/** `rest`: HTTP insert on the shared server port. */
export default defineInput<RestInputOptions>({
  type: 'rest',
  description: 'REST insert: POST /api/stores/:store/data (and /data/batch) on the server port.',
  apiVersion: '^1.0.0',
  options: Joi.object({
    body_limit: Joi.number()
      .integer()
      .min(64)
      .default(1024 * 1024),
    batch_body_limit: Joi.number()
      .integer()
      .min(64)
      .default(64 * 1024 * 1024),
  }),
  create: (options, ctx) => new RestInput(options, ctx),
});
