/**
 * Opening a data path in the CLI process when no server owns it: take the owner lock, build the
 * configured pipelines, open their sinks and attach every store. `close` undoes all of it.
 */
import type { TsstoreConfig } from '../config/config-types.js';
import { silentLogger } from '../core/logger.js';
import { buildPipelines, defaultPipelineName, type BuiltPipeline } from '../pipeline/pipeline-builder.js';
import { loadPlugins } from '../pipeline/plugin-loader.js';
import type { Sink } from '../plugin/sink.js';
import { DataLock } from '../stores/data-lock.js';
import { StoreCatalog } from '../stores/store-catalog.js';
import { storeDefaults } from '../config/store-options.js';

export interface LocalDataPath {
  readonly dataDir: string;
  readonly catalog: StoreCatalog;
  readonly pipelines: readonly BuiltPipeline[];
  close(): Promise<void>;
}

export async function openLocalDataPath(config: TsstoreConfig, command: string): Promise<LocalDataPath> {
  const dataDir = config.store.base_path;
  const registry = await loadPlugins(config.plugins, config.source.dir, config.source.file);
  const pipelines = buildPipelines(config, { registry, logger: silentLogger() });
  const lock = await DataLock.acquire(dataDir, command);
  const opened: Sink[] = [];
  let catalog: StoreCatalog | undefined;
  const close = async (): Promise<void> => {
    try {
      await catalog?.closeAll(); // summaries first: `tsstore stores` / `stats` then need no data
      for (const sink of opened) await sink.close().catch(() => undefined);
    } finally {
      lock.release();
    }
  };
  try {
    for (const p of pipelines) {
      await p.sink.open();
      opened.push(p.sink);
    }
    const sinks = new Map(pipelines.map((p) => [p.name, p.sink]));
    catalog = new StoreCatalog(dataDir, { sinks, defaultPipeline: defaultPipelineName(config) }, silentLogger(), storeDefaults(config), {
      maxOpen: config.store.max_open,
    });
    await catalog.load();
    return { dataDir, catalog, pipelines, close };
  } catch (err) {
    await close();
    throw err;
  }
}
