/**
 * `<dataDir>/<store>/push-connections.json`: the push connections of a store as created (mode
 * 0600: headers hold secrets), replaced atomically on every create and delete. Where each one is
 * in the store is not here: that is its delivery cursor, `<store>/outputs/push-<id>.json`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseJsonExact, stringifyExact, writeFileAtomic } from 'tsstore/plugin';
import type { PushRequest } from './push-request.js';

export const PUSH_FILE = 'push-connections.json';

export interface PushConfig extends PushRequest {
  readonly id: string;
  readonly mode: 'push';
  readonly created_at: string;
}

export function pushFile(dataDir: string, store: string): string {
  return path.join(dataDir, store, PUSH_FILE);
}

function checkEntry(e: unknown, i: number): PushConfig {
  const o = e as Record<string, unknown>;
  const at = `connections[${i}]`;
  if (!o || typeof o !== 'object') throw new Error(`${at} is not an object`);
  for (const k of ['id', 'url', 'created_at'] as const) if (typeof o[k] !== 'string') throw new Error(`${at}.${k} is not a string`);
  if (o.mode !== 'push') throw new Error(`${at}.mode is not "push"`);
  if (o.format !== 'full' && o.format !== 'compact') throw new Error(`${at}.format is not full or compact`);
  const from = typeof o.from === 'bigint' ? o.from : typeof o.from === 'number' && Number.isSafeInteger(o.from) ? BigInt(o.from) : undefined;
  if (from === undefined || from < -1n) throw new Error(`${at}.from is not a timestamp`);
  const headers = (o.headers ?? {}) as Record<string, unknown>;
  if (typeof headers !== 'object' || Object.values(headers).some((v) => typeof v !== 'string')) throw new Error(`${at}.headers is not an object of strings`);
  if (o.filter !== undefined && typeof o.filter !== 'string') throw new Error(`${at}.filter is not a string`);
  return {
    id: o.id as string,
    mode: 'push',
    url: o.url as string,
    from,
    format: o.format,
    headers: headers as Record<string, string>,
    filter: o.filter as string | undefined,
    filter_ignore_case: o.filter_ignore_case === true,
    created_at: o.created_at as string,
  };
}

/** The store's push connections, or [] when it has none. Throws with the reason when the file is unusable. */
export async function readPushConnections(file: string): Promise<PushConfig[]> {
  let text: Buffer;
  try {
    text = await fs.promises.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const doc = parseJsonExact(text) as { connections?: unknown };
  if (!doc || !Array.isArray(doc.connections)) throw new Error('no "connections" array');
  return doc.connections.map(checkEntry);
}

export async function writePushConnections(file: string, list: readonly PushConfig[]): Promise<void> {
  if (list.length === 0) {
    await fs.promises.rm(file, { force: true });
    return;
  }
  await writeFileAtomic(file, stringifyExact({ version: 1, connections: list }, 2) + '\n', 0o600);
}
