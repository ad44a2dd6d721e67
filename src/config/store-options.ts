/** Validation of store names and creation options (docs/protocol.md, "Stores and keys"). */
import { TssError } from '../plugin/errors.js';
import type { DataType } from '../plugin/record.js';

export const STORE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const DATA_TYPES: readonly DataType[] = ['json', 'text', 'binary', 'schema'];

export interface StoreOptions {
  readonly numBlocks: number;
  readonly dataBlockSize: number;
  readonly indexBlockSize: number;
  readonly dataType: DataType;
}

export const DEFAULT_STORE_OPTIONS: StoreOptions = { numBlocks: 1024, dataBlockSize: 4096, indexBlockSize: 4096, dataType: 'json' };

const MAX_BLOCK_SIZE = 1 << 26;
const MAX_BLOCKS = 1 << 24;
const MAX_FOOTPRINT = 2 ** 40;

export function checkStoreName(name: unknown): string {
  if (typeof name !== 'string' || name === '') throw new TssError('TSS_ERR_STORE_NAME', 'invalid store name: name is required');
  if (!STORE_NAME.test(name) || name === '.' || name === '..') {
    throw new TssError('TSS_ERR_STORE_NAME', `invalid store name "${name}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return name;
}

function blockSize(field: string, v: unknown, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 64 || v > MAX_BLOCK_SIZE || (v & (v - 1)) !== 0) {
    throw new TssError('TSS_ERR_STORE_OPTIONS', `invalid ${field}: must be a power of two between 64 and ${MAX_BLOCK_SIZE}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Applies defaults and validates; throws TSS_ERR_STORE_OPTIONS naming the bad field. */
export function resolveStoreOptions(input: Record<string, unknown>, defaults: StoreOptions = DEFAULT_STORE_OPTIONS): StoreOptions {
  const nb = input.num_blocks ?? defaults.numBlocks;
  if (typeof nb !== 'number' || !Number.isInteger(nb) || nb < 2 || nb > MAX_BLOCKS) {
    throw new TssError('TSS_ERR_STORE_OPTIONS', `invalid num_blocks: must be an integer between 2 and ${MAX_BLOCKS}, got ${JSON.stringify(nb)}`);
  }
  const dataBlockSize = blockSize('data_block_size', input.data_block_size, defaults.dataBlockSize);
  const indexBlockSize = blockSize('index_block_size', input.index_block_size, defaults.indexBlockSize);
  if (nb * dataBlockSize > MAX_FOOTPRINT) throw new TssError('TSS_ERR_STORE_OPTIONS', 'invalid num_blocks: the store would exceed 1 TiB');
  const dt = input.data_type ?? defaults.dataType;
  if (typeof dt !== 'string' || !DATA_TYPES.includes(dt as DataType)) {
    throw new TssError('TSS_ERR_STORE_OPTIONS', `invalid data_type: must be one of ${DATA_TYPES.join(', ')}, got ${JSON.stringify(dt)}`);
  }
  return { numBlocks: nb, dataBlockSize, indexBlockSize, dataType: dt as DataType };
}

/** Defaults for new stores from the config's `store` section. */
export function storeDefaults(config: {
  readonly store: { num_blocks: number; data_block_size: number; index_block_size: number; data_type: DataType };
}): StoreOptions {
  const s = config.store;
  return { numBlocks: s.num_blocks, dataBlockSize: s.data_block_size, indexBlockSize: s.index_block_size, dataType: s.data_type };
}
