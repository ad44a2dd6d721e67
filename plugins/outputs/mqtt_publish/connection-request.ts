/**
 * A `POST .../mqtt/connections` body, checked: every problem is a 400 naming the field. The
 * fields and their meaning follow the reference server's MQTT sink.
 */
import { TssError } from 'tsstore/plugin';

export interface MqttConnectionRequest {
  readonly broker_url: string;
  readonly topic: string;
  readonly client_id?: string;
  readonly username?: string;
  readonly password?: string;
  /** 0: the oldest record; -1: records committed from now on; else records after this timestamp. */
  readonly from: bigint;
  readonly include_timestamp: boolean;
  /** > 0: the cursor is persisted and resumed; 0: in memory, reconnects; -1: one attempt, no reconnect. */
  readonly cursor_persist_interval: number;
}

const FIELDS = ['broker_url', 'topic', 'client_id', 'username', 'password', 'from', 'include_timestamp', 'cursor_persist_interval'];
export const BROKER_SCHEMES = ['tcp:', 'ssl:', 'mqtt:', 'mqtts:'];
const MAX_TS = (1n << 63n) - 1n;

function bad(message: string): TssError {
  return new TssError('TSS_ERR_BAD_REQUEST', message);
}

function optionalString(body: Record<string, unknown>, name: string, max: number): string | undefined {
  const v = body[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw bad(`${name} must be a string`);
  if (Buffer.byteLength(v) > max) throw bad(`${name} is too long: at most ${max} bytes`);
  return v;
}

function integer(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) return BigInt(v);
  return undefined;
}

/** Checks a broker URL (scheme, host, no path beyond `/`); returns it parsed. */
export function checkBrokerUrl(value: unknown): URL {
  if (typeof value !== 'string' || value === '') throw bad('broker_url is required: a tcp://, ssl://, mqtt:// or mqtts:// URL, e.g. tcp://broker.local:1883');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad('broker_url is not a valid URL');
  }
  if (!BROKER_SCHEMES.includes(url.protocol)) throw bad(`broker_url must use tcp://, ssl://, mqtt:// or mqtts://, got ${url.protocol}//`);
  if (!url.hostname) throw bad('broker_url has no host');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash)
    throw bad('broker_url must be scheme://host[:port] without a path, query or fragment');
  return url;
}

export function parseMqttConnectionRequest(body: Record<string, unknown>): MqttConnectionRequest {
  const unknown = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknown.length) throw bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; allowed: ${FIELDS.join(', ')}`);
  checkBrokerUrl(body.broker_url);

  const topic = body.topic;
  if (typeof topic !== 'string' || topic === '') throw bad('topic is required: the MQTT topic to publish to, e.g. sensors/room1');
  if (/[+#]/.test(topic)) throw bad('topic must not contain the wildcards + or #: a publish goes to one topic');
  if (topic.includes('\u0000')) throw bad('topic must not contain a NUL character');
  if (Buffer.byteLength(topic) > 65_535) throw bad('topic is too long: at most 65535 bytes');

  const client_id = optionalString(body, 'client_id', 65_535);
  const username = optionalString(body, 'username', 65_535);
  const password = optionalString(body, 'password', 65_535);

  let from = 0n;
  if (body.from !== undefined && body.from !== null) {
    const f = integer(body.from);
    if (f === undefined || f < -1n || f > MAX_TS) throw bad('from must be 0 (the oldest record), -1 (from now on) or a timestamp in nanoseconds');
    from = f;
  }

  const include_timestamp = body.include_timestamp ?? false;
  if (typeof include_timestamp !== 'boolean') throw bad('include_timestamp must be true or false');

  let cursor_persist_interval = 0;
  if (body.cursor_persist_interval !== undefined && body.cursor_persist_interval !== null) {
    const c = body.cursor_persist_interval;
    if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < -1)
      throw bad(
        'cursor_persist_interval must be an integer: > 0 to persist the cursor and resume after a restart, 0 for a cursor in memory, -1 for one attempt without reconnecting',
      );
    cursor_persist_interval = c;
  }
  return { broker_url: body.broker_url as string, topic, client_id, username, password, from, include_timestamp, cursor_persist_interval };
}
