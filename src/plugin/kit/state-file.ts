/**
 * Small state files for plugins (cursors, connection lists): written crash-safe — a temp file,
 * fsynced, renamed over the target, then the directory fsynced — so after a crash a reader finds
 * the old contents or the new ones, never a torn mix.
 */
import fs from 'node:fs';
import path from 'node:path';

export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const fh = await fs.promises.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(file));
}

export async function syncDir(dir: string): Promise<void> {
  const dh = await fs.promises.open(dir, 'r');
  try { await dh.sync(); } catch { /* some filesystems refuse fsync on directories */ } finally { await dh.close(); }
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
