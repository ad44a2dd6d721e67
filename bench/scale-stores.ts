/**
 * Many stores: `tsstore serve` (child process, default pipeline, store.max_open 256) over 10,000
 * stores of 64 KiB (16 blocks of 4 KiB; TSSTORE_BENCH_STORES changes the count). Rows: time from
 * spawn to "tsstore is serving", RSS and open file descriptors after start (next to the same
 * figures with no store, measured in the same run), first-write latency to closed stores (each
 * write opens its store and closes the least recently used one) next to writes to an open store,
 * open descriptors after writes to 1,000 distinct stores, and a listing and a /metrics scrape
 * over every store (closed stores answer from their summaries).
 *
 * The stores are copies of one store created through the API and closed by a clean stop (so
 * each has its summary), made in seconds instead of 10,000 creations.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchRow } from './types.js';

const ROOT = path.resolve(__dirname, '../..');
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const STORES = Number(process.env.TSSTORE_BENCH_STORES ?? 10_000);
const SERVING = /"url":"(http:\/\/[^"]+)"[^\n]*tsstore is serving/;

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
  /** Milliseconds from spawn to the "tsstore is serving" line. */
  readonly startMs: number;
  /** CPU seconds the server used until then. */
  readonly startCpu: number;
}

function serve(dataDir: string): Promise<Server> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--no-socket'], {
    cwd: ROOT,
    env: {
      ...process.env,
      OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
      TSSTORE_ADMIN_KEY: ADMIN_KEY,
      TSSTORE_DATA_PATH: dataDir,
      TSSTORE_CONFIG: '',
      TSSTORE_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tsstore serve did not start:\n${out}`)), 120_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = SERVING.exec(out);
      if (m) {
        clearTimeout(timer);
        out = '';
        resolve({ child, url: m[1], startMs: performance.now() - t0, startCpu: cpuSeconds(child.pid!) });
      }
    });
    child.stderr!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tsstore serve exited with ${code}:\n${out}`));
    });
  });
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((resolve) => s.child.once('exit', resolve));
  s.child.kill('SIGTERM');
  await exited;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

/** CPU seconds (user + system) the process used so far: less sensitive to a busy machine than wall time. */
function cpuSeconds(pid: number): number {
  const fields = fs
    .readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

async function call(url: string, method: string, p: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url + p, {
    method,
    headers: { ...headers, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, text: await res.text() };
}

/** Sequential single-record writes, one per store in `stores`; latencies in ms. */
async function writeEach(url: string, key: string, stores: readonly string[]): Promise<number[]> {
  const lat: number[] = [];
  for (const [i, store] of stores.entries()) {
    const t = performance.now();
    const r = await call(url, 'POST', `/api/stores/${store}/data`, { 'X-API-Key': key }, { data: { seq: i, value: i * 0.5 } });
    lat.push(performance.now() - t);
    if (r.status !== 201) throw new Error(`write to ${store}: ${r.status} ${r.text}`);
  }
  return lat;
}

function latencyRow(name: string, lat: number[], pid: number, note: string): BenchRow {
  const sorted = [...lat].sort((a, b) => a - b);
  const seconds = lat.reduce((a, b) => a + b, 0) / 1000;
  const pct = (p: number): number => Number(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(3));
  return {
    name,
    records: lat.length,
    seconds: Number(seconds.toFixed(2)),
    recordsPerSec: Math.round(lat.length / seconds),
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    rssMb: rssMb(pid),
    fsync: 'batch',
    note,
  };
}

function startRow(name: string, s: Server, stores: number): BenchRow {
  const pid = s.child.pid!;
  return {
    name,
    records: stores,
    seconds: Number((s.startMs / 1000).toFixed(2)),
    recordsPerSec: 0,
    rssMb: rssMb(pid),
    note: `spawn to "tsstore is serving" (${s.startCpu.toFixed(2)} s of CPU); ${openFds(pid)} open fds after start`,
  };
}

/** Makes `count` copies of the closed store `template` (its data, meta, keys and summary). */
function copyStores(dataDir: string, template: string, count: number): string[] {
  const src = path.join(dataDir, template);
  const files = fs.readdirSync(src).filter((f) => f !== 'store.json');
  const meta = JSON.parse(fs.readFileSync(path.join(src, 'store.json'), 'utf8')) as Record<string, unknown>;
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `s${String(i).padStart(5, '0')}`;
    const dir = path.join(dataDir, name);
    fs.mkdirSync(dir, { mode: 0o700 });
    for (const f of files) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, 'store.json'), JSON.stringify({ ...meta, name }, null, 2) + '\n');
    names.push(name);
  }
  fs.rmSync(src, { recursive: true, force: true });
  return names;
}

function shuffled<T>(xs: readonly T[], seed = 7): T[] {
  const out = [...xs];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) >>> 0;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export async function runScaleStoresBench(): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsstore-bench-stores-'));
  const dataDir = path.join(dir, 'data');
  const rows: BenchRow[] = [];
  let server: Server | undefined;
  try {
    server = await serve(dataDir);
    rows.push(startRow('serve, no store (same run, for the ratio)', server, 0));
    const admin = { 'X-Admin-Key': ADMIN_KEY };
    const created = await call(server.url, 'POST', '/api/stores', admin, { name: 'template', num_blocks: 16, data_block_size: 4096 });
    if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
    const key = (JSON.parse(created.text) as { api_key: string }).api_key;
    await writeEach(server.url, key, ['template']);
    await stop(server);

    const names = copyStores(dataDir, 'template', STORES);
    server = await serve(dataDir);
    const pid = server.child.pid!;
    rows.push(startRow(`serve, ${STORES.toLocaleString('en')} stores of 64 KiB`, server, STORES));

    const listT = performance.now();
    const list = await call(server.url, 'GET', '/api/stores', admin);
    const listMs = performance.now() - listT;
    const metricsT = performance.now();
    const metrics = await call(server.url, 'GET', '/metrics', admin);
    const metricsMs = performance.now() - metricsT;
    const closed = /tsstore_stores\{state="closed"\} (\d+)/.exec(metrics.text)?.[1] ?? '?';
    rows.push({
      name: `GET /api/stores, then GET /metrics over ${STORES.toLocaleString('en')} stores`,
      records: 2,
      seconds: Number(((listMs + metricsMs) / 1000).toFixed(3)),
      recordsPerSec: 0,
      p50Ms: Number(listMs.toFixed(1)),
      p99Ms: Number(metricsMs.toFixed(1)),
      rssMb: rssMb(pid),
      note: `p50 = the listing (${list.text.length} bytes), p99 = the scrape; ${closed} closed stores from summaries, ${openFds(pid)} open fds`,
    });

    const order = shuffled(names);
    const first = await writeEach(server.url, key, order.slice(0, 300));
    rows.push(latencyRow('first write to a closed store (opens it)', first, pid, 'REST single record; 300 distinct stores, each opened by its write'));
    const warm = await writeEach(
      server.url,
      key,
      Array.from({ length: 300 }, () => order[299]),
    );
    rows.push(latencyRow('write to an open store (same run, for the ratio)', warm, pid, 'REST single record, the same store 300 times'));
    await writeEach(server.url, key, order.slice(300, 1000));
    rows.push({
      name: 'after first writes to 1,000 distinct stores',
      records: 1000,
      seconds: 0,
      recordsPerSec: 0,
      rssMb: rssMb(pid),
      note: `${openFds(pid)} open fds (store.max_open 256: the least recently used idle stores closed)`,
    });
  } finally {
    if (server) await stop(server).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
