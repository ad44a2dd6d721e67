/**
 * A simulated disk for tests: a `BlockFileIO` kept in memory that can lose power.
 *
 * What it models (harsher than a real disk, never kinder):
 * - The process sees the page cache: reads return everything written so far.
 * - `sync`/`datasync` of a file make its content and size durable. Directory entries (create,
 *   rename, remove) become durable at the next `syncDir`; until then they sit in an ordered
 *   journal of which a cut keeps a random prefix.
 * - A power cut keeps the durable state plus, for every 512-byte sector written since the file's
 *   last sync, a random one of: the durable content or the content after any one of the writes
 *   that touched it. So an unsynced write may be torn at any sector boundary, and unsynced writes
 *   may land in any order (an older write may even win over a newer one in the same sector).
 *   A file that grew without a sync keeps a random size between its durable and its current one.
 * - The cut strikes at a chosen mutating operation (write, sync, datasync, rename, remove,
 *   syncDir, open for creation). A write struck by the cut is issued (it may be torn onto the
 *   disk) but fails; everything after the cut fails with EIO, as if the process had died.
 * - `powerCycle()` computes the disk after the cut and boots it: handles opened before are dead
 *   for good, and a new `io` sees only what survived.
 */
import type { BlockFileHandle, BlockFileIO, OpenMode } from './io.js';

export const SECTOR_SIZE = 512;

interface SectorVersion {
  readonly bytes: Buffer;
  /** The file size right after the write that left this version. */
  readonly size: number;
}

class Inode {
  data = Buffer.alloc(0);
  size = 0;
  durable = Buffer.alloc(0);
  durableSize = 0;
  /** Sector index → versions written since the last sync, oldest first. */
  versions = new Map<number, SectorVersion[]>();

  write(buf: Buffer, offset: number, length: number, position: number): void {
    const end = position + length;
    if (end > this.data.length) {
      const grown = Buffer.alloc(Math.max(end, this.data.length * 2));
      this.data.copy(grown, 0, 0, this.size);
      this.data = grown;
    }
    buf.copy(this.data, position, offset, offset + length);
    if (end > this.size) this.size = end;
    for (let s = Math.floor(position / SECTOR_SIZE); s * SECTOR_SIZE < end; s++) {
      const bytes = Buffer.alloc(SECTOR_SIZE);
      this.data.copy(bytes, 0, s * SECTOR_SIZE, Math.min(this.size, (s + 1) * SECTOR_SIZE));
      let list = this.versions.get(s);
      if (!list) this.versions.set(s, (list = []));
      list.push({ bytes, size: this.size });
    }
  }

  sync(): void {
    this.durable = Buffer.from(this.data.subarray(0, this.size));
    this.durableSize = this.size;
    this.versions.clear();
  }

  /** The content this file has after a power cut: durable bytes plus a random version of each unsynced sector. */
  afterCut(rnd: () => number): void {
    let size = this.durableSize;
    const image = Buffer.alloc(Math.max(this.durableSize, this.size));
    this.durable.copy(image, 0, 0, this.durableSize);
    const sectors = [...this.versions.keys()];
    for (const s of sectors) {
      const list = this.versions.get(s) as SectorVersion[];
      const pick = Math.floor(rnd() * (list.length + 1));
      if (pick === 0) continue;
      const v = list[pick - 1];
      v.bytes.copy(image, s * SECTOR_SIZE, 0, Math.max(0, Math.min(SECTOR_SIZE, image.length - s * SECTOR_SIZE)));
      size = Math.max(size, Math.min(v.size, (s + 1) * SECTOR_SIZE));
    }
    if (this.size > this.durableSize && rnd() < 0.5) size = Math.max(size, this.durableSize + Math.floor(rnd() * (this.size - this.durableSize + 1)));
    // Bytes past the durable size that no surviving sector covers read as zeros (image is zeroed).
    this.data = image;
    this.size = Math.min(size, image.length);
    this.sync();
  }
}

type NameOp = (names: Map<string, Inode>) => void;

function errno(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  err.code = code;
  return err;
}

export interface PowerLossCounters {
  /** Mutating operations since the disk was made (writes, syncs, renames, removes, creations). */
  ops: number;
  writes: number;
  syncs: number;
  cuts: number;
}

export class PowerLossDisk {
  private names = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private journal: NameOp[] = [];
  private boot = 0;
  private dead = false;
  private cutAt = Infinity;
  private onCut: (() => void) | undefined;
  readonly counters: PowerLossCounters = { ops: 0, writes: 0, syncs: 0, cuts: 0 };

  /** @param rnd the source of every random choice (seeded by the test, so a failure replays). */
  constructor(private readonly rnd: () => number) {}

  /** Whether power was cut (and the disk not yet power-cycled). */
  get isCut(): boolean {
    return this.dead;
  }

