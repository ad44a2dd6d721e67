/** Runs the crash-writer child (crash-writer.ts) and kills it -9 (shared by the crash tests). */
import { spawn } from 'node:child_process';
import path from 'node:path';

const WRITER = path.join(__dirname, 'crash-writer.js');
const NUM_BLOCKS = 128;
const BLOCK_SIZE = 1024;

export interface RoundResult {
  acked: bigint[];
  errors: string[];
}

/** Runs crash-writer.js until `killAfterMs` after its first acknowledgement, then kill -9; what it acknowledged. */
export function runAndKill(
  dataDir: string,
  fsync: string,
  seed: number,
  killAfterMs: number,
  extra: string[] = [],
  store = 'crash',
  numBlocks = NUM_BLOCKS,
  blockSize = BLOCK_SIZE,
): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dataDir, store, String(numBlocks), String(blockSize), fsync, String(seed), ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let armed = false;
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      // The kill is timed from the first acknowledgement (not from start-up), so a slow machine
      // still gets a flood to interrupt.
      if (!armed && /^\d+$/m.test(out + d)) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited ${code}: ${err}`));
      const lines = out.split('\n');
      lines.pop(); // an unterminated last line was not fully printed: not counted as acknowledged
      resolve({
        acked: lines.filter((l) => /^\d+$/.test(l)).map((l) => BigInt(l)),
        errors: lines.filter((l) => l.startsWith('E ')),
      });
    });
  });
}
