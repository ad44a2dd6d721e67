/**
 * Input benchmark: records/s and ack latency for every ingestion path of a real `tsstore serve`
 * (child process, default pipeline: validate stage, blockfile sink, fsync=batch), with the
 * server's peak RSS, and two baselines measured in the same run: a bare Node Unix-socket server
 * (parse, append, one fdatasync per event-loop turn) and a bare koa + @koa/router JSON POST server.
 * Clients run in this process. About 60 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { restBatch, restSingle, unixLoad, wsLoad, type LoadResult } from './input-load.js';
import type { BenchRow } from './types.js';

const ROOT = path.resolve(__dirname, '../..');
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const SECONDS = Number(process.env.TSSTORE_BENCH_SECONDS ?? 4);

interface Proc {
  readonly child: ChildProcess;
  /** First stdout line matching the ready pattern. */
  readonly ready: RegExpExecArray;
}

function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<Proc> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${out}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) { clearTimeout(timer); out = ''; resolve({ child, ready: m }); }
    });
    child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`)); });
  });
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((resolve) => p.child.once('exit', resolve));
  p.child.kill('SIGTERM');
  await exited;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs `load` while sampling the server's RSS; returns the row. */
async function measure(name: string, pid: number, load: () => Promise<LoadResult>, extra: Partial<BenchRow> = {}): Promise<BenchRow> {
  let peak = rssOf(pid);
  const sampler = setInterval(() => { peak = Math.max(peak, rssOf(pid)); }, 100);
  const r = await load();
  clearInterval(sampler);
  peak = Math.max(peak, rssOf(pid));
  const lat = Float64Array.from(r.latencies).sort();
  const pct = (p: number): number | undefined => (lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(3)) : undefined);
  const note = [extra.note, r.errors ? `${r.errors} errors` : undefined].filter(Boolean).join('; ') || undefined;
  return {
    name, records: r.records, seconds: Number(r.seconds.toFixed(2)), recordsPerSec: Math.round(r.records / r.seconds),
    p50Ms: pct(0.5), p99Ms: pct(0.99), rssMb: Math.round(peak), ...extra, note,
  };
}

/** The disk's own figure: write 100 bytes + fdatasync, one at a time (bounds strict-ack latency). */
function rawFsync(file: string, seconds: number): BenchRow {
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.alloc(100, 0x61);
  const lat: number[] = [];
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    const t = performance.now();
    fs.writeSync(fd, buf);
    fs.fdatasyncSync(fd);
    lat.push(performance.now() - t);
  }
  fs.closeSync(fd);
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return {
    name: 'baseline: write 100 B + fdatasync, strict', records: lat.length, seconds: Number(elapsed.toFixed(2)), recordsPerSec: Math.round(lat.length / elapsed),
    p50Ms: Number(lat[Math.floor(lat.length / 2)].toFixed(3)), p99Ms: Number(lat[Math.floor(lat.length * 0.99)].toFixed(3)), rssMb: 0, fsync: 'every record', note: 'in the bench process: the disk alone',
  };
}

async function createStore(url: string): Promise<string> {
  const res = await fetch(`${url}/api/stores`, {
    method: 'POST', headers: { 'X-Admin-Key': ADMIN_KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'bench', num_blocks: 16384 }),
  });
  if (res.status !== 201) throw new Error(`create store: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { api_key: string }).api_key;
}

export async function runInputBench(): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsstore-bench-inputs-'));
  const sock = path.join(dir, 'tsstore.sock');
  const baseSock = path.join(dir, 'baseline.sock');
  const memConfig = path.join(dir, 'memory.config.json');
  fs.writeFileSync(memConfig, JSON.stringify({ pipelines: { main: { inputs: { api: { type: 'rest' } }, stages: [{ type: 'validate' }], sink: { type: 'memory' } } } }));
  const serving = /"url":"(http:\/\/[^"]+)"[^\n]*tsstore is serving/;
  const procs: Proc[] = [];
  const rows: BenchRow[] = [];
  try {
    // Every server is up before measuring; each tsstore row is measured next to its baseline, so
    // the machine's load (2 shared cores) is as alike as it gets within a pair.
    const server = await start([path.join(ROOT, 'bin', 'run.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--socket', sock],
      { TSSTORE_ADMIN_KEY: ADMIN_KEY, TSSTORE_DATA_PATH: path.join(dir, 'data'), TSSTORE_CONFIG: '', TSSTORE_LOG_LEVEL: 'info' }, serving);
    procs.push(server);
    // The REST path without the disk: separates the HTTP + pipeline cost from the fsync round trip.
    const mem = await start([path.join(ROOT, 'bin', 'run.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--no-socket'],
      { TSSTORE_ADMIN_KEY: ADMIN_KEY, TSSTORE_DATA_PATH: path.join(dir, 'data-mem'), TSSTORE_CONFIG: memConfig, TSSTORE_LOG_LEVEL: 'info' }, serving);
    procs.push(mem);
    const unixBase = await start([path.join(__dirname, 'baselines', 'unix-append-server.js'), baseSock, path.join(dir, 'baseline.log')], {}, /READY/);
    procs.push(unixBase);
    const koa = await start([path.join(__dirname, 'baselines', 'koa-post-server.js')], {}, /READY (\d+)/);
    procs.push(koa);

    const url = server.ready[1];
    const pid = server.child.pid!;
    const key = await createStore(url);
    const memKey = await createStore(mem.ready[1]);
    const wsUrl = `${url.replace(/^http/, 'ws')}/api/stores/bench/ws/write?api_key=${key}`;
    const auth = `AUTH bench ${key}\n`;
    const fsync = 'batch';
    rows.push(await measure('REST single, 1 client', pid, () => restSingle(url, key, 1, SECONDS), { fsync }));
    rows.push(await measure('REST single, 16 clients', pid, () => restSingle(url, key, 16, SECONDS), { fsync }));
    rows.push(await measure('baseline: bare koa + @koa/router POST, 16 clients', koa.child.pid!, () => restSingle(`http://127.0.0.1:${koa.ready[1]}`, 'none', 16, SECONDS),
      { note: 'JSON.parse + 201, no storage' }));
    rows.push(await measure('REST single, 16 clients, memory sink', mem.child.pid!, () => restSingle(mem.ready[1], memKey, 16, SECONDS), { fsync: 'none', note: 'no disk: the HTTP + pipeline cost alone' }));
    rows.push(await measure('REST batch, 1000/request, 4 clients', pid, () => restBatch(url, key, 4, 1000, SECONDS), { fsync, note: 'latency per request' }));
    rows.push(await measure('WebSocket, 1 connection strict', pid, () => wsLoad(wsUrl, 1, 1, SECONDS), { fsync }));
    rows.push(await measure('WebSocket, 4 connections x 64 in flight', pid, () => wsLoad(wsUrl, 4, 64, SECONDS), { fsync }));
    rows.push(await measure('Unix socket, 1 connection strict', pid, () => unixLoad(sock, auth, 1, 1, SECONDS), { fsync }));
    rows.push(rawFsync(path.join(dir, 'fsync-probe'), Math.min(SECONDS, 2)));
    rows.push(await measure('Unix socket, 4 connections x 64 in flight', pid, () => unixLoad(sock, auth, 4, 64, SECONDS), { fsync }));
    rows.push(await measure('baseline: bare Node Unix socket, 4 x 64', unixBase.child.pid!, () => unixLoad(baseSock, 'AUTH x y\n', 4, 64, SECONDS),
      { fsync: 'per turn', note: 'parse + append + one fdatasync per event-loop turn' }));
  } finally {
    for (const p of procs.reverse()) await stop(p);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
