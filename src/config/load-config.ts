/**
 * Finding, reading, validating and overlaying configuration:
 * built-in defaults ← config file (cosmiconfig search or --config / TSSTORE_CONFIG) ← TSSTORE_*
 * environment ← command-line flags. A bad config is refused with every problem and its path.
 */
import { DEFAULT_STORE_OPTIONS, resolveStoreOptions, storeDefaults } from './store-options.js';
import path from 'node:path';
import { cosmiconfig } from 'cosmiconfig';
import { configSchema } from './config-schema.js';
import type { PipelineConfig, TsstoreConfig } from './config-types.js';
import { DEFAULTS, defaultPipelines } from './defaults.js';
import { OutboundPolicy } from '../plugin/kit/outbound.js';

export const SEARCH_PLACES = [
  'package.json',
  'tsstore.config.json',
  'tsstore.config.yaml',
  'tsstore.config.yml',
  'tsstore.config.js',
  'tsstore.config.cjs',
  '.tsstorerc',
  '.tsstorerc.json',
  '.tsstorerc.yaml',
  '.tsstorerc.yml',
  '.tsstorerc.js',
  '.tsstorerc.cjs',
  'config.json',
];

export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly problems: readonly ConfigProblem[],
    readonly file?: string,
  ) {
    super(`invalid configuration${file ? ` in ${file}` : ''}:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Explicit config file (`--config`); else TSSTORE_CONFIG; else a search from `cwd`. */
  readonly file?: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Flag overrides, applied last. `socketPath: null` disables the Unix socket. */
  readonly flags?: {
    readonly socketPath?: string | null;
    readonly port?: number;
    readonly host?: string;
    readonly logLevel?: string;
    /** `--log-format`: auto, json or pretty. */
    readonly logFormat?: 'auto' | 'json' | 'pretty';
    /** TLS certificate and key files (relative to the working directory). */
    readonly tlsCert?: string;
    readonly tlsKey?: string;
    /** The data path (`--path`), relative to the working directory. */
    readonly dataPath?: string;
  };
}

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function readRaw(opts: LoadOptions, env: NodeJS.ProcessEnv, cwd: string): Promise<{ raw: Raw; file?: string }> {
  const explorer = cosmiconfig('tsstore', { searchPlaces: SEARCH_PLACES, searchStrategy: 'none' });
  const file = opts.file ?? (env.TSSTORE_CONFIG || undefined);
  try {
    if (file) {
      const abs = path.resolve(cwd, file);
      const r = await explorer.load(abs);
      return { raw: (r?.config ?? {}) as Raw, file: abs };
    }
    const r = await explorer.search(cwd);
    if (!r || r.isEmpty) return { raw: {} };
    // config.json is the reference server's file name; only take it when it looks like ours.
    if (path.basename(r.filepath) === 'config.json' && !(r.config && (r.config.server || r.config.store || r.config.pipelines))) return { raw: {} };
    return { raw: (r.config ?? {}) as Raw, file: r.filepath };
  } catch (err) {
    throw new ConfigError([{ path: '(file)', message: (err as Error).message }], file ? path.resolve(cwd, file) : undefined);
  }
}

function envInt(env: NodeJS.ProcessEnv, name: string, problems: ConfigProblem[]): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 65535) {
    problems.push({ path: `env ${name}`, message: `must be a port number, got "${v}"` });
    return undefined;
  }
  return Number(v);
}

/**
 * What is wrong with an admin key, or undefined. Blank keys, and keys with whitespace or control
 * characters (a header value loses them at its ends, so such a key would be weak or unusable),
 * are refused; the length is checked when the server starts (the key may come from the
 * environment there).
 */
/** A metrics token is a secret too: long enough not to be guessed. */
export const MIN_METRICS_TOKEN_LENGTH = 20;

export function checkAdminKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (key.trim() === '') return 'must not be blank';
  if (/[\s\x00-\x1f\x7f]/.test(key)) return 'must not contain whitespace or control characters';
  return undefined;
}

/** Every store default must be one a store could be created with (as `POST /api/stores` checks). */
function checkStoreDefaults(config: TsstoreConfig, problems: ConfigProblem[]): void {
  const s = config.store;
  const fields = { num_blocks: s.num_blocks, data_block_size: s.data_block_size, index_block_size: s.index_block_size, data_type: s.data_type } as const;
  let each = true;
  for (const [field, value] of Object.entries(fields)) {
    const at = `store.${field}`;
    if (problems.some((p) => p.path === at)) {
      each = false;
      continue;
    }
    try {
      resolveStoreOptions({ [field]: value }, DEFAULT_STORE_OPTIONS);
    } catch (err) {
      each = false;
      problems.push({ path: at, message: (err as Error).message.replace(/^invalid \w+: /, '') });
    }
  }
  if (!each) return;
  try {
    resolveStoreOptions({}, storeDefaults(config));
  } catch (err) {
    problems.push({ path: 'store', message: (err as Error).message });
  }
}

/**
 * `outbound` from the file, `TSSTORE_OUTBOUND_ALLOW` (comma-separated rules, replacing the file's
 * list) and `TSSTORE_OUTBOUND_ALLOW_PUBLIC` (true/false); every rule is parsed as the server will.
 */
function outboundOf(raw: Raw, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): TsstoreConfig['outbound'] {
  const block = raw.outbound !== null && typeof raw.outbound === 'object' && !Array.isArray(raw.outbound) ? (raw.outbound as Raw) : {};
  let allow: string[] = Array.isArray(block.allow)
    ? block.allow.filter((r: unknown): r is string => typeof r === 'string').map((r: string) => r.trim())
    : [...DEFAULTS.outbound.allow];
  let allowPublic = typeof block.allow_public === 'boolean' ? block.allow_public : DEFAULTS.outbound.allow_public;
  let at = 'outbound.allow';
  if (env.TSSTORE_OUTBOUND_ALLOW !== undefined) {
    allow = env.TSSTORE_OUTBOUND_ALLOW.split(',')
      .map((r) => r.trim())
      .filter((r) => r !== '');
    at = 'env TSSTORE_OUTBOUND_ALLOW';
  }
  const envPublic = env.TSSTORE_OUTBOUND_ALLOW_PUBLIC;
  if (envPublic !== undefined && envPublic !== '') {
    if (envPublic === 'true' || envPublic === 'false') allowPublic = envPublic === 'true';
    else problems.push({ path: 'env TSSTORE_OUTBOUND_ALLOW_PUBLIC', message: `must be true or false, got "${envPublic}"` });
  }
  for (const rule of allow) {
    try {
      OutboundPolicy.from({ allow: [rule] });
    } catch (err) {
      problems.push({ path: at, message: (err as Error).message });
    }
  }
  return { allow, allow_public: allowPublic };
}

/** Loads the config; throws a ConfigError listing every problem of the file and environment. */
export async function loadConfig(opts: LoadOptions = {}): Promise<TsstoreConfig> {
  const { config, problems } = await readConfig(opts);
  if (problems.length) throw new ConfigError(problems, config.source.file);
  return config;
}

/**
 * Like loadConfig, but returns the problems next to a best-effort config instead of throwing, so
 * a validator can go on and report the pipeline problems too (every problem at once). Where the
 * file is broken, the broken parts keep their raw values.
 */
export async function readConfig(opts: LoadOptions = {}): Promise<{ config: TsstoreConfig; problems: ConfigProblem[] }> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const problems: ConfigProblem[] = [];
  let raw: Raw = {};
  let file: string | undefined;
  try {
    ({ raw, file } = await readRaw(opts, env, cwd));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
    file = err.file;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({ path: '(root)', message: 'must be an object' });
    raw = {};
  }
  const { error } = configSchema.validate(raw);
  for (const d of error?.details ?? []) problems.push({ path: d.path.join('.') || '(root)', message: d.message.replace(/^"[^"]*" /, '') });

  const objectOr = (v: unknown): Raw => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});
  const server = objectOr(raw.server);
  const store = objectOr(raw.store);
  const tlsRaw = objectOr(server.tls);
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const flags = opts.flags ?? {};
  const dir = file ? path.dirname(file) : cwd;
  // Flags and environment name files from the working directory, the config file from its own.
  const fromFile = (p: string | undefined): string | undefined => (p ? path.resolve(dir, p) : undefined);
  const fromCwd = (p: string | undefined): string | undefined => (p ? path.resolve(cwd, p) : undefined);
  const tlsCert = fromCwd(flags.tlsCert) ?? fromCwd(env.TSSTORE_TLS_CERT || undefined) ?? fromFile(str(tlsRaw.cert) ?? str(tlsRaw.cert_file));
  const tlsKey = fromCwd(flags.tlsKey) ?? fromCwd(env.TSSTORE_TLS_KEY || undefined) ?? fromFile(str(tlsRaw.key) ?? str(tlsRaw.key_file));
  const tlsOff = tlsRaw.enabled === false && !env.TSSTORE_TLS_CERT && !flags.tlsCert;
  if (!tlsOff && Boolean(tlsCert) !== Boolean(tlsKey)) {
    problems.push({
      path: 'server.tls',
      message: 'needs both a certificate and a key (--tls-cert / --tls-key, TSSTORE_TLS_CERT / TSSTORE_TLS_KEY, or server.tls.cert / server.tls.key)',
    });
  }
  const envPort = envInt(env, 'TSSTORE_PORT', problems);
  let logFormatEnv: 'auto' | 'json' | 'pretty' | undefined;
  if (env.TSSTORE_LOG_FORMAT) {
    if (['auto', 'json', 'pretty'].includes(env.TSSTORE_LOG_FORMAT)) logFormatEnv = env.TSSTORE_LOG_FORMAT as 'auto' | 'json' | 'pretty';
    else problems.push({ path: 'env TSSTORE_LOG_FORMAT', message: `must be one of auto, json, pretty, got "${env.TSSTORE_LOG_FORMAT}"` });
  }

  let socketPath: string | null = server.socket_path === '' ? null : (server.socket_path ?? DEFAULTS.server.socket_path);
  if (env.TSSTORE_SOCKET_PATH !== undefined) socketPath = env.TSSTORE_SOCKET_PATH || null;
  if (flags.socketPath !== undefined) socketPath = flags.socketPath;

  const config: TsstoreConfig = {
    server: {
      host: flags.host ?? (env.TSSTORE_HOST || server.host || DEFAULTS.server.host),
      port: flags.port ?? envPort ?? server.port ?? DEFAULTS.server.port,
      socket_path: socketPath,
      admin_key: env.TSSTORE_ADMIN_KEY || server.admin_key || undefined,
      tls: !tlsOff && tlsCert && tlsKey ? { cert: tlsCert, key: tlsKey } : undefined,
      ws_max_frame: server.ws_max_frame ?? DEFAULTS.server.ws_max_frame,
      public_store_list: server.public_store_list === true,
      metrics_token: env.TSSTORE_METRICS_TOKEN || server.metrics_token || undefined,
      public_metrics: server.public_metrics === true,
    },
    store: {
      base_path: path.resolve(
        cwd,
        flags.dataPath || env.TSSTORE_DATA_PATH || (typeof store.base_path === 'string' && store.base_path) || DEFAULTS.store.base_path,
      ),
      num_blocks: store.num_blocks ?? DEFAULTS.store.num_blocks,
      data_block_size: store.data_block_size ?? DEFAULTS.store.data_block_size,
      index_block_size: store.index_block_size ?? DEFAULTS.store.index_block_size,
      data_type: store.data_type ?? DEFAULTS.store.data_type,
      max_open: store.max_open ?? DEFAULTS.store.max_open,
    },
    outbound: outboundOf(raw, env, problems),
    log: {
      level: flags.logLevel ?? (env.TSSTORE_LOG_LEVEL || raw.log?.level || DEFAULTS.log.level),
      format: flags.logFormat ?? logFormatEnv ?? raw.log?.format ?? DEFAULTS.log.format,
    },
    plugins: Array.isArray(raw.plugins) ? raw.plugins.filter((p: unknown): p is string => typeof p === 'string') : [],
    pipelines: (raw.pipelines as Record<string, PipelineConfig> | undefined) ?? defaultPipelines(),
    source: { file, dir },
  };
  checkStoreDefaults(config, problems);
  const adminKeyProblem = checkAdminKey(config.server.admin_key);
  if (adminKeyProblem) problems.push({ path: env.TSSTORE_ADMIN_KEY ? 'env TSSTORE_ADMIN_KEY' : 'server.admin_key', message: adminKeyProblem });
  const token = config.server.metrics_token;
  const tokenProblem =
    checkAdminKey(token) ??
    (token !== undefined && token.length < MIN_METRICS_TOKEN_LENGTH
      ? `must be at least ${MIN_METRICS_TOKEN_LENGTH} characters (it has ${token.length})`
      : undefined);
  if (tokenProblem) problems.push({ path: env.TSSTORE_METRICS_TOKEN ? 'env TSSTORE_METRICS_TOKEN' : 'server.metrics_token', message: tokenProblem });
  return { config, problems };
}
