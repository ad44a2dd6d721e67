/**
 * `tsstore migrate`: every store of a reference Go ts-store data directory into tsstore stores,
 * created through the store catalog and written through the store's sink (exact timestamps,
 * exact bytes), with the API key hashes, the schema versions and the pull connections. The
 * source is only ever read. Each store gets a report: what was carried over, what was skipped
 * and why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../plugin/kit/state-file.js';
import { connectionsFile, renderConnections, type PersistedConnection } from '../../plugins/inputs/ws_pull/connection-file.js';
import { TssError } from '../plugin/errors.js';
import type { SinkRecord } from '../plugin/sink.js';
import type { SchemaField } from '../plugin/stage.js';
import type { KeyRecord } from '../stores/api-keys.js';
import { checkEvolution, parseSchemaBody, SchemaService } from '../stores/schema-service.js';
import type { StoreCatalog } from '../stores/store-catalog.js';
import { checkStoreName } from '../config/store-options.js';
import { describeLoss, GoStoreError, GoStoreReader, type GoStoreInfo } from './go-reader.js';
import { fileStates, GoSource, KNOWN_STORE_FILES, readGoConnections, readGoSchema, type SkippedItem } from './go-source.js';

/** The tsstore side: a data path opened under its owner lock. */
export interface MigrationTarget {
  readonly catalog: StoreCatalog;
  /** Pipelines whose configuration has a ws_pull input (pull connections only run there). */
  readonly pullPipelines: ReadonlySet<string>;
}

export interface MigrateOptions {
  readonly stores?: readonly string[];
  /** Drop an existing tsstore store of the same name first. */
  readonly replace?: boolean;
  /** Carry reference keys whose access is narrower than a tsstore store key's. */
  readonly widenKeys?: boolean;
  readonly onProgress?: (store: string, fraction: number, records: number) => void;
}

export interface SkipCount {
  readonly reason: string;
  readonly records: number;
}

export interface StoreReport {
  readonly name: string;
  /** migrated | planned (dry run) | refused (nothing written) | failed. */
  status: 'migrated' | 'planned' | 'refused' | 'failed';
  reason?: string;
  info?: GoStoreInfo;
  geometry?: { numBlocks: number; dataBlockSize: number };
  records: number;
  bytes: number;
  /** Records the reference held but the migration did not carry, by reason (soft deletes excluded). */
  skipped: SkipCount[];
  softDeleted: number;
  /** Records recovered that the reference stored but never returned (see go-reader). */
  recoveredHidden: number;
  keys: number;
  keysFrom?: string;
  keysSkipped: SkippedItem[];
  /** The store had no key to carry: this new key opens it. */
  newKey?: string;
  schemaVersions: number;
  schemaNotes: string[];
  connections: number;
  connectionsSkipped: SkippedItem[];
  notes: string[];
}

export interface MigrationReport {
  readonly source: string;
  readonly stores: StoreReport[];
  /** Source files the migration does not understand (alerts, rollups, ...). */
  readonly ignored: string[];
}

/** True when a report says something the reference held did not make it (soft deletes aside). */
export function somethingLost(r: MigrationReport): boolean {
  return (
    r.ignored.length > 0 ||
    r.stores.some(
      (s) =>
        s.status === 'refused' ||
        s.status === 'failed' ||
        s.skipped.length > 0 ||
        s.keysSkipped.length > 0 ||
        s.connectionsSkipped.length > 0 ||
        s.schemaNotes.length > 0,
    )
  );
}

const BATCH_RECORDS = 5000;
const BATCH_BYTES = 4 << 20;
/** Writes in flight at once: the sink group-commits them, the reader runs ahead meanwhile. */
const IN_FLIGHT = 4;
/** Assumed per-block and per-record overhead of the target sink, with room to spare. */
const TARGET_BLOCK_OVERHEAD = 32;
const TARGET_RECORD_OVERHEAD = 24;
const MAX_BLOCKS = 1 << 24;
const MAX_BLOCK_SIZE = 1 << 26;

