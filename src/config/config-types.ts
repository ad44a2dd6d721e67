/** The effective configuration after defaults, file, environment and flags. */
import type { DataType } from '../plugin/record.js';

export interface PluginBlock {
  readonly type: string;
  readonly [option: string]: unknown;
}

/** An input's block: `enabled: false` (a core key, never passed to the plugin) turns it off. */
export interface InputBlock extends PluginBlock {
  readonly enabled?: boolean;
}

export interface PipelineConfig {
  readonly inputs: Readonly<Record<string, InputBlock>>;
  readonly stages: readonly PluginBlock[];
  readonly sink: PluginBlock;
  /** Outputs read the pipeline's stores and deliver them elsewhere (keyed by id, like inputs). */
  readonly outputs?: Readonly<Record<string, InputBlock>>;
}

export interface TsstoreConfig {
  readonly server: {
    readonly host: string;
    readonly port: number;
    /** Unix socket path for the unix_socket input; null disables it. */
    readonly socket_path: string | null;
    readonly admin_key?: string;
    readonly tls?: { readonly cert: string; readonly key: string };
    /** Hard cap on one WebSocket frame (close 1009 above it). */
    readonly ws_max_frame: number;
    /** Serve GET /api/stores without the admin key (the reference's behaviour); default false. */
    readonly public_store_list: boolean;
    /**
     * A token Prometheus (or any scraper) sends as `Authorization: Bearer <token>` to read
     * /metrics without the admin key; undefined: only the admin key opens /metrics.
     */
    readonly metrics_token?: string;
    /** Serve /metrics, and the names of damaged stores on /ready, without a key; default false. */
    readonly public_metrics: boolean;
  };
  readonly store: {
    readonly base_path: string;
    readonly num_blocks: number;
    readonly data_block_size: number;
    readonly index_block_size: number;
    readonly data_type: DataType;
    /** Stores whose data may be open at once; the least recently used idle ones close. */
    readonly max_open: number;
  };
  /**
   * The outbound allow-list for URLs the server dials on a user's behalf (pull connections, …):
   * `allow` rules (URL prefixes, host names, addresses, CIDRs) and whether public addresses are
   * allowed without a rule. See OutboundPolicy in the plugin kit.
   */
  readonly outbound: { readonly allow: readonly string[]; readonly allow_public: boolean };
  /** `format`: `json` lines, `pretty` lines for a person, or `auto` (pretty on a TTY, else JSON). */
  readonly log: { readonly level: string; readonly format: 'auto' | 'json' | 'pretty' };
  /** Outside plugin packages: npm names or paths (relative to the config file). */
  readonly plugins: readonly string[];
  readonly pipelines: Readonly<Record<string, PipelineConfig>>;
  /** Where the config came from (for messages and resolving plugin paths). */
  readonly source: { readonly file?: string; readonly dir: string };
}
