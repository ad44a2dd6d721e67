/**
 * Input benchmark: records/s, ack latency and server CPU per record for every ingestion path of a
 * real `tsstore serve` (child process, default pipeline: validate stage, blockfile sink), with the
 * server's peak RSS, next to baselines measured in the same run: the disk alone (write 100 B +
 * fdatasync), bare koa + @koa/router answering a JSON POST, and bare durable Unix-socket and
 * WebSocket servers (parse, append, one fdatasync per event-loop turn, ack). REST single runs
 * against three servers — blockfile fsync=batch (the default), fsync=never, memory sink — so the
 * fsync, the storage and the HTTP costs can be told apart. Clients run in this process. About 90 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TsstoreClient } from '../src/client/index.js';
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
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${out}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        out = '';
        resolve({ child, ready: m });
      }
    });
    child.stderr!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`));
    });
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

/** CPU time of every thread of `pid` so far, in microseconds (scheduler run time, ns precision). */
function cpuOf(pid: number): number {
  let ns = 0;
  try {
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* thread gone */
      }
    }
  } catch {
    return NaN;
  }
  return ns / 1000;
}

/** Runs `load` while sampling the server's RSS and CPU time; returns the row. */
async function measure(name: string, pid: number, load: () => Promise<LoadResult>, extra: Partial<BenchRow> = {}): Promise<BenchRow> {
  let peak = rssOf(pid);
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, 100);
  const cpu0 = cpuOf(pid);
  const r = await load();
  const cpu = cpuOf(pid) - cpu0;
  clearInterval(sampler);
  peak = Math.max(peak, rssOf(pid));
  const lat = Float64Array.from(r.latencies).sort();
  const pct = (p: number): number | undefined => (lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(3)) : undefined);
  const note = [extra.note, r.errors ? `${r.errors} errors` : undefined].filter(Boolean).join('; ') || undefined;
  return {
    name,
    records: r.records,
    seconds: Number(r.seconds.toFixed(2)),
    recordsPerSec: Math.round(r.records / r.seconds),
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    cpuUs: r.records > 0 && Number.isFinite(cpu) ? Number((cpu / r.records).toFixed(2)) : undefined,
    rssMb: Math.round(peak),
    ...extra,
    note,
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
    name: 'baseline: write 100 B + fdatasync, strict',
    records: lat.length,
    seconds: Number(elapsed.toFixed(2)),
    recordsPerSec: Math.round(lat.length / elapsed),
    p50Ms: Number(lat[Math.floor(lat.length / 2)].toFixed(3)),
    p99Ms: Number(lat[Math.floor(lat.length * 0.99)].toFixed(3)),
    rssMb: 0,
    fsync: 'every record',
    note: 'in the bench process: the disk alone',
  };
}

async function createStore(url: string): Promise<string> {
  const admin = new TsstoreClient({ url, adminKey: ADMIN_KEY });
  try {
    return (await admin.createStore('bench', { num_blocks: 16384 })).apiKey;
  } finally {
    admin.close();
  }
}

/** Same-run comparisons, written into the rows' notes. */
function ratio(a: BenchRow, b: BenchRow): string {
  return (a.recordsPerSec / b.recordsPerSec).toFixed(2);
}

function addNote(row: BenchRow, note: string): void {
  row.note = row.note ? `${row.note}; ${note}` : note;
}