export class Migration {
  readonly source: GoSource;

  constructor(readonly sourceDir: string) {
    if (!fs.existsSync(sourceDir) || !fs.statSync(sourceDir).isDirectory()) {
      throw new TssError('TSS_ERR_BAD_REQUEST', `${sourceDir} is not a directory`);
    }
    this.source = new GoSource(sourceDir);
  }

  /** Store names to migrate: all, or the `--store` ones (each must exist). */
  selected(wanted?: readonly string[]): string[] {
    const all = this.source.storeNames();
    if (!wanted || wanted.length === 0) return all;
    const missing = wanted.filter((w) => !all.includes(w));
    if (missing.length)
      throw new TssError(
        'TSS_ERR_BAD_REQUEST',
        `no store ${missing.map((m) => `"${m}"`).join(', ')} in ${this.sourceDir} (it has: ${all.join(', ') || 'none'})`,
      );
    return [...wanted];
  }

  /** Files the migration leaves behind: anything beside the known files in each selected store and at the top. */
  ignoredFiles(stores: readonly string[]): string[] {
    const out: string[] = [];
    for (const name of stores) {
      for (const e of fs.readdirSync(this.source.storeDir(name), { withFileTypes: true })) {
        if (e.isDirectory() && /^partition-\d+$/.test(e.name)) continue;
        if (!KNOWN_STORE_FILES.has(e.name)) out.push(path.join(name, e.name));
      }
    }
    return out;
  }

  /** Reads every selected store and says what a migration would do; writes nothing. */
  plan(opts: MigrateOptions, existing: (name: string) => boolean): MigrationReport {
    const names = this.selected(opts.stores);
    const stores = names.map((name) => {
      const r = this.emptyReport(name);
      try {
        this.planStore(r, opts, true);
        if (existing(name) && !opts.replace) refuse(r, `a tsstore store named ${name} exists; --replace replaces it`);
        else r.status = 'planned';
      } catch (err) {
        fail(r, err);
      }
      return r;
    });
    return { source: this.sourceDir, stores, ignored: this.ignoredFiles(names) };
  }

  async run(target: MigrationTarget, opts: MigrateOptions): Promise<MigrationReport> {
    const names = this.selected(opts.stores);
    const stores: StoreReport[] = [];
    for (const name of names) {
      const r = this.emptyReport(name);
      stores.push(r);
      try {
        await this.migrateStore(r, target, opts);
      } catch (err) {
        fail(r, err);
      }
    }
    return { source: this.sourceDir, stores, ignored: this.ignoredFiles(names) };
  }

  private emptyReport(name: string): StoreReport {
    return {
      name,
      status: 'failed',
      records: 0,
      bytes: 0,
      skipped: [],
      softDeleted: 0,
      recoveredHidden: 0,
      keys: 0,
      keysSkipped: [],
      schemaVersions: 0,
      schemaNotes: [],
      connections: 0,
      connectionsSkipped: [],
      notes: [],
    };
  }

  /** First pass: what the store holds, and the geometry that holds it in tsstore. */
  private planStore(r: StoreReport, opts: MigrateOptions, final: boolean): void {
    checkStoreName(r.name);
    const reader = new GoStoreReader(this.source.storeDir(r.name));
    try {
      r.info = reader.info;
      const usable = reader.info.dataBlockSize - TARGET_BLOCK_OVERHEAD;
      let blocks = 1;
      let room = usable;
      let last: bigint | undefined;
      let records = 0;
      let bytes = 0;
      let outOfOrder = 0;
      for (const rec of reader.records()) {
        if (last !== undefined && rec.timestamp <= last) {
          outOfOrder++;
          continue;
        }
        if (rec.timestamp <= 0n) {
          outOfOrder++;
          continue;
        }
        last = rec.timestamp;
        records++;
        bytes += rec.data.length;
        const need = TARGET_RECORD_OVERHEAD + rec.data.length;
        if (need <= room) room -= need;
        else if (need <= usable) {
          blocks++;
          room = usable - need;
        } else {
          blocks += Math.ceil(need / usable);
          room = 0;
        }
      }
      r.geometry = geometryFor(reader.info, blocks);
      if (final) {
        r.records = records;
        r.bytes = bytes;
        this.collectLosses(r, reader, outOfOrder);
        this.planSideFiles(r, opts);
      }
    } finally {
      reader.close();
    }
  }

