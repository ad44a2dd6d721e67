import fs from 'node:fs';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { openLocalDataPath } from '../cli/local-data-path.js';
import { Progress, formatCount } from '../cli/progress.js';
import { AdminError } from '../cli/store-admin.js';
import type { TsstoreConfig } from '../config/config-types.js';
import { openHandles } from '../migrate/go-source.js';
import { Migration, somethingLost, type MigrationReport, type StoreReport } from '../migrate/migrate.js';

export default class Migrate extends BaseCommand<typeof Migrate> {
  static override description = `Move stores from a reference Go ts-store data directory into tsstore.

Reads each store directory of GO_DATA_DIR (meta.tsdb, data.tsdb, index.tsdb, keys.json or keys.registry.json, schema.json, ws_connections.json) and creates the same store in tsstore: every live record with its exact timestamp and bytes, the data type, a ring at least as large, the schema versions, the pull connections and the API key hashes, so existing keys keep working. Soft-deleted records stay deleted. The source is only read, never changed.

Exit code: 0 when everything was carried over; 1 when something was skipped (the summary says what and why); 2 when it was refused or failed and nothing was migrated. A source directory that a running ts-store server has open, or whose files change while they are read, is refused: stop the server first, or migrate from a copy.`;

  static override examples = [
    '<%= config.bin %> migrate /var/lib/ts-store/data --into ./data',
    '<%= config.bin %> migrate ./go-data --store sensors --store logs --dry-run',
    '<%= config.bin %> migrate ./go-data --into ./data --replace',
  ];

  static override args = {
    source: Args.string({ required: true, description: 'The Go ts-store data directory (its store.base_path)' }),
  };

