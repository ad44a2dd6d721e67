/** Shared by this folder's tests and its crash-writer helper. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger, SinkContext, StoreSpec } from 'tsstore/plugin';
import { BlockFileSink } from './block-file-sink.js';
import type { BlockFileOptions } from './options.js';

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

export function sinkContext(dataDir: string): SinkContext {
  return { id: 'test', logger: silentLogger, dataDir };
}

export function newSink(dataDir: string, options: Partial<BlockFileOptions> = {}): BlockFileSink {
  return new BlockFileSink(options, sinkContext(dataDir));
}

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tss-blockfile-${tag}-`));
}

export function storeSpec(dataDir: string, name: string, numBlocks: number, dataBlockSize: number): StoreSpec {
  const dir = path.join(dataDir, name);
  fs.mkdirSync(dir, { recursive: true });
  return { name, dir, dataType: 'binary', numBlocks, dataBlockSize, indexBlockSize: 4096 };
}

/** Small seeded PRNG (mulberry32): reproducible test sequences without dependencies. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic content for a timestamp, so a reader can check bytes without a log of them. */
export function payloadFor(ts: bigint, blockSize: number): Buffer {
  const rnd = prng(Number(ts % 2147483647n));
  const kind = rnd();
  const size = kind < 0.7 ? Math.floor(rnd() * 200) : kind < 0.9 ? Math.floor(rnd() * blockSize) : Math.floor(blockSize + rnd() * blockSize * 3);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}
