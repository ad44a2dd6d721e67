/** Built-in defaults: what `tsstore serve` runs with no config at all. */
import type { PipelineConfig } from './config-types.js';

export const DEFAULT_PORT = 21080;
export const DEFAULT_SOCKET_PATH = '/var/run/tsstore/tsstore.sock';

export const DEFAULTS = {
  server: { host: '0.0.0.0', port: DEFAULT_PORT, socket_path: DEFAULT_SOCKET_PATH, ws_max_frame: 16 * 1024 * 1024 },
  store: { base_path: './data', num_blocks: 1024, data_block_size: 4096, index_block_size: 4096, data_type: 'json' as const, max_open: 256 },
  log: { level: 'info', format: 'auto' as const },
  /** No rule; public unicast addresses allowed; loopback, private, link-local and the like refused. */
  outbound: { allow: [] as string[], allow_public: true },
};

/** The default pipeline: every built-in input into the validation stages and the block-file engine; the live read stream, outbound push and MQTT publish connections. */
export function defaultPipelines(): Record<string, PipelineConfig> {
  return {
    main: {
      inputs: { api: { type: 'rest' }, stream: { type: 'websocket' }, local: { type: 'unix_socket' }, edge: { type: 'ws_pull' } },
      stages: [{ type: 'validate' }, { type: 'schema_format' }],
      sink: { type: 'blockfile' },
      outputs: { live: { type: 'ws_read' }, push: { type: 'ws_push' }, mqtt: { type: 'mqtt_publish' } },
    },
  };
}
