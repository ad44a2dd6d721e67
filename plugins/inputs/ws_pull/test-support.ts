/** Helpers shared by the ws_pull tests and benchmark. */
import type { PipelineConfig } from 'tsstore';
import { api } from '../../../test/support/server.js';
import { FEED_BASE } from './test-remote-feed.js';

/** Short timers so reconnects, pings and cursor writes happen within a test's time. */
export const FAST_PULL_OPTIONS = {
  backoff_min_ms: 20,
  backoff_max_ms: 150,
  ping_interval_ms: 200,
  pong_timeout_ms: 1000,
  handshake_timeout_ms: 1000,
  persist_interval_ms: 20,
};

/** The test remotes listen on 127.0.0.1, which the default outbound allow-list refuses. */
export const LOOPBACK_ALLOWED = { outbound: { allow: ['127.0.0.1'] } };

export function pullPipelines(sink: Record<string, unknown> = { type: 'memory' }, pull: Record<string, unknown> = {}): Record<string, PipelineConfig> {
  return {
    main: {
      inputs: { api: { type: 'rest' }, edge: { type: 'ws_pull', ...FAST_PULL_OPTIONS, ...pull } },
      stages: [{ type: 'validate' }],
      sink: sink as PipelineConfig['sink'],
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface StoredRow {
  readonly timestamp: bigint;
  readonly data: unknown;
}

/** Every record of a store, oldest first (paged). */
export async function allRecords(url: string, store: string, key: string): Promise<StoredRow[]> {
  const rows: StoredRow[] = [];
  let after: bigint | undefined;
  for (;;) {
    const q = after === undefined ? 'start_time=0' : `after=${after}`;
    const res = await api(url, 'GET', `/api/stores/${store}/data/range?${q}&limit=10000`, undefined, { 'X-API-Key': key });
    if (res.status !== 200) throw new Error(`read ${store}: ${res.status} ${res.text}`);
    const objects = res.json.objects as { timestamp: bigint | number; data: unknown }[];
    for (const o of objects) rows.push({ timestamp: BigInt(o.timestamp), data: o.data });
    if (objects.length < 10000) return rows;
    after = rows[rows.length - 1].timestamp;
  }
}

/** Asserts the store holds feed records 1..n exactly once, in order, with exact timestamps. */
export function feedProblems(rows: readonly StoredRow[], n: number): string | undefined {
  if (rows.length !== n) return `expected ${n} records, found ${rows.length}`;
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    const want = FEED_BASE + BigInt(i + 1);
    if (r.timestamp !== want) return `record ${i}: timestamp ${r.timestamp}, expected ${want}`;
    if ((r.data as { n?: number })?.n !== i + 1) return `record ${i}: data ${JSON.stringify(r.data)}, expected {"n":${i + 1}}`;
  }
  return undefined;
}

export interface ConnectionStatus {
  readonly id: string;
  readonly status: string;
  readonly url: string;
  readonly format: string;
  readonly last_timestamp: bigint | null;
  readonly cursor: bigint | null;
  readonly messages_received: number;
  readonly records_stored: number;
  readonly duplicates: number;
  readonly ignored: number;
  readonly errors: number;
  readonly batches: number;
  readonly last_error: string | null;
  readonly connects: number;
}

export async function connectionStatus(url: string, store: string, key: string, id: string): Promise<ConnectionStatus> {
  const res = await api(url, 'GET', `/api/stores/${store}/ws/connections/${id}`, undefined, { 'X-API-Key': key });
  if (res.status !== 200) throw new Error(`status of ${id}: ${res.status} ${res.text}`);
  const s = res.json as Record<string, unknown>;
  for (const k of ['last_timestamp', 'cursor']) if (typeof s[k] === 'number') s[k] = BigInt(s[k] as number);
  return s as unknown as ConnectionStatus;
}

export async function createConnection(url: string, store: string, key: string, body: Record<string, unknown>): Promise<ConnectionStatus> {
  const res = await api(url, 'POST', `/api/stores/${store}/ws/connections`, body, { 'X-API-Key': key });
  if (res.status !== 201) throw new Error(`create connection: ${res.status} ${res.text}`);
  return res.json as ConnectionStatus;
}
