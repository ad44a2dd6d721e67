/**
 * One process owns a data path at a time: `<data>/tsstore.lock` names the owner (pid, host, what
 * it is, and for a server the URL where its API answers). A lock whose process is gone on this
 * host is stale and taken over. CLI commands read the lock to reach a running server instead of
 * touching its files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TssError } from '../plugin/errors.js';

export interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  readonly started_at: string;
  /** `server` or the CLI command holding the lock. */
  readonly role: string;
  /** For a server: base URL of its HTTP API. */
  readonly url?: string;
}

export function lockPath(dataDir: string): string {
  return path.join(dataDir, 'tsstore.lock');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live owner of the data path, or undefined (no lock, or a stale one). */
export function readLiveOwner(dataDir: string): LockOwner | undefined {
  let owner: LockOwner;
  try {
    owner = JSON.parse(fs.readFileSync(lockPath(dataDir), 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
  if (owner.hostname !== os.hostname()) return owner; // cannot check a remote pid: assume live
  return owner.pid !== process.pid && alive(owner.pid) ? owner : undefined;
}

export class DataLock {
  private released = false;
  private constructor(readonly dataDir: string, private owner: LockOwner) {}

  /** Take the lock or throw TSS_ERR_STORE_LOCKED naming the owner. */
  static acquire(dataDir: string, role: string): DataLock {
    fs.mkdirSync(dataDir, { recursive: true });
    const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), started_at: new Date().toISOString(), role };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(lockPath(dataDir), 'wx', 0o644);
        fs.writeSync(fd, JSON.stringify(owner) + '\n');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        return new DataLock(dataDir, owner);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const live = readLiveOwner(dataDir);
        if (live) throw lockedError(dataDir, live);
        fs.rmSync(lockPath(dataDir), { force: true }); // stale: its process is gone
      }
    }
    throw new TssError('TSS_ERR_STORE_LOCKED', `could not take the lock on data path ${dataDir}`);
  }

  /** Record the server URL so CLI commands can reach it. */
  advertise(url: string): void {
    this.owner = { ...this.owner, url };
    const tmp = lockPath(this.dataDir) + '.tmp';
    fs.writeFileSync(tmp, JSON.stringify(this.owner) + '\n');
    fs.renameSync(tmp, lockPath(this.dataDir));
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      const cur = JSON.parse(fs.readFileSync(lockPath(this.dataDir), 'utf8')) as LockOwner;
      if (cur.pid === process.pid) fs.rmSync(lockPath(this.dataDir), { force: true });
    } catch { /* already gone */ }
  }
}

export function lockedError(dataDir: string, owner: LockOwner): TssError {
  const what = owner.role === 'server' ? `a running tsstore server (pid ${owner.pid}${owner.url ? `, ${owner.url}` : ''})` : `tsstore ${owner.role} (pid ${owner.pid})`;
  return new TssError('TSS_ERR_STORE_LOCKED', `data path ${dataDir} is in use by ${what}; stop it or run the command against it`);
}
