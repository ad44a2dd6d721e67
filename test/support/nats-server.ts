/**
 * A real nats-server with JetStream as a child process on 127.0.0.1 (free port, temp store dir),
 * which tests stop, restart and kill. Tests skip loudly when `nats-server` is not on PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { jetStreamOptionsSchema, type JetStreamOptions } from '../../plugins/sinks/nats_jetstream/options.js';

function findOnPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export const NATS_SERVER_BIN = findOnPath('nats-server');

/** node:test `skip` value: false when nats-server is available, else the loud reason. */
export const NATS_SKIP: false | string = NATS_SERVER_BIN ? false : 'SKIPPED: nats-server not on PATH — JetStream sink tests did not run';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms`);
}

export interface NatsServerOptions {
  /** Extra command-line arguments, e.g. `['--auth', 'secret']`. */
  readonly args?: readonly string[];
}

export class NatsServer {
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    private readonly args: readonly string[],
  ) {}

  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    if (!NATS_SERVER_BIN) throw new Error('nats-server not on PATH');
    const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-nats-'));
    const s = new NatsServer(await freePort(), storeDir, opts.args ?? []);
    await s.startProcess();
    return s;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private async startProcess(): Promise<void> {
    const child = spawn(NATS_SERVER_BIN as string, ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (b: Buffer): void => {
      this.log = (this.log + b.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    try {
      await waitForPort(this.port, child, 15_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.log}`);
    }
  }

  /** Graceful stop (SIGTERM), waiting for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Starts again on the same port with the same store directory (JetStream data survives). */
  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }

  async resume(): Promise<void> {
    if (!this.running) await this.startProcess();
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.storeDir, { recursive: true, force: true });
  }

  get output(): string {
    return this.log;
  }
}

/** Validated `nats_jetstream` options for a test server, with per-test overrides. */
export function jetStreamTestOptions(url: string, extra: Record<string, unknown> = {}): JetStreamOptions {
  const { value, error } = jetStreamOptionsSchema.validate({ servers: [url], create_stream: true, ack_timeout: '2s', retry_max: '500ms', ...extra });
  if (error) throw error;
  return value;
}
