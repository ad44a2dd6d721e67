/**
 * A reference Go ts-store data directory as a whole: which stores it holds, their API keys (per
 * store `keys.json`, or the central `keys.registry.json` of newer versions), schemas and outbound
 * connections, and whether anything is still writing to it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KEYS_FILE, KEY_REGISTRY_FILE, META_FILE, SCHEMA_FILE, WS_CONNECTIONS_FILE } from './go-format.js';

/** Files of a store directory the migration understands; any other is reported as not migrated. */
export const KNOWN_STORE_FILES = new Set([META_FILE, 'data.tsdb', 'index.tsdb', KEYS_FILE, SCHEMA_FILE, WS_CONNECTIONS_FILE]);

export interface SourceKey {
  readonly id: string;
  readonly hash: string;
  readonly createdAt: string;
}

export interface SkippedItem {
  readonly id: string;
  readonly reason: string;
}

export interface StoreKeys {
  readonly keys: SourceKey[];
  readonly skipped: SkippedItem[];
  /** Where the keys came from, for the summary. */
  readonly from: string;
}

interface RegistryKey {
  id?: unknown;
  hash?: unknown;
  created_at?: unknown;
  bootstrap?: unknown;
  grants?: { stores?: unknown; access?: unknown }[];
}

const HASH = /^[0-9a-f]{64}$/;
/** What a tsstore store key may do; a reference key with less would gain rights. */
const FULL_ACCESS = ['read', 'write', 'manage'];

export class GoSource {
  private readonly registry?: RegistryKey[];
  readonly registryError?: string;

  constructor(readonly dir: string) {
    const file = path.join(dir, KEY_REGISTRY_FILE);
    try {
      const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { keys?: RegistryKey[] };
      this.registry = Array.isArray(doc.keys) ? doc.keys : [];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.registryError = `${KEY_REGISTRY_FILE} cannot be read: ${(err as Error).message}`;
    }
  }

  /** Names of the store directories (those holding a meta.tsdb), sorted. */
  storeNames(): string[] {
    return fs
      .readdirSync(this.dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && fs.existsSync(path.join(this.dir, e.name, META_FILE)))
      .map((e) => e.name)
      .sort();
  }

  storeDir(name: string): string {
    return path.join(this.dir, name);
  }

  /**
   * The keys that open `store` in the reference. With a central registry (newer versions) it is
   * authoritative: every key with a grant covering the store. Else the store's keys.json, or
   * for a linked store (a rollup target) its source store's.
   */
  keysFor(store: string, widen: boolean): StoreKeys {
    if (this.registryError) return { keys: [], skipped: [{ id: KEY_REGISTRY_FILE, reason: this.registryError }], from: KEY_REGISTRY_FILE };
    if (this.registry) return this.registryKeys(store, widen);
    return this.legacyKeys(store, new Set());
  }

  private registryKeys(store: string, widen: boolean): StoreKeys {
    const keys: SourceKey[] = [];
    const skipped: SkippedItem[] = [];
    for (const k of this.registry!) {
      const id = typeof k.id === 'string' ? k.id : '(no id)';
      const access = new Set<string>();
      for (const g of Array.isArray(k.grants) ? k.grants : []) {
        if (typeof g?.stores === 'string' && grantCovers(g.stores, store) && Array.isArray(g.access)) {
          for (const a of g.access) if (typeof a === 'string') access.add(a.toLowerCase());
        }
      }
      if (access.size === 0) continue;
      if (k.bootstrap === true) {
        skipped.push({
          id,
          reason:
            "the reference's bootstrap (admin) key: tsstore keeps the admin key in its config; set TSSTORE_ADMIN_KEY (or server.admin_key) to the same value",
        });
        continue;
      }
      if (typeof k.hash !== 'string' || !HASH.test(k.hash)) {
        skipped.push({ id, reason: 'its hash is not a SHA-256 hex digest' });
        continue;
      }
      const missing = FULL_ACCESS.filter((a) => !access.has(a));
      if (missing.length && !widen) {
        skipped.push({
          id,
          reason: `it has only ${[...access].sort().join(', ')} access here and tsstore store keys carry full access; --widen-keys migrates it anyway`,
        });
        continue;
      }
      keys.push({ id, hash: k.hash, createdAt: typeof k.created_at === 'string' ? k.created_at : new Date().toISOString() });
    }
    return { keys, skipped, from: KEY_REGISTRY_FILE };
  }

