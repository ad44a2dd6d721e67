/** A store's figures as the stats endpoint and the CLI show them (timestamps stay bigint). */
import type { Sink } from '../plugin/sink.js';
import type { StoreCatalog } from './store-catalog.js';

export async function storeStats(catalog: StoreCatalog, sink: Sink, name: string): Promise<Record<string, unknown>> {
  const meta = catalog.meta(name);
  const s = await sink.stats(name);
  return {
    name,
    data_type: meta.data_type,
    num_blocks: meta.num_blocks,
    data_block_size: meta.data_block_size,
    index_block_size: meta.index_block_size,
    created_at: meta.created_at,
    records: s.records,
    bytes: s.bytes,
    oldest: s.oldest ?? null,
    newest: s.newest ?? null,
    ...(s.fill !== undefined ? { fill: s.fill } : {}),
    ...(s.usedBlocks !== undefined ? { used_blocks: s.usedBlocks } : {}),
    ...(s.capacityBytes !== undefined ? { capacity_bytes: s.capacityBytes } : {}),
    ...(s.extra ?? {}),
  };
}
