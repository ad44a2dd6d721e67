import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { formatCount, formatDuration } from '../cli/progress.js';
import { AdminError, RemoteAdmin } from '../cli/store-admin.js';
import { stringifyExact } from '../core/json/index.js';
import { readLiveOwner } from '../stores/data-lock.js';

type Stats = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0);
const big = (v: unknown): bigint | undefined => (typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : undefined);

/** Records appended since the server opened the store: live + soft-deleted + reclaimed by the ring. */
function appended(s: Stats): number {
  return num(s.records) + num(s.deletedRecords) + num(s.overwrittenRecords);
}

function isoOf(ts: bigint | undefined): string {
  if (ts === undefined) return '-';
  const ms = ts / 1_000_000n;
  return ms >= -8_640_000_000_000_000n && ms <= 8_640_000_000_000_000n ? new Date(Number(ms)).toISOString().replace(/\.\d{3}Z$/, 'Z') : String(ts);
}

export default class Status extends BaseCommand<typeof Status> {
  static override description = `Show every store of a running server: records, fill, time span and write rate.

Reads the server's API only (never its files). Stores that cannot serve (damaged files) are listed after the table with the reason. Closed stores show the figures they had when they closed (they do not change while closed). The write rate is the number of records appended during --interval (two stats samples; appended = live + deleted + overwritten by the ring), divided by the time between the samples.`;

  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --url https://edge-7:21080 --interval 5s --json'];

  static override flags = {
    url: Flags.string({ description: 'Server URL (default: the server owning the data path)' }),
    interval: Flags.string({ description: 'Time between the two samples of the write rate (e.g. 500ms, 2s)', default: '1s' }),
    json: Flags.boolean({ description: 'Print as JSON', default: false }),
  };

  async run(): Promise<void> {
    const config = await this.loadConfig();
    const dataDir = config.store.base_path;
    const url = this.flags.url ?? (await readLiveOwner(dataDir))?.url;
    if (!url) throw new AdminError(`no tsstore server is running on data path ${dataDir}; start one, or pass --url`);
    if (!config.server.admin_key) throw new AdminError('status needs the admin key: set TSSTORE_ADMIN_KEY (or server.admin_key in the config)');
    const m = /^(\d+)(ms|s|m)$/.exec(this.flags.interval);
    if (!m) throw new AdminError(`invalid --interval "${this.flags.interval}": expected e.g. 500ms, 1s or 1m`);
    const intervalMs = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);

    const admin = new RemoteAdmin(url, config.server.admin_key);
    let stores: string[];
    let unavailable: Awaited<ReturnType<RemoteAdmin['unavailable']>>;
    try {
      stores = await admin.list();
      unavailable = await admin.unavailable();
    } catch (err) {
      await admin.close();
      throw err;
    }
    const broken = new Set(unavailable.map((p) => p.store));
    const sample = async (): Promise<{ at: number; stats: Map<string, Stats> }> => {
      const at = performance.now();
      const stats = new Map<string, Stats>();
      await Promise.all(
        stores.map(async (s) => {
          try {
            stats.set(s, await admin.stats(s));
          } catch {
            /* deleted meanwhile */
          }
        }),
      );
      return { at, stats };
    };
    let first: Awaited<ReturnType<typeof sample>>;
    let second: Awaited<ReturnType<typeof sample>>;
    try {
      first = await sample();
      if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
      second = await sample();
    } finally {
      await admin.close();
    }
    const secs = (second.at - first.at) / 1000;

    const rows = stores
      .filter((s) => second.stats.has(s) && !broken.has(s))
      .map((name) => {
        const s = second.stats.get(name)!;
        const before = first.stats.get(name);
        const delta = before ? Math.max(0, appended(s) - appended(before)) : 0;
        const oldest = big(s.oldest);
        const newest = big(s.newest);
        return {
          store: name,
          data_type: s.data_type,
          records: num(s.records),
          bytes: num(s.bytes),
          fill: typeof s.fill === 'number' ? s.fill : null,
          oldest: oldest ?? null,
          newest: newest ?? null,
          span_seconds: oldest !== undefined && newest !== undefined ? Number(newest - oldest) / 1e9 : null,
          write_rate: secs > 0 ? delta / secs : 0,
        };
      });
    if (this.flags.json) {
      this.log(stringifyExact({ url, sampled_seconds: secs, stores: rows, unavailable }));
      return;
    }
    if (rows.length === 0 && unavailable.length === 0) {
      this.log(`No stores on ${url}.`);
      return;
    }
    const table = [['STORE', 'TYPE', 'RECORDS', 'FILL', 'OLDEST', 'NEWEST', 'SPAN', 'WRITES/S']];
    for (const r of rows) {
      table.push([
        r.store,
        String(r.data_type),
        formatCount(r.records),
        r.fill === null ? '-' : `${(r.fill * 100).toFixed(1)}%`,
        isoOf(r.oldest ?? undefined),
        isoOf(r.newest ?? undefined),
        r.span_seconds === null ? '-' : formatDuration(r.span_seconds),
        r.write_rate.toFixed(1),
      ]);
    }
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    for (const row of table)
      this.log(
        row
          .map((c, i) => (i >= 2 && i !== 4 && i !== 5 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
          .join('  ')
          .trimEnd(),
      );
    for (const p of unavailable) this.log(`UNAVAILABLE  ${p.store}: ${p.error}`);
    this.log(`${url} — write rate over ${secs.toFixed(1)} s`);
  }
}
