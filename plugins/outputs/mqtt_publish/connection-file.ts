/**
 * `<dataDir>/<store>/mqtt_connections.json` (the reference's file name): every MQTT publish
 * connection of a store, credentials included (they are needed to reconnect after a restart), so
 * the file is mode 0600 and replaced atomically. The cursors are not here: each connection's
 * delivery keeps its own (`<store>/outputs/mqtt-<id>.json`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseJsonExact, stringifyExact, writeFileAtomic } from 'tsstore/plugin';
import type { MqttConnectionRequest } from './connection-request.js';

export const MQTT_CONNECTIONS_FILE = 'mqtt_connections.json';

export interface MqttConnectionConfig extends MqttConnectionRequest {
  readonly id: string;
  readonly created_at: string;
}

export function mqttConnectionsFile(dataDir: string, store: string): string {
  return path.join(dataDir, store, MQTT_CONNECTIONS_FILE);
}

function str(o: Record<string, unknown>, k: string, at: string, optional = false): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new Error(`${at}.${k} is missing`);
  }
  if (typeof v !== 'string') throw new Error(`${at}.${k} is not a string`);
  return v;
}

function checkEntry(e: unknown, i: number): MqttConnectionConfig {
  const at = `connections[${i}]`;
  if (!e || typeof e !== 'object' || Array.isArray(e)) throw new Error(`${at} is not an object`);
  const o = e as Record<string, unknown>;
  const from = o.from;
  if (typeof from !== 'bigint' && !(typeof from === 'number' && Number.isSafeInteger(from))) throw new Error(`${at}.from is not an integer`);
  if (typeof o.include_timestamp !== 'boolean') throw new Error(`${at}.include_timestamp is not a boolean`);
  if (typeof o.cursor_persist_interval !== 'number' || !Number.isSafeInteger(o.cursor_persist_interval))
    throw new Error(`${at}.cursor_persist_interval is not an integer`);
  return {
    id: str(o, 'id', at)!,
    broker_url: str(o, 'broker_url', at)!,
    topic: str(o, 'topic', at)!,
    client_id: str(o, 'client_id', at, true),
    username: str(o, 'username', at, true),
    password: str(o, 'password', at, true),
    from: BigInt(from),
    include_timestamp: o.include_timestamp,
    cursor_persist_interval: o.cursor_persist_interval,
    created_at: str(o, 'created_at', at)!,
  };
}

/** The store's connections ([] without a file). Throws with the reason when the file is unusable. */
export async function readMqttConnections(file: string): Promise<MqttConnectionConfig[]> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const doc = parseJsonExact(text) as { connections?: unknown };
  if (!doc || !Array.isArray(doc.connections)) throw new Error('no "connections" array');
  return doc.connections.map(checkEntry);
}

export async function writeMqttConnections(file: string, list: readonly MqttConnectionConfig[]): Promise<void> {
  await writeFileAtomic(file, stringifyExact({ version: 1, connections: list }, 2) + '\n', 0o600);
}
