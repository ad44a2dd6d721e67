/**
 * API keys: `tsstore_<uuid v4>`, key id = the first 8 hex digits. Only SHA-256 hashes are kept
 * (keys.json, mode 0600, written atomically); comparison is constant-time.
 *
 * Keys carried over from the reference Go ts-store by `tsstore migrate` keep the reference's
 * shape: `tsstore_` and at least 36 more characters, not necessarily a UUID (the reference lets
 * operators supply their own), with the reference's key id. Their records are marked
 * `format: "ts-store"`; only a store holding such a record accepts that looser shape, and only
 * against those records. New keys are always the strict shape.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import fs from 'node:fs';
import { writeFileAtomic } from '../plugin/kit/state-file.js';
import { TssError } from '../plugin/errors.js';

export const KEY_FORMAT = /^tsstore_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The reference's own key check: the prefix and at least a UUID's length more, no whitespace. */
export const REFERENCE_KEY_FORMAT = /^tsstore_\S{36,512}$/;

export interface KeyRecord {
  readonly key_id: string;
  readonly hash: string;
  readonly created_at: string;
  /** `ts-store`: migrated from the reference; the key may have the reference's looser shape. */
  readonly format?: 'ts-store';
}

export interface NewKey {
  readonly api_key: string;
  readonly key_id: string;
}

export function generateKey(): { key: NewKey; record: KeyRecord } {
  const api_key = `tsstore_${crypto.randomUUID()}`;
  const key_id = api_key.slice(8, 16);
  return { key: { api_key, key_id }, record: { key_id, hash: hashKey(api_key), created_at: new Date().toISOString() } };
}

export function hashKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

/**
 * Throws `API key required` / `invalid API key format`; returns the key. `allowReference` lets
 * the reference's shape pass (the store's records decide later whether it may be used).
 */
export function checkKeyFormat(presented: string | undefined, allowReference = false): string {
  if (presented === undefined || presented === '') throw new TssError('TSS_ERR_API_KEY_REQUIRED');
  if (!KEY_FORMAT.test(presented) && !(allowReference && REFERENCE_KEY_FORMAT.test(presented))) throw new TssError('TSS_ERR_API_KEY_FORMAT');
  return presented;
}

/** Throws the 401 errors of docs/protocol.md ("Keys"); returns the matching key id. */
export function verifyKey(records: readonly KeyRecord[], presented: string | undefined): string {
  checkKeyFormat(presented, true);
  // A key of the reference's shape only ever matches a key migrated from the reference.
  const strict = KEY_FORMAT.test(presented as string);
  const candidates = strict ? records : records.filter((r) => r.format === 'ts-store');
  if (!strict && candidates.length === 0) throw new TssError('TSS_ERR_API_KEY_FORMAT');
  const digest = Buffer.from(hashKey(presented as string), 'hex');
  let match: string | undefined;
  for (const r of candidates) {
    const stored = Buffer.from(r.hash, 'hex');
    if (stored.length === digest.length && crypto.timingSafeEqual(stored, digest)) match = r.key_id;
  }
  if (match === undefined) throw new TssError('TSS_ERR_API_KEY_INVALID');
  return match;
}

export function keysFile(storeDir: string): string {
  return path.join(storeDir, 'keys.json');
}

/** Synchronous: the catalog reads every store's keys at start, before anything is served. */
export function readKeysSync(storeDir: string): KeyRecord[] {
  try {
    const doc = JSON.parse(fs.readFileSync(keysFile(storeDir), 'utf8')) as { keys?: KeyRecord[] };
    return Array.isArray(doc.keys) ? doc.keys : [];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function writeKeys(storeDir: string, keys: readonly KeyRecord[]): Promise<void> {
  await writeFileAtomic(keysFile(storeDir), JSON.stringify({ keys }, null, 2) + '\n', 0o600);
}
