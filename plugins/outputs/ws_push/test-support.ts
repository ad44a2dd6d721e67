/** Helpers shared by the ws_push tests and benchmark. */
import type { PipelineConfig } from 'tsstore';
import { api } from '../../../test/support/server.js';

/** Short timers so redials, acknowledgement timeouts and keep-alives happen within a test's time. */
export const FAST_PUSH_OPTIONS = {
  backoff_min_ms: 20,
  backoff_max_ms: 150,
  handshake_timeout_ms: 1000,
  ping_interval_ms: 200,
  ack_timeout_ms: 1000,
};

/** The test receivers listen on 127.0.0.1, which the default outbound allow-list refuses. */
export const LOOPBACK_ALLOWED = { outbound: { allow: ['127.0.0.1'] } };

export function pushPipelines(push: Record<string, unknown> = {}, sink: Record<string, unknown> = { type: 'blockfile' }): Record<string, PipelineConfig> {
  return {
    main: {
      inputs: { api: { type: 'rest' }, edge: { type: 'ws_pull' } },
      stages: [{ type: 'validate' }, { type: 'schema_format' }],
      sink: sink as PipelineConfig['sink'],
      outputs: { push: { type: 'ws_push', ...FAST_PUSH_OPTIONS, ...push } },
    },
  };
}

/** Posts NDJSON lines; returns the stored timestamps. */
export async function write(url: string, store: string, key: string, lines: readonly string[]): Promise<bigint[]> {
  const res = await api(url, 'POST', `/api/stores/${store}/data/batch`, lines.join('\n'), { 'X-API-Key': key, 'Content-Type': 'application/x-ndjson' });
  if (res.status !== 200) throw new Error(`write ${store}: ${res.status} ${res.text}`);
  return (res.json as { results: { timestamp: bigint | number }[] }).results.map((r) => BigInt(r.timestamp));
}

export async function pushStatus(url: string, store: string, key: string, id: string): Promise<Record<string, unknown>> {
  const res = await api(url, 'GET', `/api/stores/${store}/ws/connections/${id}`, undefined, { 'X-API-Key': key });
  if (res.status !== 200) throw new Error(`status of ${id}: ${res.status} ${res.text}`);
  return res.json as Record<string, unknown>;
}

export async function createPush(url: string, store: string, key: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await api(url, 'POST', `/api/stores/${store}/ws/connections`, { mode: 'push', ...body }, { 'X-API-Key': key });
  if (res.status !== 201) throw new Error(`create push connection: ${res.status} ${res.text}`);
  return res.json as Record<string, unknown>;
}
