import fs from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { Progress, formatCount } from '../cli/progress.js';
import { ImportFileError, readCsv, readNdjson, type ReadProgress } from '../cli/record-files.js';
import { openStoreData, type ImportRecord } from '../cli/store-data.js';
import { AdminError } from '../cli/store-admin.js';

class RefusedRecords extends Error {
  constructor(readonly failures: ImportFileError[]) {
    super(failures[0].message);
  }
}

export default class Import extends BaseCommand<typeof Import> {
  static override description = `Import records into a store from an NDJSON or CSV file.

Every record needs a timestamp. The import is resumable: records whose timestamp is not newer than the store's newest are skipped, so running it again after an interruption continues where it stopped. It stops after the first write with a record the store refuses, naming each refused record's line.

Goes through the running server that owns the data path (or --url), else works on the data path directly.`;

  static override examples = [
    '<%= config.bin %> import sensors ./sensors.ndjson',
    '<%= config.bin %> import sensors ./readings.csv --timestamp-column time',
    '<%= config.bin %> import sensors ./sensors.ndjson --url https://edge-7:21080 --api-key $KEY',
  ];

  static override args = {
    store: Args.string({ required: true, description: 'Store name' }),
    file: Args.string({ required: true, description: 'NDJSON ({"timestamp","data"} per line) or CSV file' }),
  };

  static override flags = {
    format: Flags.string({ description: 'File format (default: from the extension, .csv is csv, else ndjson)', options: ['ndjson', 'csv'] }),
    'timestamp-column': Flags.string({ description: 'CSV column holding the timestamp (nanoseconds or RFC 3339)', default: 'timestamp' }),
    url: Flags.string({ description: 'Server URL (default: the server owning the data path, else work on the data path)' }),
    'api-key': Flags.string({ description: "The store's API key for the server (default: TSSTORE_API_KEY, else the admin key)", env: 'TSSTORE_API_KEY' }),
    'batch-size': Flags.integer({ description: 'Records per write', default: 1000, min: 1, max: 10000 }),
  };

  async run(): Promise<void> {
    const { store, file } = this.args;
    const { flags } = this;
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch (err) {
      throw new AdminError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const format = flags.format ?? (file.toLowerCase().endsWith('.csv') ? 'csv' : 'ndjson');
    const data = await openStoreData(await this.loadConfig(), 'import', { url: flags.url, apiKey: flags['api-key'] });
    const progress = new Progress(`import ${store}`);
    let imported = 0;
    let skipped = 0;
    try {
      const info = await data.info(store);
      const newest = info.newest;
      const read: ReadProgress = { bytes: 0 };
      const records = format === 'csv' ? readCsv(file, read, flags['timestamp-column']) : readNdjson(file, read);
      let batch: ImportRecord[] = [];
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        const results = await data.write(store, info.dataType, batch);
        const failures = results.flatMap((r, i) => (r === null ? [] : [new ImportFileError(batch[i].line, r)]));
        imported += batch.length - failures.length;
        if (failures.length > 0) throw new RefusedRecords(failures);
        batch = [];
        progress.update(size > 0 ? read.bytes / size : 1, imported + skipped);
      };
      for await (const r of records) {
        if (newest !== undefined && r.timestamp <= newest) {
          skipped++;
          continue;
        }
        batch.push(r);
        if (batch.length >= flags['batch-size']) await flush();
      }
      await flush();
    } catch (err) {
      if (err instanceof ImportFileError || err instanceof RefusedRecords) {
        progress.done(`Imported ${formatCount(imported)} records into ${store} before stopping (skipped ${formatCount(skipped)} already stored).`);
        const list = err instanceof RefusedRecords ? err.failures : [err];
        for (const e of list.slice(0, 20)) this.logToStderr(`Error: ${file} ${e.message}`);
        if (list.length > 20) this.logToStderr(`… and ${list.length - 20} more refused records in the same batch.`);
        this.exit(1);
      }
      throw err;
    } finally {
      await data.close();
    }
    const secs = progress.elapsedSeconds;
    progress.done(
      `Imported ${formatCount(imported)} records into ${store} via ${data.via}, skipped ${formatCount(skipped)} already stored, in ${secs.toFixed(1)} s (${formatCount(secs > 0 ? imported / secs : imported)} records/s).`,
    );
  }
}
