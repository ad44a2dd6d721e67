/**
 * The engine's file I/O, behind one small interface (the idea of SQLite's VFS): every byte the
 * block-file engine reads or writes, every sync and every rename goes through a `BlockFileIO`.
 * `nodeIO` is the real one (node:fs); tests plug in others, e.g. one that simulates power loss
 * (power-loss-io.ts).
 *
 * Errors keep node's shape: a missing file rejects with an Error whose `code` is 'ENOENT'.
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

/** An open file. Positions are absolute byte offsets (pread/pwrite); there is no file cursor. */
export interface BlockFileHandle {
  /** Reads up to `length` bytes at `position` into `buf[offset..]`; resolves to the bytes read (fewer only at the end of the file). */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes all `length` bytes of `buf[offset..]` at `position` (extending the file if needed). */
  write(buf: Buffer, offset: number, length: number, position: number): Promise<void>;
  /** fsync(2): data and metadata to stable storage. */
  sync(): Promise<void>;
  /** fdatasync(2): data (and the metadata needed to read it back) to stable storage. */
  datasync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How a file is opened: `read` read-only, `update` read-write of an existing file, `create`
 * write-only, created or truncated to zero with mode 0600.
 */
export type OpenMode = 'read' | 'update' | 'create';

export interface BlockFileIO {
  open(file: string, mode: OpenMode): Promise<BlockFileHandle>;
  /** Size in bytes; rejects with code ENOENT when the file does not exist. */
  size(file: string): Promise<number>;
  /** The whole content of a file; rejects with code ENOENT when it does not exist. */
  readFile(file: string): Promise<Buffer>;
  /** rename(2): atomically replaces `to`. */
  rename(from: string, to: string): Promise<void>;
  /** Deletes a file; a missing one is no error. */
  remove(file: string): Promise<void>;
  /** fsync(2) of a directory, so renames and removals in it are durable. */
  syncDir(dir: string): Promise<void>;
  /**
   * Bytes an unprivileged process may still allocate on the file system holding `dir`
   * (statfs(2): available blocks × block size); undefined when unknown. Creation checks it
   * before writing any byte.
   */
  freeBytes?(dir: string): Promise<number | undefined>;
}

/**
 * Ranges up to this size are written with a synchronous pwrite on the event loop: copying some KiB
 * into the page cache costs less than a round trip through libuv's thread pool (queue lock, thread
 * wake-up, completion wake-up of the loop), and it takes one thread hop off every group commit —
 * a REST single insert waits for each hop. Larger ranges keep the asynchronous write, so the loop
 * is never blocked for long. The fsync stays asynchronous: it waits on the device.
 */
const SYNC_WRITE_MAX = 256 * 1024;

class NodeFileHandle implements BlockFileHandle {
  constructor(private readonly fh: FileHandle) {}

  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return (await this.fh.read(buf, offset, length, position)).bytesRead;
  }

  async write(buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    while (length > 0) {
      const bytesWritten =
        length <= SYNC_WRITE_MAX
          ? fsSync.writeSync(this.fh.fd, buf, offset, length, position)
          : (await this.fh.write(buf, offset, length, position)).bytesWritten;
      offset += bytesWritten;
      position += bytesWritten;
      length -= bytesWritten;
    }
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  datasync(): Promise<void> {
    return this.fh.datasync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

const FLAGS: Record<OpenMode, string> = { read: 'r', update: 'r+', create: 'w' };

/** The real file system (node:fs). */
export const nodeIO: BlockFileIO = {
  async open(file, mode) {
    return new NodeFileHandle(await fs.open(file, FLAGS[mode], 0o600));
  },
  async size(file) {
    return (await fs.stat(file)).size;
  },
  readFile(file) {
    return fs.readFile(file);
  },
  rename(from, to) {
    return fs.rename(from, to);
  },
  remove(file) {
    return fs.rm(file, { force: true });
  },
  async freeBytes(dir) {
    try {
      const st = await fs.statfs(dir);
      return Number(st.bavail) * Number(st.bsize);
    } catch {
      return undefined;
    }
  },
  async syncDir(dir) {
    const fh = await fs.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};
