/**
 * What `serve` prints on a terminal once it serves: where it listens, where the data is, what
 * each pipeline runs, where the metrics are — a few lines for a person. Off a terminal only the
 * JSON log lines are written (the same facts are in `tsstore is serving.`).
 */
import type { TsstoreServer } from '../server.js';

const named = (p: { id: string; type: string }): string => (p.id === p.type ? p.id : `${p.id} (${p.type})`);

export function startupSummary(server: TsstoreServer, version: string): string {
  const { config, url } = server;
  const http = config.server.host === '0.0.0.0' || config.server.host === '::' ? `${url}  (all interfaces, port ${server.port})` : url;
  const sockets = server.layout.pipelines.flatMap((p) => p.inputs.flatMap((i) => i.resources.filter((r) => r.kind === 'unix-socket').map((r) => r.id)));
  const ports = server.layout.pipelines.flatMap((p) =>
    p.inputs.flatMap((i) => i.resources.filter((r) => r.kind === 'tcp-port').map((r) => `${r.id} (${i.id})`)),
  );
  const stores = server.catalog.list().length;
  const unavailable = server.catalog.unavailable().length;
  const lines = [
    `tsstore ${version} is serving${config.server.tls ? ' (TLS)' : ''}`,
    `  http      ${http}`,
    ...sockets.map((s) => `  socket    ${s}`),
    ...ports.map((p) => `  port      ${p}`),
    `  data      ${config.store.base_path}  (${stores} store${stores === 1 ? '' : 's'}${unavailable ? `, ${unavailable} unavailable` : ''})`,
    ...server.layout.pipelines.map(
      (p) =>
        `  pipeline  ${p.name}: ${p.inputs.map(named).join(', ') || 'no inputs'} → ${[...p.stages, p.sink].join(' → ')}${p.outputs.length ? `; outputs ${p.outputs.map(named).join(', ')}` : ''}`,
    ),
    `  metrics   ${url}/metrics   health ${url}/health   ready ${url}/ready`,
    'Ctrl-C stops the server (it finishes what it received first).',
  ];
  return `${lines.join('\n')}\n`;
}
