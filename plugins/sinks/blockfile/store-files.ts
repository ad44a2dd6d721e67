/** File-level helpers: preallocation, atomic meta replacement, removal. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DATA_FILE, META_FILE, Meta, decodeMeta, encodeMeta } from './format.js';

const ZERO_CHUNK = 1 << 20;

export function dataPath(dir: string): string {
  return path.join(dir, DATA_FILE);
}

export function metaPath(dir: string): string {
  return path.join(dir, META_FILE);
}

/**
 * Writes real zeros over [from, to) so every byte of the ring is allocated now: later appends
 * overwrite allocated blocks and cannot run out of space (a sparse file or ftruncate would).
 */
export async function zeroFill(fh: fs.FileHandle, from: number, to: number): Promise<void> {
  const zeros = Buffer.alloc(Math.min(ZERO_CHUNK, Math.max(0, to - from)));
  for (let pos = from; pos < to; ) {
    const n = Math.min(zeros.length, to - pos);
    const { bytesWritten } = await fh.write(zeros, 0, n, pos);
    pos += bytesWritten;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Creates the zero-filled data file under a temporary name, then renames it into place. */
export async function createDataFile(dir: string, size: number): Promise<void> {
  const tmp = dataPath(dir) + '.tmp';
  try {
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await zeroFill(fh, 0, size);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, dataPath(dir));
    await syncDir(dir);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** Replaces the meta file atomically (temp file, fsync, rename, fsync of the directory). */
export async function writeMeta(dir: string, meta: Meta): Promise<void> {
  const tmp = metaPath(dir) + '.tmp';
  try {
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(encodeMeta(meta));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, metaPath(dir));
    await syncDir(dir);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** The meta file's content; null when it is missing or unreadable. */
export async function readMeta(dir: string): Promise<Meta | null> {
  try {
    return decodeMeta(await fs.readFile(metaPath(dir)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function fileSize(file: string): Promise<number | null> {
  try {
    return (await fs.stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function removeStoreFiles(dir: string): Promise<void> {
  for (const f of [dataPath(dir), dataPath(dir) + '.tmp', metaPath(dir), metaPath(dir) + '.tmp']) {
    await fs.rm(f, { force: true });
  }
}