  private legacyKeys(store: string, seen: Set<string>): StoreKeys {
    const file = path.join(this.dir, store, KEYS_FILE);
    let doc: { linked_source?: unknown; keys?: { id?: unknown; hash?: unknown; created_at?: unknown }[] };
    try {
      doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { keys: [], skipped: [], from: KEYS_FILE };
      return { keys: [], skipped: [{ id: KEYS_FILE, reason: `${KEYS_FILE} cannot be read: ${(err as Error).message}` }], from: KEYS_FILE };
    }
    if (typeof doc.linked_source === 'string' && doc.linked_source !== '' && !seen.has(doc.linked_source)) {
      seen.add(store);
      const linked = this.legacyKeys(doc.linked_source, seen);
      return { ...linked, from: `${doc.linked_source}/${KEYS_FILE} (linked store)` };
    }
    const keys: SourceKey[] = [];
    const skipped: SkippedItem[] = [];
    for (const k of Array.isArray(doc.keys) ? doc.keys : []) {
      const id = typeof k.id === 'string' ? k.id : '(no id)';
      if (typeof k.hash !== 'string' || !HASH.test(k.hash)) {
        skipped.push({ id, reason: 'its hash is not a SHA-256 hex digest' });
        continue;
      }
      keys.push({ id, hash: k.hash, createdAt: typeof k.created_at === 'string' ? k.created_at : new Date().toISOString() });
    }
    return { keys, skipped, from: KEYS_FILE };
  }
}

function grantCovers(pattern: string, store: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return store.startsWith(pattern.slice(0, -1));
  return pattern === store;
}

export interface GoSchemaVersion {
  readonly version: number;
  readonly fields: { index: number; name: string; type: string }[];
}

/** The store's schema versions, oldest first; [] when it has none. Throws on a broken file. */
export function readGoSchema(storeDir: string): GoSchemaVersion[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(storeDir, SCHEMA_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const doc = JSON.parse(text) as { schemas?: Record<string, { version?: number; fields?: unknown }> };
  if (!doc.schemas || typeof doc.schemas !== 'object') throw new Error(`${SCHEMA_FILE} has no "schemas"`);
  return Object.entries(doc.schemas)
    .map(([v, s]) => ({ version: Number(s?.version ?? v), fields: Array.isArray(s?.fields) ? (s.fields as GoSchemaVersion['fields']) : [] }))
    .sort((a, b) => a.version - b.version);
}

export interface GoConnectionEntry {
  readonly id: string;
  readonly mode: string;
  readonly url: string;
  readonly format: string;
  readonly headers: Record<string, string>;
  readonly created_at: string;
  /** Options of the reference connection that have no tsstore counterpart (filter, agg_*, rules, ...). */
  readonly unsupported: string[];
}

const PULL_FIELDS = new Set(['id', 'mode', 'url', 'from', 'format', 'headers', 'created_at']);

/** The store's outbound WebSocket connections; [] when it has none. Throws on a broken file. */
export function readGoConnections(storeDir: string): GoConnectionEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(storeDir, WS_CONNECTIONS_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const doc = JSON.parse(text) as { connections?: Record<string, unknown>[] };
  return (Array.isArray(doc.connections) ? doc.connections : []).map((c, i) => ({
    id: typeof c.id === 'string' ? c.id : `connection-${i}`,
    mode: String(c.mode ?? ''),
    url: String(c.url ?? ''),
    format: typeof c.format === 'string' ? c.format : '',
    headers: c.headers && typeof c.headers === 'object' ? (c.headers as Record<string, string>) : {},
    created_at: typeof c.created_at === 'string' ? c.created_at : new Date().toISOString(),
    unsupported: Object.keys(c).filter(
      (k) =>
        !PULL_FIELDS.has(k) &&
        c[k] !== undefined &&
        c[k] !== null &&
        c[k] !== '' &&
        c[k] !== false &&
        !(Array.isArray(c[k]) && (c[k] as unknown[]).length === 0),
    ),
  }));
}

/** Size, modification time and inode of every file under `dir`: equal before and after a read means nothing wrote meanwhile. */
export function fileStates(dir: string): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        walk(p);
        continue;
      }
      try {
        const s = fs.statSync(p, { bigint: true });
        out.push(`${path.relative(dir, p)}:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`);
      } catch {
        out.push(`${path.relative(dir, p)}:gone`);
      }
    }
  };
  walk(dir);
  return out.sort().join('\n');
}

export interface OpenHandle {
  readonly pid: number;
  readonly command: string;
  readonly file: string;
}

/**
 * Processes (other than this one) holding a file under `dir` open, from /proc. A running
 * reference server keeps its stores' files open. Empty where /proc is not readable.
 */
export function openHandles(dir: string): OpenHandle[] {
  const root = fs.realpathSync(dir) + path.sep;
  const found: OpenHandle[] = [];
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  } catch {
    return found;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target.startsWith(root)) {
        let command = '?';
        try {
          command = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          /* gone */
        }
        found.push({ pid: Number(pid), command, file: target });
        break;
      }
    }
  }
  return found;
}