export async function runInputBench(): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsstore-bench-inputs-'));
  const sock = path.join(dir, 'tsstore.sock');
  const baseSock = path.join(dir, 'baseline.sock');
  const config = (name: string, sink: Record<string, unknown>): string => {
    const file = path.join(dir, `${name}.config.json`);
    fs.writeFileSync(file, JSON.stringify({ pipelines: { main: { inputs: { api: { type: 'rest' } }, stages: [{ type: 'validate' }], sink } } }));
    return file;
  };
  const serving = /"url":"(http:\/\/[^"]+)"[^\n]*tsstore is serving/;
  const procs: Proc[] = [];
  const rows: BenchRow[] = [];
  const serve = async (name: string, configFile: string, socket?: string): Promise<Proc> => {
    const p = await start(
      [path.join(ROOT, 'bin', 'run.js'), 'serve', '--port', '0', '--host', '127.0.0.1', ...(socket ? ['--socket', socket] : ['--no-socket'])],
      { TSSTORE_ADMIN_KEY: ADMIN_KEY, TSSTORE_DATA_PATH: path.join(dir, `data-${name}`), TSSTORE_CONFIG: configFile, TSSTORE_LOG_LEVEL: 'info' },
      serving,
    );
    procs.push(p);
    return p;
  };
  const baseline = async (script: string, args: string[], ready: RegExp): Promise<Proc> => {
    const p = await start([path.join(__dirname, 'baselines', script), ...args], {}, ready);
    procs.push(p);
    return p;
  };
  try {
    // Every server is up before measuring; each tsstore row is measured next to its baseline, so
    // the machine's load (2 shared cores) is as alike as it gets within a group.
    const server = await serve('batch', '', sock); // the default config: blockfile, fsync=batch
    const never = await serve('never', config('never', { type: 'blockfile', fsync: 'never' }));
    const mem = await serve('memory', config('memory', { type: 'memory' }));
    const unixBase = await baseline('unix-append-server.js', [baseSock, path.join(dir, 'baseline.log')], /READY/);
    const wsBase = await baseline('ws-append-server.js', [path.join(dir, 'baseline-ws.log')], /READY (\d+)/);
    const koa = await baseline('koa-post-server.js', [], /READY (\d+)/);

    const url = server.ready[1];
    const pid = server.child.pid!;
    const key = await createStore(url);
    const rest = [
      { proc: server, key, sink: 'blockfile', fsync: 'batch', note: undefined },
      { proc: never, key: await createStore(never.ready[1]), sink: 'blockfile', fsync: 'never', note: 'no fdatasync' },
      { proc: mem, key: await createStore(mem.ready[1]), sink: 'memory sink', fsync: undefined, note: 'no disk: the HTTP + pipeline cost alone' },
    ];
    const koaUrl = `http://127.0.0.1:${koa.ready[1]}`;
    const fsync = 'batch';

    const disk = rawFsync(path.join(dir, 'fsync-probe'), Math.min(SECONDS, 2));
    rows.push(disk);
    for (const clients of [1, 16]) {
      const group: BenchRow[] = [];
      for (const r of rest) {
        group.push(
          await measure(
            `REST single, ${clients} client${clients > 1 ? 's' : ''}, ${r.sink}`,
            r.proc.child.pid!,
            () => restSingle(r.proc.ready[1], r.key, clients, SECONDS),
            { fsync: r.fsync, note: r.note },
          ),
        );
      }
      const bare = await measure(
        `baseline: bare koa + @koa/router POST, ${clients} client${clients > 1 ? 's' : ''}`,
        koa.child.pid!,
        () => restSingle(koaUrl, 'none', clients, SECONDS),
        { note: 'JSON.parse + 201, no storage' },
      );
      if (clients === 1 && group[0].p50Ms !== undefined && disk.p50Ms !== undefined) {
        addNote(group[0], `p50 ${(group[0].p50Ms - disk.p50Ms).toFixed(3)} ms above the disk's fdatasync p50`);
      }
      for (const row of group) addNote(row, `${ratio(row, bare)}x bare koa`);
      rows.push(...group, bare);
    }
    rows.push(await measure('REST batch, 1000/request, 4 clients', pid, () => restBatch(url, key, 4, 1000, SECONDS), { fsync, note: 'latency per request' }));
    rows.push(await measure('WebSocket, 1 connection strict', pid, () => wsLoad(url, 'bench', key, 1, 1, SECONDS), { fsync }));
    const ws = await measure('WebSocket, 4 connections x 64 in flight', pid, () => wsLoad(url, 'bench', key, 4, 64, SECONDS), { fsync });
    const wsBare = await measure(
      'baseline: bare durable ws server, 4 x 64',
      wsBase.child.pid!,
      () => wsLoad(`http://127.0.0.1:${wsBase.ready[1]}`, 'bench', 'none', 4, 64, SECONDS),
      { fsync: 'per turn', note: 'parse + append + one fdatasync per event-loop turn, ack frames' },
    );
    addNote(ws, `${ratio(ws, wsBare)}x bare ws`);
    rows.push(ws, wsBare);
    rows.push(await measure('Unix socket, 1 connection strict', pid, () => unixLoad(sock, 'bench', key, 1, 1, SECONDS), { fsync }));
    const unix = await measure('Unix socket, 4 connections x 64 in flight', pid, () => unixLoad(sock, 'bench', key, 4, 64, SECONDS), { fsync });
    const unixBare = await measure('baseline: bare Node Unix socket, 4 x 64', unixBase.child.pid!, () => unixLoad(baseSock, 'x', 'y', 4, 64, SECONDS), {
      fsync: 'per turn',
      note: 'parse + append + one fdatasync per event-loop turn',
    });
    addNote(unix, `${ratio(unix, unixBare)}x bare Unix`);
    rows.push(unix, unixBare);
  } finally {
    for (const p of procs.reverse()) await stop(p);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
