/** File-level helpers: preallocation, atomic meta replacement, removal. */
import path from 'node:path';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { DATA_FILE, META_FILE, Meta, decodeMeta, encodeMeta } from './format.js';
import type { BlockFileHandle, BlockFileIO } from './io.js';

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
export async function zeroFill(fh: BlockFileHandle, from: number, to: number): Promise<void> {
  const zeros = Buffer.alloc(Math.min(ZERO_CHUNK, Math.max(0, to - from)));
  for (let pos = from; pos < to;) {
    const n = Math.min(zeros.length, to - pos);
    await fh.write(zeros, 0, n, pos);
    pos += n;
  }
}

/** Creates the zero-filled data file under a temporary name, then renames it into place. */
export async function createDataFile(io: BlockFileIO, dir: string, size: number): Promise<void> {
  const tmp = dataPath(dir) + '.tmp';
  try {
    const fh = await io.open(tmp, 'create');
    try {
      await zeroFill(fh, 0, size);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await io.rename(tmp, dataPath(dir));
    await io.syncDir(dir);
  } catch (err) {
    await io.remove(tmp);
    throw err;
  }
}

/** Replaces the meta file atomically (temp file, fsync, rename, fsync of the directory). */
export async function writeMeta(io: BlockFileIO, dir: string, meta: Meta): Promise<void> {
  const tmp = metaPath(dir) + '.tmp';
  try {
    const fh = await io.open(tmp, 'create');
    try {
      const bytes = encodeMeta(meta);
      await fh.write(bytes, 0, bytes.length, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await io.rename(tmp, metaPath(dir));
    await io.syncDir(dir);
  } catch (err) {
    await io.remove(tmp);
    throw err;
  }
}

/** The meta file's content; null when it is missing or unreadable. */
export async function readMeta(io: BlockFileIO, dir: string): Promise<Meta | null> {
  try {
    return decodeMeta(await io.readFile(metaPath(dir)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function fileSize(io: BlockFileIO, file: string): Promise<number | null> {
  try {
    return await io.size(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function removeStoreFiles(io: BlockFileIO, dir: string): Promise<void> {
  const ckpt = path.join(dir, CHECKPOINT_FILE);
  for (const f of [ckpt, ckpt + '.tmp', dataPath(dir), dataPath(dir) + '.tmp', metaPath(dir), metaPath(dir) + '.tmp']) {
    await io.remove(f);
  }
}