  static override flags = {
    into: Flags.string({ description: 'tsstore data path to create the stores in (default ./data, or TSSTORE_DATA_PATH, or store.base_path)' }),
    store: Flags.string({ description: 'Migrate only this store (repeatable)', multiple: true }),
    'dry-run': Flags.boolean({ description: 'Read everything and report what would be migrated; write nothing', default: false }),
    replace: Flags.boolean({ description: 'Replace tsstore stores that already exist with the same name (default: refuse them)', default: false }),
    'widen-keys': Flags.boolean({
      description: 'Also carry keys that had only some access (e.g. read-only) in the reference: tsstore store keys have full access',
      default: false,
    }),
    json: Flags.boolean({ description: 'Print the report as JSON', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = this;
    const source = path.resolve(this.args.source);
    if (!fs.existsSync(source) || !fs.statSync(source).isDirectory()) throw new AdminError(`${source} is not a directory`);
    if (flags.into) process.env.TSSTORE_DATA_PATH = flags.into;
    const config = await this.loadConfig();
    const dataDir = config.store.base_path;
    if (path.resolve(dataDir) === source) throw new AdminError('the source and the target are the same directory: migrate into another data path (--into)');
    const holders = openHandles(source);
    if (holders.length) {
      const who = holders
        .slice(0, 5)
        .map((h) => `pid ${h.pid} (${h.command}) has ${path.relative(source, h.file)} open`)
        .join('; ');
      throw new AdminError(`the source directory is in use: ${who}. Stop the ts-store server first, or migrate from a copy of the directory`);
    }
    const migration = new Migration(source);
    const opts = { stores: flags.store, replace: flags.replace, widenKeys: flags['widen-keys'] };
    let report: MigrationReport;
    if (flags['dry-run']) {
      report = migration.plan(opts, (name) => fs.existsSync(path.join(dataDir, name, 'store.json')));
    } else {
      report = await this.migrate(migration, config, opts);
    }
    if (flags.json) this.log(JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2));
    else this.printReport(report, flags['dry-run'], dataDir);
    if (
      report.stores.some((s) => s.status === 'failed' || s.status === 'refused') &&
      report.stores.every((s) => s.status !== 'migrated' && s.status !== 'planned')
    )
      this.exit(2);
    if (somethingLost(report)) this.exit(1);
  }

  private async migrate(
    migration: Migration,
    config: TsstoreConfig,
    opts: { stores?: string[]; replace: boolean; widenKeys: boolean },
  ): Promise<MigrationReport> {
    const local = await openLocalDataPath(config, 'migrate');
    const pullPipelines = new Set(
      Object.entries(config.pipelines)
        .filter(([, p]) => Object.values(p.inputs).some((i) => i.type === 'ws_pull' && i.enabled !== false))
        .map(([name]) => name),
    );
    let bar: Progress | undefined;
    let barStore = '';
    try {
      return await migration.run(
        { catalog: local.catalog, pullPipelines },
        {
          ...opts,
          onProgress: (store, fraction, records) => {
            if (!process.stderr.isTTY) return;
            if (store !== barStore) {
              bar = new Progress(`migrate ${store}`);
              barStore = store;
            }
            bar!.update(fraction, records);
          },
        },
      );
    } finally {
      if (bar) process.stderr.write('\r\x1b[K');
      await local.close();
    }
  }

  private printReport(report: MigrationReport, dryRun: boolean, dataDir: string): void {
    for (const s of report.stores) this.printStore(s, dryRun);
    if (report.ignored.length) {
      this.log(`Not migrated (tsstore has no counterpart): ${report.ignored.join(', ')}`);
    }
    const done = report.stores.filter((s) => s.status === 'migrated' || s.status === 'planned');
    const records = done.reduce((n, s) => n + s.records, 0);
    const verb = dryRun ? 'Would migrate' : 'Migrated';
    this.log('');
    this.log(
      `${verb} ${done.length} of ${report.stores.length} store(s) from ${report.source}${dryRun ? '' : ` into ${dataDir}`}: ${formatCount(records)} records.`,
    );
    this.log(somethingLost(report) ? 'Some things were not migrated: see "skipped" and "not migrated" above.' : 'Nothing was lost.');
    if (!dryRun && done.length) {
      this.log('');
      this.log(`Next: tsstore serve --path ${dataDir}`);
      this.log(
        'The reference listed stores (GET /api/stores) without a key; tsstore asks for the admin key. Set server.public_store_list: true in the config for the reference behaviour.',
      );
    }
  }

  private printStore(s: StoreReport, dryRun: boolean): void {
    const info = s.info;
    const shape =
      info && s.geometry
        ? ` (${info.dataType}, ${info.layout === 'partitioned' ? 'partitioned' : 'ring'} of ${formatCount(info.numBlocks)} × ${info.dataBlockSize}-byte blocks → ${formatCount(s.geometry.numBlocks)} × ${s.geometry.dataBlockSize})`
        : '';
    const status = { migrated: 'migrated', planned: 'would be migrated', refused: 'REFUSED', failed: 'FAILED' }[s.status];
    this.log(`Store ${s.name}${shape}: ${status}${s.reason ? ` — ${s.reason}` : ''}`);
    if (s.status !== 'migrated' && s.status !== 'planned') return;
    this.log(
      `  records: ${formatCount(s.records)} (${formatCount(s.bytes)} bytes)${s.softDeleted ? `; ${formatCount(s.softDeleted)} soft-deleted record(s) stay deleted` : ''}`,
    );
    for (const k of s.skipped) this.log(`  skipped: ${k.reason}`);
    this.log(`  API keys: ${s.keys}${s.keysFrom ? ` from ${s.keysFrom}` : ''}${dryRun ? '' : ' (existing keys keep working)'}`);
    for (const k of s.keysSkipped) this.log(`  key not migrated: ${k.id} — ${k.reason}`);
    if (s.newKey) this.log(`  the store had no key to carry; new API key (shown once): ${s.newKey}`);
    if (info?.dataType === 'schema') this.log(`  schema: ${s.schemaVersions} version(s)`);
    for (const n of s.schemaNotes) this.log(`  schema not migrated as is: ${n}`);
    if (s.connections || s.connectionsSkipped.length) this.log(`  pull connections: ${s.connections}`);
    for (const c of s.connectionsSkipped) this.log(`  connection not migrated: ${c.id} — ${c.reason}`);
    for (const n of s.notes) this.log(`  note: ${n}`);
  }
}
