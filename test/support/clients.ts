/** Real protocol clients for tests: a Unix-socket line client and a WebSocket writer. */
import net from 'node:net';
import WebSocket from 'ws';

/** A Unix-socket client that collects reply lines. */
export class LineClient {
  readonly lines: string[] = [];
  private partial = '';
  private waiters: (() => void)[] = [];
  readonly closed: Promise<void>;
  ended = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (s: string) => {
      const parts = (this.partial + s).split('\n');
      this.partial = parts.pop()!;
      for (const p of parts) this.lines.push(p);
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(socketPath: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new LineClient(s));
      });
      s.once('error', reject);
    });
  }

  static async auth(socketPath: string, store: string, key: string): Promise<LineClient> {
    const c = await LineClient.connect(socketPath);
    c.send(`AUTH ${store} ${key}\n`);
    const [ok] = await c.take(1);
    if (ok !== 'OK') throw new Error(`AUTH failed: ${ok}`);
    return c;
  }

  send(text: string | Buffer): boolean {
    return this.socket.write(text);
  }

  /** Waits for `n` more reply lines (rejects after `timeoutMs`) and removes them from `lines`. */
  async take(n: number, timeoutMs = 20_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length < n) {
      if (this.ended) throw new Error(`connection closed after ${this.lines.length}/${n} lines: ${JSON.stringify(this.lines.slice(-3))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${this.lines.length}/${n} lines`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines.splice(0, n);
  }

  /** Resolves when the next reply line arrives or the connection closes (rejects after `timeoutMs`). */
  next(timeoutMs = 20_000): Promise<void> {
    return waitFor(this.waiters, () => this.ended, timeoutMs, 'a reply line');
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A WebSocket writer that collects reply frames. */
export class WsClient {
  readonly frames: string[] = [];
  private waiters: (() => void)[] = [];
  closeCode: number | undefined;
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (m: Buffer) => {
      this.frames.push(m.toString('utf8'));
      this.wake();
    });
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      ws.once('close', (code: number) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      }),
    );
  }

  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.once('open', () => {
        ws.off('error', reject);
        resolve(new WsClient(ws));
      });
      ws.once('error', reject);
    });
  }

  send(text: string | Buffer): void {
    this.ws.send(text);
  }

  async take(n: number, timeoutMs = 20_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      if (this.closeCode !== undefined) throw new Error(`connection closed (${this.closeCode}) after ${this.frames.length}/${n} frames`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${this.frames.length}/${n} frames`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.frames.splice(0, n);
  }

  /** Resolves when the next frame arrives or the connection closes (rejects after `timeoutMs`). */
  next(timeoutMs = 20_000): Promise<void> {
    return waitFor(this.waiters, () => this.closeCode !== undefined, timeoutMs, 'a frame');
  }

  /**
   * A ping/pong round trip: resolves once the server has answered a ping sent now. Frames the
   * server wrote before that pong have arrived by then (one connection is ordered), so a test can
   * assert that nothing was sent up to this point without waiting for a fixed time.
   */
  barrier(timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.ws.off('pong', done);
        reject(new Error('timed out waiting for a pong'));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        resolve();
      };
      this.ws.once('pong', done);
      this.ws.ping();
    });
  }

  close(): void {
    this.ws.close();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Waits until a waiter in `waiters` is woken (or `over()` already holds); rejects after `timeoutMs`. */
function waitFor(waiters: (() => void)[], over: () => boolean, timeoutMs: number, what: string): Promise<void> {
  if (over()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    waiters.push(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns true (rejects after `timeoutMs`). */
export async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
