/**
 * The crash case's writer (sinkSuite): loads a sink from its descriptor module, opens one store and
 * writes batches as fast as it can, printing `<i> <timestamp>` for each acknowledged record, until
 * the suite kills it with SIGKILL. Arguments: module path, options JSON, data dir, store spec JSON.
 */
import type { Logger, PluginDescriptor, SinkDescriptor } from '../plugin/descriptor.js';
import { pathToFileURL } from 'node:url';
import type { StoreSpec } from '../plugin/sink.js';

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => silent };

/** A JSON object of `n` bytes (as the suite's `data()` for json stores) or seeded bytes. */
function payload(spec: StoreSpec, i: number): Buffer {
  if (spec.dataType === 'json') {
    const head = `{"i":${i},"p":"`;
    return Buffer.from(`${head}${'x'.repeat(Math.max(0, 48 - head.length - 2))}"}`);
  }
  const b = Buffer.alloc(48);
  let x = i * 2654435761 + 1;
  for (let k = 0; k < b.length; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[k] = x >>> 24;
  }
  return b;
}

function findSink(mod: unknown): SinkDescriptor<unknown> {
  const candidates: unknown[] = [];
  for (let m = mod, depth = 0; depth < 3 && m; depth++) {
    candidates.push(m);
    if (Array.isArray(m)) candidates.push(...m);
    const plugins = (m as { plugins?: unknown }).plugins;
    if (Array.isArray(plugins)) candidates.push(...plugins);
    m = (m as { default?: unknown }).default;
  }
  const found = candidates.find((d): d is PluginDescriptor => typeof d === 'object' && d !== null && (d as PluginDescriptor).kind === 'sink');
  if (!found) throw new Error('the module exports no sink descriptor');
  return found as SinkDescriptor<unknown>;
}

async function main(): Promise<void> {
  const [modulePath, optionsJson, dataDir, specJson] = process.argv.slice(2);
  const descriptor = findSink(await import(pathToFileURL(modulePath).href));
  const { value, error } = descriptor.options.validate(JSON.parse(optionsJson), { convert: true });
  if (error) throw error;
  const spec = JSON.parse(specJson) as StoreSpec;
  const sink = descriptor.create(value, { id: 'crash', logger: silent, dataDir });
  await sink.open();
  await sink.openStore(spec);
  let i = 0;
  const writer = async (): Promise<void> => {
    for (;;) {
      const batch = Array.from({ length: 10 }, () => ({ index: i, data: payload(spec, i++) }));
      const results = await sink.write(
        spec.name,
        batch.map((b) => ({ data: b.data })),
      );
      const lines = results.map((r, k) => (r.ok ? `${batch[k].index} ${r.timestamp}\n` : '')).join('');
      process.stdout.write(lines);
    }
  };
  await Promise.all([writer(), writer(), writer(), writer()]);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
