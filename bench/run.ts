/**
 * `npm run bench`: runs every benchmark suite, prints one Markdown table per suite, and writes
 * the whole report to bench/results.md and bench/results.json (machine, date, rows).
 * `node dist/bench/run.js engine inputs` runs only the named suites (and writes no report files).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runEngineBench } from './engine.js';
import { runNatsBench } from './nats.js';
import { runInputBench } from './inputs.js';
import { runPullBench } from './pull.js';
import { runStreamsBench } from './streams.js';
import { runScaleRingsBench } from './scale-rings.js';
import { runScaleStoresBench } from './scale-stores.js';
import { runSchemaBench } from './schema.js';
import { runMigrateBench } from './migrate.js';
import { runFootprintBench } from './footprint.js';
import { runAggregateBench, runMqttBench } from './outputs.js';
import type { BenchRow } from './types.js';

const COLUMNS: [keyof BenchRow, string][] = [
  ['name', 'benchmark'],
  ['fsync', 'fsync'],
  ['records', 'records'],
  ['seconds', 's'],
  ['recordsPerSec', 'records/s'],
  ['p50Ms', 'p50 ms'],
  ['p99Ms', 'p99 ms'],
  ['cpuUs', 'CPU µs/rec'],
  ['rssMb', 'RSS MB'],
  ['note', 'note'],
];

export function markdownTable(rows: readonly BenchRow[]): string {
  const head = `| ${COLUMNS.map(([, t]) => t).join(' | ')} |`;
  const rule = `|${COLUMNS.map(() => '---').join('|')}|`;
  const body = rows.map((r) => `| ${COLUMNS.map(([k]) => (r[k] === undefined ? '' : String(r[k]))).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

/** Benchmarks in report order. */
export const SUITES: { id: string; title: string; run: () => Promise<BenchRow[]> }[] = [
  {
    id: 'footprint',
    title: 'Footprint: tsstore version, serve with no stores (start time, RSS), peak RSS under the Unix 4 x 64 flood (child processes)',
    run: runFootprintBench,
  },
  { id: 'engine', title: 'Block-file engine (in process)', run: runEngineBench },
  { id: 'inputs', title: 'Inputs (tsstore serve in a child process, clients in the bench process)', run: runInputBench },
  { id: 'pull', title: 'Outbound pull (ws_pull) from a local remote', run: () => runPullBench() },
  { id: 'streams', title: 'Streams: live read stream, edge → hub chain, outbound push (servers in the bench process)', run: runStreamsBench },
  { id: 'nats', title: 'JetStream sinks (local nats-server)', run: runNatsBench },
  { id: 'schema', title: 'Schema stores: validation stages in process, Unix-socket ingestion json vs schema store', run: runSchemaBench },
  { id: 'migrate', title: 'tsstore migrate: a 1M-record Go ts-store store into tsstore (in process)', run: runMigrateBench },
  { id: 'aggregate', title: 'Aggregation over 1M records (GET data/range with agg_window, in process)', run: () => runAggregateBench() },
  { id: 'mqtt', title: 'MQTT publish at QoS 1 to a local aedes broker (in process)', run: () => runMqttBench() },
  {
    id: 'scale',
    title: 'Scale: 1 GiB and 8 GiB rings of 1 KB records (in process); 10,000 stores of 64 KiB (tsstore serve in a child process)',
    run: async () => [...(await runScaleRingsBench()), ...(await runScaleStoresBench())],
  },
];

function machine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${os.cpus().length} CPUs (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const suites = wanted.length ? SUITES.filter((s) => wanted.includes(s.id)) : SUITES;
  const report = {
    date: new Date().toISOString(),
    machine: machine(),
    cpus: os.cpus().length,
    suites: [] as { id: string; title: string; rows: BenchRow[] }[],
  };
  let md = `Benchmarks run ${report.date} on ${report.machine}.\n`;
  for (const suite of suites) {
    const rows = await suite.run();
    report.suites.push({ id: suite.id, title: suite.title, rows });
    const section = `\n### ${suite.title}\n\n${markdownTable(rows)}\n`;
    md += section;
    process.stdout.write(section);
  }
  if (wanted.length) return; // a partial run does not replace the full report
  const dir = path.resolve(__dirname, '../../bench');
  fs.writeFileSync(path.join(dir, 'results.md'), md);
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`\nWrote bench/results.md and bench/results.json (${report.machine}).\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
    process.exit(1);
  });
}
