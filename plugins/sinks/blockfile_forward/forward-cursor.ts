/**
 * `<store dir>/forward-cursor.json`: the timestamp of the newest record JetStream acknowledged
 * (everything up to it was forwarded) and the count of records the ring overwrote before they
 * could be forwarded. Written atomically once per batch, never per record.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from 'tsstore/plugin';

export const CURSOR_FILE = 'forward-cursor.json';

export interface ForwardCursor {
  /** Newest forwarded timestamp; undefined when nothing was forwarded since creation or reset. */
  readonly cursor: bigint | undefined;
  /** A stream sequence below every message of this store newer than the cursor (where reconciliation reads from). */
  readonly seq?: number;
  readonly lost: number;
}

export async function readCursor(dir: string): Promise<ForwardCursor> {
  let text: string;
  try {
    text = await fs.promises.readFile(path.join(dir, CURSOR_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { cursor: undefined, lost: 0 };
    throw err;
  }
  const j = JSON.parse(text) as { cursor?: string | null; seq?: number; lost?: number };
  const cursor = typeof j.cursor === 'string' && /^\d+$/.test(j.cursor) ? BigInt(j.cursor) : undefined;
  const seq = Number.isSafeInteger(j.seq) ? j.seq : undefined;
  return { cursor, seq, lost: Number.isSafeInteger(j.lost) ? (j.lost as number) : 0 };
}

export async function writeCursor(dir: string, c: ForwardCursor): Promise<void> {
  await writeFileAtomic(
    path.join(dir, CURSOR_FILE),
    JSON.stringify({ cursor: c.cursor === undefined ? null : c.cursor.toString(), seq: c.seq ?? null, lost: c.lost }) + '\n',
    0o644,
  );
}

export async function removeCursor(dir: string): Promise<void> {
  await fs.promises.rm(path.join(dir, CURSOR_FILE), { force: true });
}
