/** `npm run bench`: runs the benchmarks and prints one Markdown table. */
import { runEngineBench } from './engine.js';
import type { BenchRow } from './types.js';

const COLUMNS: [keyof BenchRow, string][] = [
  ['name', 'benchmark'], ['fsync', 'fsync'], ['records', 'records'], ['seconds', 's'], ['recordsPerSec', 'records/s'],
  ['p50Ms', 'p50 ms'], ['p99Ms', 'p99 ms'], ['rssMb', 'RSS MB'], ['note', 'note'],
];

export function markdownTable(rows: readonly BenchRow[]): string {
  const head = `| ${COLUMNS.map(([, t]) => t).join(' | ')} |`;
  const rule = `|${COLUMNS.map(() => '---').join('|')}|`;
  const body = rows.map((r) => `| ${COLUMNS.map(([k]) => (r[k] === undefined ? '' : String(r[k]))).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

/** Benchmarks in report order; add more suites here. */
export const SUITES: { title: string; run: () => Promise<BenchRow[]> }[] = [{ title: 'Block-file engine (in process)', run: runEngineBench }];

async function main(): Promise<void> {
  for (const suite of SUITES) {
    const rows = await suite.run();
    process.stdout.write(`\n### ${suite.title}\n\n${markdownTable(rows)}\n`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
    process.exit(1);
  });
}