  private collectLosses(r: StoreReport, reader: GoStoreReader, outOfOrder: number): void {
    r.recoveredHidden = reader.hiddenRecovered;
    r.notes.push(...reader.info.notes);
    for (const loss of reader.losses.values()) {
      if (loss.reason === 'soft-deleted') r.softDeleted = loss.records;
      else r.skipped.push({ reason: describeLoss(loss), records: loss.records });
    }
    if (outOfOrder > 0) {
      r.skipped.push({
        reason: `${outOfOrder} record${outOfOrder === 1 ? '' : 's'} not newer than the record before (the reference let them in; tsstore keeps timestamps strictly increasing)`,
        records: outOfOrder,
      });
    }
    if (r.recoveredHidden > 0) {
      r.notes.push(`${r.recoveredHidden} record(s) the reference stored after a record spanning blocks but never returned in reads were recovered`);
    }
  }

  /** Keys, schema and connections as they would be carried (reports only). */
  private planSideFiles(r: StoreReport, opts: MigrateOptions): void {
    const keys = this.source.keysFor(r.name, opts.widenKeys ?? false);
    r.keys = keys.keys.length;
    r.keysFrom = keys.from;
    r.keysSkipped = keys.skipped;
    if (r.info?.dataType === 'schema') {
      const plan = schemaPlan(this.source.storeDir(r.name));
      r.schemaVersions = plan.versions.length;
      r.schemaNotes = plan.problems;
      r.notes.push(...plan.notes);
    }
    const conns = readGoConnections(this.source.storeDir(r.name));
    for (const c of conns) {
      const why = connectionProblem(c.mode, c.url);
      if (why) r.connectionsSkipped.push({ id: c.id, reason: why });
      else {
        r.connections++;
        if (c.unsupported.length) r.notes.push(`pull connection ${c.id}: options ${c.unsupported.join(', ')} have no tsstore counterpart and were dropped`);
      }
    }
  }

  private async migrateStore(r: StoreReport, target: MigrationTarget, opts: MigrateOptions): Promise<void> {
    const { catalog } = target;
    const dir = this.source.storeDir(r.name);
    const before = fileStates(dir);
    const changed = (): boolean => fileStates(dir) !== before;
    const busy = `the source store changed while it was read (is a ts-store server still running on ${this.sourceDir}?); stop it, or migrate from a copy`;
    try {
      this.planStore(r, opts, false);
    } catch (err) {
      if (changed()) return refuse(r, busy);
      throw err;
    }
    if (catalog.has(r.name)) {
      if (!opts.replace) return refuse(r, `a tsstore store named ${r.name} exists; --replace replaces it`);
      await catalog.drop(r.name);
    }
    const info = r.info!;
    const created = await catalog.create(r.name, {
      num_blocks: r.geometry!.numBlocks,
      data_block_size: r.geometry!.dataBlockSize,
      index_block_size: info.indexBlockSize,
      data_type: info.dataType,
    });
    try {
      if (info.dataType === 'schema') await this.carrySchema(r, catalog);
      await this.carryRecords(r, catalog, opts);
      this.planSideFiles(r, opts);
      await this.carryKeys(r, catalog, opts, created.api_key);
      await this.carryConnections(r, target, dir);
      if (changed()) {
        await catalog.drop(r.name);
        return refuse(r, busy);
      }
      r.status = 'migrated';
    } catch (err) {
      await catalog.drop(r.name).catch(() => undefined);
      throw err;
    }
  }

