/**
 * Test support: real tsstore servers on 127.0.0.1 port 0 with temp data paths, in-process or as
 * a child process (for kill -9 and signal tests), and the real CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import type { PipelineConfig } from '../../src/config/config-types.js';
import { silentLogger } from '../../src/core/logger.js';
import { parseJsonExact } from '../../src/core/json/index.js';
import { TsstoreServer } from '../../src/server.js';
import type { DependencyContainer } from '../../src/di.js';
import type { HttpOptions } from '../../src/http/app.js';
import { TOKENS } from '../../src/tokens.js';

export const ROOT = path.resolve(__dirname, '../../..');
export const BIN = path.join(ROOT, 'bin', 'run.js');
export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

/**
 * Cleanup of what this module makes. Node's test runner runs each test file in its own process,
 * so the process's exit is the end of every test in it, passed or failed: the temp directories
 * made by tempDir() (data paths, config files, socket directories) are removed then, and server
 * children still running are killed. Tests still stop their servers themselves (after hooks,
 * finally blocks); this catches what a failing test leaves behind.
 */
const madeDirs = new Set<string>();
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed when the test process exits. */
export function tempDir(prefix = 'tsstore-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  madeDirs.add(dir);
  return dir;
}

/** Writes a config file into `dir` and returns its path. */
export function writeConfig(dir: string, config: Record<string, unknown>, name = 'tsstore.config.json'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export interface TestServerOptions {
  readonly dataDir?: string;
  readonly pipelines?: Record<string, PipelineConfig>;
  /** Extra config merged at the top level (e.g. `server`). */
  readonly config?: Record<string, unknown>;
  readonly socketPath?: string | null;
  /** Node's HTTP request timeouts and their check period, shortened (the server's HTTP options swapped). */
  readonly nodeTimeouts?: HttpOptions['nodeTimeouts'];
}

export interface TestServer {
  readonly server: TsstoreServer;
  readonly url: string;
  readonly dataDir: string;
  createStore(name: string, options?: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a server in this process on 127.0.0.1:0 (no Unix socket unless `socketPath` is given). */
export async function startServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const cfgDir = tempDir('tsstore-cfg-');
  const extra = opts.config ?? {};
  const file = writeConfig(cfgDir, {
    ...extra,
    server: { host: '127.0.0.1', port: 0, admin_key: ADMIN_KEY, socket_path: opts.socketPath ?? '', ...(extra.server as object | undefined) },
    store: { base_path: dataDir, ...(extra.store as object | undefined) },
    ...(opts.pipelines ? { pipelines: opts.pipelines } : {}),
  });
  const config = await loadConfig({ file, env: {} });
  const { nodeTimeouts } = opts;
  const compose =
    nodeTimeouts &&
    ((c: DependencyContainer): void => {
      const { host, port, tls, ws_max_frame } = config.server;
      c.register<HttpOptions>(TOKENS.HttpOptions, { useValue: { host, port, tls, wsMaxFrame: ws_max_frame, nodeTimeouts } });
    });
  const server = await TsstoreServer.start(config, { logger: silentLogger(), compose });
  const url = server.url;
  return {
    server,
    url,
    dataDir,
    async createStore(name, options = {}) {
      const res = await api(url, 'POST', '/api/stores', { name, ...options }, { 'X-Admin-Key': ADMIN_KEY });
      if (res.status !== 201) throw new Error(`create store ${name}: ${res.status} ${res.text}`);
      return (res.json as { api_key: string }).api_key;
    },
    stop: () => server.stop(),
  };
}

export interface ApiResponse {
  readonly status: number;
  readonly text: string;
  /** Parsed with parseJsonExact: integers beyond 2^53 are bigint. */
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly headers: Headers;
}

/** One HTTP request; a non-string body is sent as JSON. */
export async function api(base: string, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    const isRaw = typeof body === 'string' || Buffer.isBuffer(body);
    init.body = isRaw ? (body as string) : JSON.stringify(body);
    if (!isRaw && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
  }
  const res = await fetch(new URL(urlPath, base), init);
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? parseJsonExact(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real CLI (bin/run.js) and collects its output. */
export function runCli(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? os.tmpdir(),
      env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', TSSTORE_CONFIG: undefined, ...options.env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tsstore ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface ChildServer {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
  /** Resolves with the exit code after the process ended. */
  readonly exited: Promise<number | null>;
}

/**
 * Starts `tsstore serve` as a child process on a free port and waits until it serves.
 * `env` adds to the environment (TSSTORE_DATA_PATH etc.; an undefined value removes a variable);
 * the admin key is ADMIN_KEY. Unless the caller picks a socket (`--socket`, `--no-socket` or
 * TSSTORE_SOCKET_PATH in `env`), the Unix socket goes to a fresh temp path, so servers running in
 * parallel never meet on the default /var/run path. `bin` is the CLI to run (default: this
 * checkout's bin/run.js; e.g. an installed package's `bin/tsstore`).
 */
export async function spawnServer(args: string[], env: Record<string, string | undefined>, cwd = os.tmpdir(), bin = BIN): Promise<ChildServer> {
  const picksSocket = args.some((a) => a === '--no-socket' || a.startsWith('--socket')) || 'TSSTORE_SOCKET_PATH' in env;
  if (!picksSocket) env = { ...env, TSSTORE_SOCKET_PATH: path.join(tempDir('tsstore-sock-'), 'tsstore.sock') };
  // A caller that names a port (to restart a server where its clients expect it) keeps it.
  const port = args.some((a) => a === '--port' || a === '-p') ? [] : ['--port', '0'];
  const child = spawn(process.execPath, [bin, 'serve', ...port, '--host', '127.0.0.1', ...args], {
    cwd,
    env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', TSSTORE_ADMIN_KEY: ADMIN_KEY, TSSTORE_CONFIG: undefined, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  let out = '';
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      liveChildren.delete(child);
      resolve(code);
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: a busy 2-core machine can take many seconds to load and compose a server.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${out}`));
    }, 60_000);
    const onData = (c: Buffer): void => {
      out += c.toString();
      const m = /"url":"(https?:\/\/[^"]+)"[^\n]*tsstore is serving/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before serving:\n${out}`));
    });
  });
  return { child, url, output: () => out, exited };
}
