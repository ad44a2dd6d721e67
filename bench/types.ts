/** One line of a benchmark report. */
export interface BenchRow {
  name: string;
  records: number;
  seconds: number;
  recordsPerSec: number;
  p50Ms?: number;
  p99Ms?: number;
  rssMb: number;
  /** CPU time (all threads) of the process under test per record, in microseconds. */
  cpuUs?: number;
  fsync?: string;
  note?: string;
}