  private async carryRecords(r: StoreReport, catalog: StoreCatalog, opts: MigrateOptions): Promise<void> {
    const sink = catalog.sinkOf(r.name);
    const reader = new GoStoreReader(this.source.storeDir(r.name));
    const expected = Math.max(1, r.records);
    let records = 0;
    let bytes = 0;
    let outOfOrder = 0;
    const rejected = new Map<string, number>();
    try {
      let batch: SinkRecord[] = [];
      let batchBytes = 0;
      let last: bigint | undefined;
      const inFlight: Promise<void>[] = [];
      const write = async (sent: SinkRecord[]): Promise<void> => {
        const results = await sink.write(r.name, sent);
        results.forEach((res, i) => {
          if (res.ok) {
            records++;
            bytes += sent[i].data.length;
          } else rejected.set(res.message, (rejected.get(res.message) ?? 0) + 1);
        });
        opts.onProgress?.(r.name, Math.min(1, records / expected), records);
      };
      const flush = async (): Promise<void> => {
        if (batch.length > 0) {
          const sent = write(batch);
          sent.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
          inFlight.push(sent);
        }
        batch = [];
        batchBytes = 0;
        while (inFlight.length >= IN_FLIGHT) await inFlight.shift();
      };
      for (const rec of reader.records()) {
        if (rec.timestamp <= 0n || (last !== undefined && rec.timestamp <= last)) {
          outOfOrder++;
          continue;
        }
        last = rec.timestamp;
        batch.push({ timestamp: rec.timestamp, data: rec.data });
        batchBytes += rec.data.length;
        if (batch.length >= BATCH_RECORDS || batchBytes >= BATCH_BYTES) await flush();
      }
      await flush();
      while (inFlight.length) await inFlight.shift();
      r.records = records;
      r.bytes = bytes;
      this.collectLosses(r, reader, outOfOrder);
      for (const [message, n] of rejected) r.skipped.push({ reason: `${n} record(s) refused by the tsstore store: ${message}`, records: n });
      const stats = await sink.stats(r.name);
      if (stats.records < records) {
        r.skipped.push({
          reason: `${records - stats.records} record(s) overwritten in the tsstore ring after writing (the computed geometry was too small)`,
          records: records - stats.records,
        });
      }
    } finally {
      reader.close();
    }
  }

  private async carrySchema(r: StoreReport, catalog: StoreCatalog): Promise<void> {
    const plan = schemaPlan(this.source.storeDir(r.name));
    const service = new SchemaService(catalog);
    for (const fields of plan.versions) await service.set(r.name, { fields });
    r.schemaVersions = plan.versions.length;
  }

  private async carryKeys(r: StoreReport, catalog: StoreCatalog, opts: MigrateOptions, newKey: string): Promise<void> {
    const keys = this.source.keysFor(r.name, opts.widenKeys ?? false);
    if (keys.keys.length === 0) {
      r.newKey = newKey;
      return;
    }
    const records: KeyRecord[] = keys.keys.map((k) => ({ key_id: k.id, hash: k.hash, created_at: k.createdAt, format: 'ts-store' }));
    await catalog.replaceKeys(r.name, records);
  }

  private async carryConnections(r: StoreReport, target: MigrationTarget, dir: string): Promise<void> {
    const list: PersistedConnection[] = [];
    for (const c of readGoConnections(dir)) {
      if (connectionProblem(c.mode, c.url)) continue;
      list.push({
        id: c.id,
        mode: 'pull',
        url: c.url,
        format: c.format === 'compact' ? 'compact' : 'full',
        headers: Object.fromEntries(Object.entries(c.headers).filter(([, v]) => typeof v === 'string')),
        created_at: c.created_at,
      });
    }
    if (list.length === 0) return;
    const pipeline = target.catalog.pipelineOf(r.name) ?? '';
    if (!target.pullPipelines.has(pipeline)) {
      r.notes.push(`pipeline ${pipeline} has no ws_pull input: the ${list.length} pull connection(s) are saved but run only once one is configured`);
    }
    await writeFileAtomic(connectionsFile(target.catalog.dataDir, r.name), renderConnections(list), 0o600);
  }
}

function refuse(r: StoreReport, reason: string): void {
  r.status = 'refused';
  r.reason = reason;
}

