/**
 * A closed store's figures, so listings, stats and /metrics answer without opening its data.
 *
 * `summary.json` in the store directory holds the sink's stats as they were when the catalog
 * closed the store (LRU eviction or shutdown): written atomically after the sink's closeStore
 * resolved, so it describes data that no longer changes. Opening the store removes it (and
 * syncs the directory) before the sink attaches the store, so a summary on disk always means
 * "closed since": after kill -9 or power loss there is no summary for a store that was open, and
 * its stats open the store to answer (/metrics reports such a store as unknown instead of opening
 * it). A summary that cannot be read or parsed counts as absent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { syncDir, writeFileAtomic } from '../plugin/kit/state-file.js';
import type { SinkStoreStats } from '../plugin/sink.js';

export const SUMMARY_FILE = 'summary.json';
const FORMAT = 1;
/** The callback-based readFile: half the cost of fs.promises.readFile per small file (a first scrape reads thousands). */
const readFile = promisify(fs.readFile);

function summaryPath(storeDir: string): string {
  return path.join(storeDir, SUMMARY_FILE);
}

export async function writeSummary(storeDir: string, stats: SinkStoreStats): Promise<void> {
  const doc = {
    format: FORMAT,
    closed_at: new Date().toISOString(),
    stats: { ...stats, oldest: stats.oldest?.toString(), newest: stats.newest?.toString() },
  };
  await writeFileAtomic(summaryPath(storeDir), JSON.stringify(doc) + '\n', 0o644);
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const optional = (v: unknown): boolean => v === undefined || finite(v);
const timestamp = (v: unknown): bigint | undefined => (typeof v === 'string' && /^-?\d+$/.test(v) ? BigInt(v) : undefined);

/** The summary, or undefined when there is none (or it is unreadable). */
export async function readSummary(storeDir: string): Promise<SinkStoreStats | undefined> {
  let doc: { format?: unknown; stats?: Record<string, unknown> };
  try {
    doc = JSON.parse(await readFile(summaryPath(storeDir), 'utf8')) as typeof doc;
  } catch {
    return undefined;
  }
  const s = doc?.stats;
  if (doc.format !== FORMAT || typeof s !== 'object' || s === null || !finite(s.records) || !finite(s.bytes)) return undefined;
  if (![s.capacityBytes, s.usedBlocks, s.numBlocks, s.fill].every(optional)) return undefined;
  const oldest = timestamp(s.oldest);
  const newest = timestamp(s.newest);
  if ((s.oldest !== undefined && oldest === undefined) || (s.newest !== undefined && newest === undefined)) return undefined;
  const extra =
    typeof s.extra === 'object' && s.extra !== null
      ? (Object.fromEntries(Object.entries(s.extra).filter(([, v]) => typeof v === 'number' || typeof v === 'string')) as Record<string, number | string>)
      : undefined;
  return {
    records: s.records,
    bytes: s.bytes,
    oldest,
    newest,
    ...(s.capacityBytes !== undefined ? { capacityBytes: s.capacityBytes as number } : {}),
    ...(s.usedBlocks !== undefined ? { usedBlocks: s.usedBlocks as number } : {}),
    ...(s.numBlocks !== undefined ? { numBlocks: s.numBlocks as number } : {}),
    ...(s.fill !== undefined ? { fill: s.fill as number } : {}),
    ...(extra ? { extra } : {}),
  };
}

/** Removes the summary before the store opens; durable (directory synced) when there was one. */
export async function invalidateSummary(storeDir: string): Promise<void> {
  try {
    await fs.promises.unlink(summaryPath(storeDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await syncDir(storeDir);
}
