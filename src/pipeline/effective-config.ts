/**
 * The effective configuration as `tsstore config print` shows it: defaults, file, environment and
 * flags applied, each plugin's options after its schema (defaults filled in), secrets masked.
 */
import type { TsstoreConfig } from '../config/config-types.js';
import type { PlannedPipeline } from './pipeline-builder.js';

export const MASK = '********';

/** Option names that hold secrets: admin_key, api_key, token, password, client_secret, ... */
const SECRET_NAME = /(^|_)(key|token|password|passwd|secret|credentials?)$/i;

function maskUrl(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value)) return value;
  try {
    const u = new URL(value);
    if (!u.password) return value;
    u.password = MASK;
    return u.toString();
  } catch {
    return value;
  }
}

/** A deep copy with secret values replaced by MASK (names like *_key/token/password, HTTP headers, URL passwords). */
export function maskSecrets(value: unknown, name = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (/^headers$/i.test(k) && v !== null && typeof v === 'object') {
        out[k] = Object.fromEntries(Object.keys(v).map((h) => [h, MASK]));
      } else if (SECRET_NAME.test(k) && v !== undefined && v !== null && v !== '' && !(name === 'tls')) {
        out[k] = MASK;
      } else {
        out[k] = maskSecrets(v, k);
      }
    }
    return out;
  }
  return typeof value === 'string' ? maskUrl(value) : value;
}

/** The config with planned pipelines (plugin defaults applied) in place of the raw blocks. */
export function effectiveConfig(config: TsstoreConfig, pipelines: readonly PlannedPipeline[]): Record<string, unknown> {
  const { source: _source, pipelines: _raw, ...rest } = config;
  const block = (p: { type: string; options: Record<string, unknown> }) => ({ type: p.type, ...p.options });
  return maskSecrets({
    ...rest,
    pipelines: Object.fromEntries(
      pipelines.map((p) => [
        p.name,
        {
          inputs: Object.fromEntries(p.inputs.map((i) => [i.id, i.enabled ? block(i) : { ...block(i), enabled: false }])),
          stages: p.stages.map(block),
          sink: block(p.sink),
          ...(p.outputs.length ? { outputs: Object.fromEntries(p.outputs.map((o) => [o.id, o.enabled ? block(o) : { ...block(o), enabled: false }])) } : {}),
        },
      ]),
    ),
  }) as Record<string, unknown>;
}
