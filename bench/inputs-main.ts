/** `node dist/bench/inputs-main.js`: the input benchmark alone, printed as a Markdown table. */
import os from 'node:os';
import { runInputBench } from './inputs.js';
import type { BenchRow } from './types.js';

const COLUMNS: [keyof BenchRow, string][] = [
  ['name', 'benchmark'], ['fsync', 'fsync'], ['records', 'records'], ['seconds', 's'], ['recordsPerSec', 'records/s'],
  ['p50Ms', 'p50 ms'], ['p99Ms', 'p99 ms'], ['rssMb', 'server RSS MB'], ['note', 'note'],
];

runInputBench().then((rows) => {
  const cell = (r: BenchRow, k: keyof BenchRow): string => (r[k] === undefined ? '' : String(r[k]));
  process.stdout.write(`Input benchmark, ${os.cpus().length} CPUs, Node ${process.version}\n\n`);
  process.stdout.write(`| ${COLUMNS.map(([, t]) => t).join(' | ')} |\n|${COLUMNS.map(() => '---').join('|')}|\n`);
  for (const r of rows) process.stdout.write(`| ${COLUMNS.map(([k]) => cell(r, k)).join(' | ')} |\n`);
}, (err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
