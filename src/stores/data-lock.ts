/**
 * One process owns a data path at a time.
 *
 * The lock is a listening Unix socket held by the owning process. The kernel closes it when the
 * process ends, however it ends (kill -9 included), so a lock can never outlive its owner and
 * nothing has to judge whether an old owner is still alive: no PID is checked (PIDs are recycled,
 * and a killed server's zombie keeps its PID until reaped). "Is the data path owned?" is answered
 * by connecting to the socket: it accepts while the owner lives and refuses once it is gone.
 *
 *  - Linux: the socket is bound in the abstract namespace under a name made of the data
 *    directory's device and inode numbers (`tsstore-lock-<dev>-<ino>`). Binding is atomic
 *    (EADDRINUSE when held), every path that reaches the directory (symlinks, bind mounts) maps to
 *    the same lock, and no socket file exists to go stale. Abstract names are scoped to a network
 *    namespace: two containers that share a data volume but not a network namespace do not see
 *    each other's lock — give each server its own data path (as for any other database).
 *  - Elsewhere: a socket file `<data>/tsstore.lock.sock`. A file whose owner died refuses
 *    connections; it is removed and bound again.
 *
 * Why not flock(2): Node has no flock, and the packages that add it need a C compiler at install
 * time (or ship prebuilt binaries for some platforms only); tsstore installs with plain `npm ci`
 * on any edge device. A socket gives the same guarantee — held exactly as long as the process —
 * without native code.
 *
 * `<data>/tsstore.lock` (JSON) describes the owner: pid, host, role and, for a server, the URL
 * where its API answers. It is information only, written after the lock is taken and removed at
 * release: CLI commands read it to reach a running server, and only while the socket answers.
 */
import fs from 'node:fs';
import net from 'node:net';
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

/** The owner description file (information for CLI commands; not the lock itself). */
export function lockPath(dataDir: string): string {
  return path.join(dataDir, 'tsstore.lock');
}

/** Where the lock socket is bound (see the header). Requires the directory to exist. */
export function lockAddress(dataDir: string): string {
  if (process.platform === 'linux') {
    const st = fs.statSync(dataDir, { bigint: true });
    return `\0tsstore-lock-${st.dev}-${st.ino}`;
  }
  return path.join(dataDir, 'tsstore.lock.sock');
}

function readOwnerFile(dataDir: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(fs.readFileSync(lockPath(dataDir), 'utf8')) as LockOwner;
    return typeof owner === 'object' && owner !== null && typeof owner.pid === 'number' ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** Resolves true when a process holds the lock socket at `address`. */
function answers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(address);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The live owner of the data path, or undefined when nobody holds its lock. */
export async function readLiveOwner(dataDir: string): Promise<LockOwner | undefined> {
  let address: string;
  try {
    address = lockAddress(dataDir);
  } catch {
    return undefined; // no data directory: nobody owns it
  }
  if (!(await answers(address))) return undefined;
  // Held: the description may lag (being written) or be gone (removed by hand); say what we know.
  return readOwnerFile(dataDir) ?? { pid: 0, hostname: os.hostname(), started_at: '', role: 'unknown process' };
}

function listen(server: net.Server, address: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => resolve(err);
    server.once('error', onError);
    server.listen(address, () => {
      server.off('error', onError);
      resolve(undefined);
    });
  });
}

export class DataLock {
  private released = false;
  private constructor(
    readonly dataDir: string,
    private owner: LockOwner,
    private readonly server: net.Server,
  ) {}

  /** Take the lock or throw TSS_ERR_STORE_LOCKED naming the owner. */
  static async acquire(dataDir: string, role: string): Promise<DataLock> {
    fs.mkdirSync(dataDir, { recursive: true });
    const address = lockAddress(dataDir);
    const isFile = !address.startsWith('\0');
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = net.createServer((socket) => socket.destroy());
      const err = await listen(server, address);
      if (!err) {
        server.unref(); // the lock never keeps the process alive
        const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), started_at: new Date().toISOString(), role };
        const lock = new DataLock(dataDir, owner, server);
        lock.writeOwner();
        return lock;
      }
      server.close();
      if (err.code !== 'EADDRINUSE') throw err;
      if (await answers(address)) {
        throw lockedError(dataDir, readOwnerFile(dataDir) ?? { pid: 0, hostname: os.hostname(), started_at: '', role: 'unknown process' });
      }
      // Only a socket file can be left behind (its owner died): remove it and bind again.
      if (isFile) fs.rmSync(address, { force: true });
    }
    throw new TssError('TSS_ERR_STORE_LOCKED', `could not take the lock on data path ${dataDir}`);
  }

  private writeOwner(): void {
    const tmp = `${lockPath(this.dataDir)}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.owner) + '\n', { mode: 0o644 });
    fs.renameSync(tmp, lockPath(this.dataDir));
  }

  /** Record the server URL so CLI commands can reach it. */
  advertise(url: string): void {
    this.owner = { ...this.owner, url };
    this.writeOwner();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const cur = readOwnerFile(this.dataDir);
    if (cur && cur.pid === this.owner.pid && cur.started_at === this.owner.started_at) fs.rmSync(lockPath(this.dataDir), { force: true });
    this.server.close();
  }
}

function lockedError(dataDir: string, owner: LockOwner): TssError {
  const who = owner.pid > 0 ? `pid ${owner.pid}` : 'owner unknown';
  const what = owner.role === 'server' ? `a running tsstore server (${who}${owner.url ? `, ${owner.url}` : ''})` : `tsstore ${owner.role} (${who})`;
  return new TssError('TSS_ERR_STORE_LOCKED', `data path ${dataDir} is in use by ${what}; stop it or run the command against it`);
}
