/** joi schema of the config file; every problem is reported with its path. */
import Joi from 'joi';

const pluginBlock = Joi.object({ type: Joi.string().required() }).unknown(true);
/** Inputs and outputs also take the core key `enabled` (not passed to the plugin). */
const inputBlock = Joi.object({ type: Joi.string().required(), enabled: Joi.boolean() }).unknown(true);

export const configSchema = Joi.object({
  server: Joi.object({
    host: Joi.string().hostname().allow('0.0.0.0', '::'),
    port: Joi.number().integer().min(0).max(65535),
    socket_path: Joi.string().allow(null, ''),
    admin_key: Joi.string().allow(''),
    tls: Joi.object({
      enabled: Joi.boolean(),
      cert: Joi.string(),
      key: Joi.string(),
      cert_file: Joi.string(),
      key_file: Joi.string(),
    }),
    ws_max_frame: Joi.number().integer().min(1024),
    public_store_list: Joi.boolean(),
    metrics_token: Joi.string().allow(''),
    public_metrics: Joi.boolean(),
  }),
  store: Joi.object({
    base_path: Joi.string(),
    num_blocks: Joi.number().integer().min(2),
    data_block_size: Joi.number().integer().min(64),
    index_block_size: Joi.number().integer().min(64),
    data_type: Joi.string().valid('json', 'text', 'binary', 'schema'),
    max_open: Joi.number().integer().min(1).max(1_000_000),
  }),
  outbound: Joi.object({ allow: Joi.array().items(Joi.string().trim().min(1)), allow_public: Joi.boolean() }),
  log: Joi.object({
    level: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    format: Joi.string().valid('auto', 'json', 'pretty'),
  }),
  plugins: Joi.array().items(Joi.string()),
  pipelines: Joi.object()
    .pattern(
      Joi.string().pattern(/^[A-Za-z0-9_-]+$/),
      Joi.object({
        inputs: Joi.object()
          .pattern(Joi.string().pattern(/^[A-Za-z0-9_-]+$/), inputBlock)
          .required(),
        stages: Joi.array().items(pluginBlock).default([]),
        sink: pluginBlock.required(),
        outputs: Joi.object().pattern(Joi.string().pattern(/^[A-Za-z0-9_-]+$/), inputBlock),
      }),
    )
    .min(1),
}).prefs({ abortEarly: false });
