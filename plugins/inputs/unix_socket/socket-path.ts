/**
 * Claiming the socket path: create its directory, never steal a live socket of another server,
 * replace a stale one (a socket file nobody listens on, left by a crash).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** True when something accepts connections on `socketPath`. */
export function isLive(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect(socketPath);
    const timer = setTimeout(() => {
      probe.destroy();
      resolve(true);
    }, timeoutMs);
    probe.once('connect', () => {
      clearTimeout(timer);
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(new Error(`cannot check the Unix socket ${socketPath}: ${err.message}`));
    });
  });
}

export async function claimSocketPath(socketPath: string): Promise<void> {
  const dir = path.dirname(socketPath);
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (err) {
    throw new Error(
      `cannot create the Unix socket directory ${dir}: ${(err as Error).message}; choose another path (TSSTORE_SOCKET_PATH, server.socket_path or serve --socket) or disable the socket (serve --no-socket)`,
    );
  }
  let st: fs.Stats;
  try {
    st = await fs.promises.lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a Unix socket; refusing to replace it`);
  if (await isLive(socketPath)) {
    throw new Error(
      `another server is listening on the Unix socket ${socketPath}; refusing to take it over (stop that server, or choose another path with TSSTORE_SOCKET_PATH / serve --socket, or serve --no-socket)`,
    );
  }
  await fs.promises.unlink(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
