/**
 * Small state files for plugins (cursors, connection lists): written crash-safe — a temp file,
 * fsynced, renamed over the target, then the directory fsynced — so after a crash a reader finds
 * the old contents or the new ones, never a torn mix.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../descriptor.js';

let tmpSeq = 0;

/** The temp-file suffix writeFileAtomic uses: `<file>.tmp-<pid>-<time>-<n>`. */
export const ATOMIC_TMP = /\.tmp-\d+-[0-9a-z]+(-\d+)?$/;

/**
 * Writes `data` to `file` atomically (temp file, fsync, rename, directory fsync). On any failure
 * (ENOSPC, EFBIG, EIO, …) the temp file is removed before the error is thrown: a full disk leaves
 * the old file and nothing else.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now().toString(36)}-${tmpSeq++}`;
  try {
    const fh = await fs.promises.open(tmp, 'w', mode);
    try {
      await fh.writeFile(data);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(file));
}

/**
 * Removes what writeFileAtomic left in `dir` when its process died mid-write (kill -9, power
 * loss): files ending in its temp suffix. Call it before using the directory, while no write to
 * it can be in flight (e.g. at start, holding the data-path lock). Returns the names removed.
 */
export async function removeAtomicLeftovers(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
  const gone = names.filter((n) => ATOMIC_TMP.test(n));
  for (const n of gone) await fs.promises.rm(path.join(dir, n), { force: true });
  return gone;
}

export async function syncDir(dir: string): Promise<void> {
  const dh = await fs.promises.open(dir, 'r');
  try {
    await dh.sync();
  } catch {
    /* some filesystems refuse fsync on directories */
  } finally {
    await dh.close();
  }
}

/**
 * The text of a small state file, or undefined when it does not exist (any other read error is
 * thrown). Pair it with `writeFileAtomic`: a reader sees the old file or the new one, never a mix.
 */
export async function readStateFile(file: string): Promise<string | undefined> {
  try {
    return await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** One store's saved state, as `loadStoreStateFiles` found it. */
export interface StoreState<T> {
  readonly store: string;
  readonly value: T;
}

/**
 * At start-up: reads the state file `<dataDir>/<store>/<fileName>` of every loaded store (e.g. the
 * connections a plugin keeps per store). A directory that is not a loaded store is skipped with a
 * warning; a file that cannot be read or parsed is moved aside (`<fileName>.unreadable-<ms>`) with
 * an error, and its store starts with nothing rather than the server failing to start.
 * `what` names the content in those log lines ("pull connections").
 */
export async function loadStoreStateFiles<T>(opts: {
  readonly dataDir: string;
  readonly fileName: string;
  readonly what: string;
  readonly logger: Logger;
  readonly isStore: (store: string) => boolean;
  readonly read: (file: string) => Promise<T>;
}): Promise<StoreState<T>[]> {
  const { dataDir, fileName, what, logger } = opts;
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dataDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found: StoreState<T>[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const store = entry.name;
    const file = path.join(dataDir, store, fileName);
    if (!fs.existsSync(file)) continue;
    if (!opts.isStore(store)) {
      logger.warn({ store, file }, `Skipping ${what} of a directory that is not a loaded store.`);
      continue;
    }
    try {
      found.push({ store, value: await opts.read(file) });
    } catch (err) {
      const aside = path.join(path.dirname(file), `${fileName}.unreadable-${Date.now()}`);
      await fs.promises.rename(file, aside).catch(() => undefined);
      logger.error({ store, file, movedTo: aside, err: (err as Error).message }, `Cannot read ${what}; moved the file aside and starting none for this store.`);
    }
  }
  return found;
}
