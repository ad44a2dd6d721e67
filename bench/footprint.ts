/**
 * Footprint of `tsstore serve` and the CLI: RSS and time to "serving" with no stores, the time of
 * `tsstore version`, and the server's peak RSS under the 4 x 64 Unix-socket flood. Each process
 * is the real CLI (bin/run.js) in a child process; best of 3 for the times (a shared machine).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TsstoreClient } from '../src/client/index.js';
import { unixLoad } from './input-load.js';
import type { BenchRow } from './types.js';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'run.js');
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const SECONDS = Number(process.env.TSSTORE_BENCH_SECONDS ?? 4);

function rssMbOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

interface Served {
  readonly pid: number;
  readonly url: string;
  readonly seconds: number;
  stop(): Promise<void>;
}

/** `tsstore serve` on a fresh data path; resolves when it logs "tsstore is serving". */
function serve(dir: string, socket: string | undefined): Promise<Served> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--path',
      path.join(dir, 'data'),
      '--log-format',
      'json',
      ...(socket ? ['--socket', socket] : ['--no-socket']),
    ],
    {
      cwd: dir,
      env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', TSSTORE_ADMIN_KEY: ADMIN_KEY, TSSTORE_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start:\n${out}`));
    }, 60_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"url":"(http[^"]+)"[^\n]*tsstore is serving/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      resolve({
        pid: child.pid!,
        url: m[1],
        seconds,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) {
              done();
              return;
            }
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${out}`));
    });
  });
}

function row(name: string, seconds: number, rssMb: number, note: string): BenchRow {
  return { name, records: 0, seconds: Number(seconds.toFixed(3)), recordsPerSec: 0, rssMb: Math.round(rssMb), note };
}

export async function runFootprintBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const load = `load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;

  // tsstore version: wall time of the whole process, best of 3.
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [BIN, 'version'], { env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true' }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsstore version failed: ${r.stderr}`);
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  rows.push(row('tsstore version (whole process)', best, 0, `best of 3; goal <= 0.3 s; ${load}`));

  // serve with no stores: time to "serving" and RSS once serving (settled 1 s later).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsstore-bench-footprint-'));
  try {
    let bestStart = Infinity;
    let rss = Infinity;
    for (let i = 0; i < 3; i++) {
      const d = fs.mkdtempSync(path.join(dir, 'idle-'));
      const s = await serve(d, undefined);
      bestStart = Math.min(bestStart, s.seconds);
      await new Promise((r) => setTimeout(r, 1000)); // RSS after start-up work settled, not a sync point
      rss = Math.min(rss, rssMbOf(s.pid));
      await s.stop();
    }
    rows.push(row('serve, no stores: start to "serving"', bestStart, rss, `best of 3; RSS 1 s after serving; goals <= 0.5 s, <= 55 MB; ${load}`));

    // Peak RSS under the 4 x 64 Unix-socket flood.
    const sock = path.join(dir, 'tsstore.sock');
    const s = await serve(fs.mkdtempSync(path.join(dir, 'flood-')), sock);
    try {
      const admin = new TsstoreClient({ url: s.url, adminKey: ADMIN_KEY });
      const { apiKey } = await admin.createStore('bench', { num_blocks: 16384 });
      admin.close();
      let peak = rssMbOf(s.pid);
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMbOf(s.pid));
      }, 100);
      const r = await unixLoad(sock, 'bench', apiKey, 4, 64, SECONDS);
      clearInterval(sampler);
      peak = Math.max(peak, rssMbOf(s.pid));
      rows.push({
        ...row('serve, Unix socket 4 x 64 flood: peak RSS', r.seconds, peak, `goal <= 90 MB; ${r.errors} errors; ${load}`),
        records: r.records,
        recordsPerSec: Math.round(r.records / r.seconds),
      });
    } finally {
      await s.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
