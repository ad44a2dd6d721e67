/** Small measuring helpers shared by the benchmark suites. */
import type { Logger } from '../src/plugin/descriptor.js';

/** A logger that drops everything (benchmarks measure, they do not log). */
export const quietLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quietLogger };

/** This process's resident set size in MB. */
export function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 1048576);
}

/** The p-quantile (0..1) of ascending `sorted`, rounded to 3 decimals. */
export function percentile(sorted: number[], p: number): number {
  return sorted.length ? Number(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(3)) : 0;
}

/** Milliseconds since `start` (a process.hrtime.bigint() reading). */
export function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}
