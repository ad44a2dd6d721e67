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

/** A logger that keeps warnings (to check that a fallback is reported). */
export function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const l: Logger & { warnings: string[] } = {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)),
    error: () => undefined,
    child: () => l,
  };
  return l;
}

/** Everything a store serves: every record with its bytes, in order, and the stats that must not depend on how it was opened. */
export interface StoreImage {
  records: string[];
  stats: Record<string, unknown>;
}

export async function storeImage(sink: BlockFileSink, store: string): Promise<StoreImage> {
  const all = await sink.reader.scan(store, { order: 'asc', limit: 10_000_000, withData: true });
  const st = await sink.stats(store);
  return {
    records: all.map((r) => `${r.timestamp}@${r.blockNum}:${(r.data as Buffer).toString('hex')}`),
    stats: {
      records: st.records,
      bytes: st.bytes,
      oldest: st.oldest,
      newest: st.newest,
      usedBlocks: st.usedBlocks,
      deletedRecords: st.extra?.deletedRecords,
      generation: st.extra?.generation,
    },
  };
}

/**
 * Opens a copy of `dataDir` (the store `spec.name`) with the given options and returns what it
 * serves and how it was opened; the copy is removed afterwards.
 */
export async function openCopy(
  dataDir: string,
  spec: StoreSpec,
  options: Partial<BlockFileOptions>,
  tag: string,
): Promise<StoreImage & { openedFrom: unknown; warnings: string[] }> {
  const copy = `${dataDir}-${tag}`;
  fs.rmSync(copy, { recursive: true, force: true });
  fs.cpSync(dataDir, copy, { recursive: true });
  const logger = recordingLogger();
  const sink = new BlockFileSink(options, { id: 'test', logger, dataDir: copy });
  try {
    await sink.open();
    await sink.openStore({ ...spec, dir: path.join(copy, path.relative(dataDir, spec.dir)) });
    const image = await storeImage(sink, spec.name);
    return { ...image, openedFrom: (await sink.stats(spec.name)).extra?.openedFrom, warnings: logger.warnings };
  } finally {
    await sink.close();
    fs.rmSync(copy, { recursive: true, force: true });
  }
}