function fail(r: StoreReport, err: unknown): void {
  r.status = 'failed';
  r.reason = err instanceof GoStoreError || err instanceof TssError ? err.message : String((err as Error)?.message ?? err);
}

/** Why a reference connection is not carried over, or undefined when it is. */
function connectionProblem(mode: string, url: string): string | undefined {
  if (mode === 'push')
    return 'push connections (tsstore sending records out) are not carried by migrate; recreate it with POST /api/stores/:store/ws/connections {"mode":"push",...} (from, format, headers, filter as before)';
  if (mode !== 'pull') return `unknown mode ${JSON.stringify(mode)}`;
  if (!/^wss?:\/\//i.test(url)) return `url ${JSON.stringify(url)} is not a ws:// or wss:// URL`;
  return undefined;
}

/**
 * A ring at least as large as the reference's, and large enough for every live record with the
 * target's own overheads. Larger block sizes only when the block count would exceed tsstore's cap.
 */
function geometryFor(info: GoStoreInfo, blocksNeeded: number): { numBlocks: number; dataBlockSize: number } {
  let dataBlockSize = Math.min(info.dataBlockSize, MAX_BLOCK_SIZE);
  let numBlocks = Math.max(info.numBlocks, Math.ceil(blocksNeeded * 1.1) + 2, 2);
  while (numBlocks > MAX_BLOCKS && dataBlockSize < MAX_BLOCK_SIZE) {
    dataBlockSize *= 2;
    numBlocks = Math.ceil(numBlocks / 2) + 1;
  }
  return { numBlocks: Math.min(numBlocks, MAX_BLOCKS), dataBlockSize };
}

/**
 * The reference's schema versions as tsstore versions. tsstore enforces append-only evolution;
 * the reference did not, so a version that dropped a field keeps it here (old records still
 * name it) and an index reused for another field keeps its newest meaning (said in the notes).
 */
export function schemaPlan(storeDir: string): { versions: SchemaField[][]; notes: string[]; problems: string[] } {
  const notes: string[] = [];
  const problems: string[] = [];
  let source;
  try {
    source = readGoSchema(storeDir);
  } catch (err) {
    return { versions: [], notes, problems: [`schema.json cannot be read (${(err as Error).message}): records stay compact, reads return field indices`] };
  }
  const versions: SchemaField[][] = [];
  let current: SchemaField[] = [];
  let collapsed = false;
  for (const v of source) {
    const byIndex = new Map<number, unknown>(current.map((f) => [f.index, f]));
    for (const f of v.fields) byIndex.set(f.index, { index: f.index, name: f.name, type: f.type });
    let merged: SchemaField[];
    try {
      merged = parseSchemaBody({ fields: [...byIndex.values()] }).sort((a, b) => a.index - b.index);
    } catch (err) {
      problems.push(`schema version ${v.version} is not valid in tsstore (${(err as Error).message}) and was left out`);
      continue;
    }
    try {
      if (versions.length > 0) checkEvolution({ version: versions.length, fields: versions[versions.length - 1] }, merged);
    } catch (err) {
      problems.push(
        `schema version ${v.version} cannot follow the earlier ones in tsstore (${(err as Error).message}); the versions are merged into one with the newest meaning of each field index`,
      );
      collapsed = true;
    }
    const dropped = current.filter((f) => !v.fields.some((g) => g.index === f.index));
    if (dropped.length)
      notes.push(
        `schema version ${v.version} dropped ${dropped.map((f) => `"${f.name}"`).join(', ')}; tsstore schemas only grow, so ${dropped.length === 1 ? 'it stays' : 'they stay'} in the schema`,
      );
    const prev = versions[versions.length - 1];
    current = merged;
    if (!prev || prev.length !== merged.length || prev.some((f, i) => f.index !== merged[i].index || f.name !== merged[i].name || f.type !== merged[i].type))
      versions.push(merged);
  }
  if (collapsed) return { versions: current.length ? [current] : [], notes, problems };
  return { versions, notes, problems };
}
