/**
 * `<dataDir>/<store>/connections.json`: every pull connection of a store with its resume cursor.
 * Mode 0600 (headers hold secrets), replaced atomically. Cursor updates are coalesced: at most
 * one write per `intervalMs`, and never two writes at once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Logger, parseJsonExact, type SchemaFormat, SerialQueue, stringifyExact, writeFileAtomic } from 'tsstore/plugin';

export const CONNECTIONS_FILE = 'connections.json';

export interface ConnectionConfig {
  readonly id: string;
  readonly mode: 'pull';
  readonly url: string;
  readonly format: SchemaFormat;
  readonly headers: Readonly<Record<string, string>>;
  readonly created_at: string;
}

export interface PersistedConnection extends ConnectionConfig {
  /** The remote's newest timestamp that is settled in the store: offered on redial, dedupe bound. */
  readonly cursor?: bigint;
  /** The newest timestamp this connection stored (server-assigned ones included). */
  readonly last_timestamp?: bigint;
}

export function connectionsFile(dataDir: string, store: string): string {
  return path.join(dataDir, store, CONNECTIONS_FILE);
}

function toBigint(v: unknown, what: string): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  throw new Error(`${what} is not an integer`);
}

function checkEntry(e: unknown, i: number): PersistedConnection {
  const o = e as Record<string, unknown>;
  const at = `connections[${i}]`;
  if (!o || typeof o !== 'object') throw new Error(`${at} is not an object`);
  for (const k of ['id', 'url', 'created_at'] as const) if (typeof o[k] !== 'string') throw new Error(`${at}.${k} is not a string`);
  if (o.mode !== 'pull') throw new Error(`${at}.mode is not "pull"`);
  if (o.format !== 'full' && o.format !== 'compact') throw new Error(`${at}.format is not full or compact`);
  const headers = (o.headers ?? {}) as Record<string, unknown>;
  if (typeof headers !== 'object' || Object.values(headers).some((v) => typeof v !== 'string')) throw new Error(`${at}.headers is not an object of strings`);
  return {
    id: o.id as string,
    mode: 'pull',
    url: o.url as string,
    format: o.format,
    headers: headers as Record<string, string>,
    created_at: o.created_at as string,
    cursor: toBigint(o.cursor, `${at}.cursor`),
    last_timestamp: toBigint(o.last_timestamp, `${at}.last_timestamp`),
  };
}

/** The store's connections, or [] when it has none. Throws with the reason when the file is unusable. */
export async function readConnections(file: string): Promise<PersistedConnection[]> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const doc = parseJsonExact(text) as { connections?: unknown };
  if (!doc || !Array.isArray(doc.connections)) throw new Error('no "connections" array');
  return doc.connections.map(checkEntry);
}

export function renderConnections(list: readonly PersistedConnection[]): string {
  return stringifyExact({ version: 1, connections: list.map((c) => ({ ...c, cursor: c.cursor ?? null, last_timestamp: c.last_timestamp ?? null })) }, 2) + '\n';
}

/** Writes one store's file from a snapshot function; serialised and coalesced. */
export class ConnectionFileWriter {
  private timer?: NodeJS.Timeout;
  private readonly writes = new SerialQueue();
  private dirty = false;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => PersistedConnection[],
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  /** A cursor moved: write within `intervalMs`. */
  schedule(): void {
    if (this.closed) return;
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined);
    }, this.intervalMs);
  }

  /** Write now (after any write in progress); resolves when the file is on disk. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.dirty = true;
    return this.writes.run(() => this.writeIfDirty());
  }

  /** No writes after this one (the store is gone or the input stopped). */
  close(): void {
    this.closed = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private async writeIfDirty(): Promise<void> {
    if (!this.dirty || this.closed) return;
    this.dirty = false;
    try {
      await writeFileAtomic(this.file, renderConnections(this.snapshot()), 0o600);
    } catch (err) {
      this.logger.error({ file: this.file, err: (err as Error).message }, 'Could not save pull connections; the next change retries.');
      throw err;
    }
  }
}
