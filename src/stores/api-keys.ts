/**
 * API keys: `tsstore_<uuid v4>`, key id = the first 8 hex digits. Only SHA-256 hashes are kept
 * (keys.json, mode 0600, written atomically); comparison is constant-time.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../plugin/kit/state-file.js';
import { TssError } from '../plugin/errors.js';

export const KEY_FORMAT = /^tsstore_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface KeyRecord {
  readonly key_id: string;
  readonly hash: string;
  readonly created_at: string;
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

/** Throws `API key required` / `invalid API key format`; returns the key. */
export function checkKeyFormat(presented: string | undefined): string {
  if (presented === undefined || presented === '') throw new TssError('TSS_ERR_API_KEY_REQUIRED');
  if (!KEY_FORMAT.test(presented)) throw new TssError('TSS_ERR_API_KEY_FORMAT');
  return presented;
}

/** Throws the SPEC's 401 errors; returns the matching key id. */
export function verifyKey(records: readonly KeyRecord[], presented: string | undefined): string {
  checkKeyFormat(presented);
  const digest = Buffer.from(hashKey(presented as string), 'hex');
  let match: string | undefined;
  for (const r of records) {
    const stored = Buffer.from(r.hash, 'hex');
    if (stored.length === digest.length && crypto.timingSafeEqual(stored, digest)) match = r.key_id;
  }
  if (match === undefined) throw new TssError('TSS_ERR_API_KEY_INVALID');
  return match;
}

export function keysFile(storeDir: string): string {
  return path.join(storeDir, 'keys.json');
}

export async function readKeys(storeDir: string): Promise<KeyRecord[]> {
  try {
    const doc = JSON.parse(await fs.promises.readFile(keysFile(storeDir), 'utf8')) as { keys?: KeyRecord[] };
    return Array.isArray(doc.keys) ? doc.keys : [];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function writeKeys(storeDir: string, keys: readonly KeyRecord[]): Promise<void> {
  await writeFileAtomic(keysFile(storeDir), JSON.stringify({ keys }, null, 2) + '\n', 0o600);
}