  /**
   * Cuts the power at the `n`-th mutating operation from now (1 = the next one). `onCut` runs
   * synchronously at that moment, before the operation's caller hears anything.
   */
  armCut(n: number, onCut?: () => void): void {
    this.cutAt = this.counters.ops + Math.max(1, n);
    this.onCut = onCut;
  }

  /** Cuts the power now (if not cut already). */
  cutNow(): void {
    if (this.dead) return;
    this.dead = true;
    this.counters.cuts++;
    this.cutAt = Infinity;
    const cb = this.onCut;
    this.onCut = undefined;
    cb?.();
  }

  /** After a cut: what survived becomes the disk, and a new boot starts (old handles stay dead). */
  powerCycle(): void {
    this.cutNow();
    const kept = Math.floor(this.rnd() * (this.journal.length + 1));
    const names = new Map(this.durableNames);
    for (const op of this.journal.slice(0, kept)) op(names);
    const inodes = new Set([...names.values(), ...this.names.values()]);
    for (const inode of inodes) inode.afterCut(this.rnd);
    this.names = names;
    this.durableNames = new Map(names);
    this.journal = [];
    this.boot++;
    this.dead = false;
  }

  /** The file names on the disk now (as the running process sees them). */
  files(): string[] {
    return [...this.names.keys()].sort();
  }

  /** A file's bytes as the running process sees them (tests aim damage with it). */
  read(file: string): Buffer | undefined {
    const inode = this.names.get(file);
    return inode ? Buffer.from(inode.data.subarray(0, inode.size)) : undefined;
  }

  private alive(boot: number): void {
    if (this.dead || boot !== this.boot) throw errno('EIO', 'simulated power loss');
  }

  /** Counts one mutating operation; the armed one cuts the power. Returns whether it was struck. */
  private mutate(boot: number): boolean {
    this.alive(boot);
    this.counters.ops++;
    if (this.counters.ops >= this.cutAt) {
      this.cutNow();
      return true;
    }
    return false;
  }

  /** An operation that does nothing when the cut strikes it. */
  private strike(boot: number): void {
    if (this.mutate(boot)) throw errno('EIO', 'simulated power loss');
  }

  private lookup(file: string): Inode {
    const inode = this.names.get(file);
    if (!inode) throw errno('ENOENT', `no such file: ${file}`);
    return inode;
  }

  private nameOp(op: NameOp): void {
    op(this.names);
    this.journal.push(op);
  }

  /** The `BlockFileIO` of the current boot. */
  io(): BlockFileIO {
    const boot = this.boot;
    const handle = (inode: Inode, writable: boolean): BlockFileHandle => {
      let closed = false;
      const check = (): void => {
        this.alive(boot);
        if (closed) throw errno('EBADF', 'file handle closed');
      };
      return {
        read: async (buf, offset, length, position) => {
          check();
          const n = Math.max(0, Math.min(length, inode.size - position));
          inode.data.copy(buf, offset, position, position + n);
          return n;
        },
        write: async (buf, offset, length, position) => {
          check();
          if (!writable) throw errno('EBADF', 'file opened read-only');
          this.counters.writes++;
          const struck = this.mutate(boot);
          inode.write(buf, offset, length, position);
          if (struck) throw errno('EIO', 'simulated power loss during write');
        },
        sync: async () => {
          check();
          this.strike(boot);
          this.counters.syncs++;
          inode.sync();
        },
        datasync: async () => {
          check();
          this.strike(boot);
          this.counters.syncs++;
          inode.sync();
        },
        close: async () => {
          closed = true;
        },
      };
    };
    return {
      open: async (file: string, mode: OpenMode) => {
        this.alive(boot);
        if (mode !== 'create') return handle(this.lookup(file), mode === 'update');
        this.strike(boot);
        const inode = new Inode();
        this.nameOp((names) => names.set(file, inode));
        return handle(inode, true);
      },
      size: async (file) => {
        this.alive(boot);
        return this.lookup(file).size;
      },
      readFile: async (file) => {
        this.alive(boot);
        const inode = this.lookup(file);
        return Buffer.from(inode.data.subarray(0, inode.size));
      },
      rename: async (from, to) => {
        this.strike(boot);
        const inode = this.lookup(from);
        this.nameOp((names) => {
          names.set(to, inode);
          if (names.get(from) === inode) names.delete(from);
        });
      },
      remove: async (file) => {
        this.strike(boot);
        const inode = this.names.get(file);
        if (inode)
          this.nameOp((names) => {
            if (names.get(file) === inode) names.delete(file);
          });
      },
      syncDir: async () => {
        this.strike(boot);
        this.counters.syncs++;
        // Journaled file systems commit directory operations in order: syncing one directory
        // makes every earlier one durable (the test stores live in one directory each anyway).
        for (const op of this.journal) op(this.durableNames);
        this.journal = [];
      },
    };
  }
}
