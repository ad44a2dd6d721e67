import fs from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { Progress, formatCount } from '../cli/progress.js';
import { CSV_HEADER, formatRecord, type ExportFormat } from '../cli/record-files.js';
import { PAGE_LIMIT, openStoreData } from '../cli/store-data.js';
import { AdminError } from '../cli/store-admin.js';
import { parseDurationNs } from '../plugin/kit/duration.js';
import { timeValue } from '../http/query-params.js';
import { nowNs } from '../plugin/clock.js';

export default class Export extends BaseCommand<typeof Export> {
  static override description = `Export a store's records, oldest first, as NDJSON ({"timestamp":T,"data":D} per line, data exactly as stored) or CSV (timestamp,data).

Goes through the running server that owns the data path (or --url), else reads the data path directly. An NDJSON export is a valid import file.`;

  static override examples = [
    '<%= config.bin %> export sensors > sensors.ndjson',
    '<%= config.bin %> export sensors --since 24h --format csv --output last-day.csv',
    '<%= config.bin %> export sensors --start 2024-01-01T00:00:00Z --end 1704153600000000000',
  ];

  static override args = { store: Args.string({ required: true, description: 'Store name' }) };

  static override flags = {
    format: Flags.string({ description: 'Output format', options: ['ndjson', 'csv'], default: 'ndjson' }),
    since: Flags.string({ description: 'Only records newer than this long ago (30s, 15m, 2h, 7d, 1w)', exclusive: ['start'] }),
    start: Flags.string({ description: 'First timestamp (nanoseconds or RFC 3339), inclusive' }),
    end: Flags.string({ description: 'Last timestamp (nanoseconds or RFC 3339), inclusive' }),
    output: Flags.string({ char: 'o', description: 'Write to this file (default: standard output)' }),
    url: Flags.string({ description: 'Server URL (default: the server owning the data path, else the data path)' }),
    'api-key': Flags.string({ description: "The store's API key for the server (default: TSSTORE_API_KEY, else the admin key)", env: 'TSSTORE_API_KEY' }),
  };

  async run(): Promise<void> {
    const { store } = this.args;
    const { flags } = this;
    const format = flags.format as ExportFormat;
    let from: bigint | undefined;
    let to: bigint | undefined;
    try {
      if (flags.since !== undefined) {
        const d = parseDurationNs(flags.since);
        if (d === undefined) throw new Error(`invalid --since: expected a duration such as 30s, 15m, 2h, 7d or 1w, got "${flags.since}"`);
        from = nowNs() - d;
      }
      if (flags.start !== undefined) from = timeValue('--start', flags.start);
      if (flags.end !== undefined) to = timeValue('--end', flags.end);
    } catch (err) {
      throw new AdminError((err as Error).message);
    }

    const data = await openStoreData(await this.loadConfig(), 'export', { url: flags.url, apiKey: flags['api-key'] });
    const out = flags.output ? fs.createWriteStream(flags.output) : process.stdout;
    const progress = new Progress(`export ${store}`);
    let count = 0;
    // A reader that goes away (`| head`) ends the export quietly, as with any Unix tool.
    let readerGone = false;
    let failure: Error | undefined;
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EPIPE') readerGone = true;
      else failure = new AdminError(`cannot write ${flags.output ?? 'the output'}: ${err.message}`);
    };
    out.on('error', onError);
    try {
      const info = await data.info(store);
      // Progress by timestamp position within the span actually exported.
      const lo = [from, info.oldest].filter((x): x is bigint => x !== undefined).reduce((a, b) => (a > b ? a : b), 0n);
      const hi = [to, info.newest].filter((x): x is bigint => x !== undefined).reduce((a, b) => (a < b ? a : b), lo);
      const span = Number(hi - lo);
      const write = async (text: string): Promise<void> => {
        if (failure) throw failure;
        if (out.write(text) || readerGone) return;
        await new Promise<void>((resolve) => {
          const done = (): void => {
            out.off('drain', done);
            out.off('close', done);
            resolve();
          };
          out.on('drain', done);
          out.on('close', done);
        });
      };
      if (format === 'csv') await write(CSV_HEADER);
      let cursor = from;
      while (!readerGone) {
        const page = await data.read(store, cursor, to, PAGE_LIMIT);
        if (page.length === 0) break;
        let chunk = '';
        for (const r of page) chunk += formatRecord(r, format);
        await write(chunk);
        count += page.length;
        const last = page[page.length - 1].timestamp;
        progress.update(span > 0 ? Number(last - lo) / span : 1, count);
        if (page.length < PAGE_LIMIT) break;
        cursor = last + 1n;
      }
      if (flags.output) {
        await new Promise<void>((resolve, reject) => (out as fs.WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())));
      }
      if (failure) throw failure;
    } finally {
      await data.close();
    }
    if (readerGone) return;
    const secs = progress.elapsedSeconds;
    progress.done(
      `Exported ${formatCount(count)} records of ${store} via ${data.via}${flags.output ? ` to ${flags.output}` : ''} in ${secs.toFixed(1)} s (${formatCount(secs > 0 ? count / secs : count)} records/s).`,
    );
  }
}
