/**
 * One "send these records' data to a schema store" function per input method, all with the same
 * shape, so the schema test tables run identically through every input. Streaming senders
 * pipeline all records on one connection and collect the replies in order; REST batch sends them
 * as one NDJSON request; REST single sends them one request at a time.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { WebSocketServer } from 'ws';
import { parseJsonExact } from '../../src/core/json/index.js';
import { api } from './server.js';

export type SendResult = { readonly ok: true; readonly timestamp: bigint } | { readonly ok: false; readonly message: string };

export interface SendTarget {
  readonly url: string;
  readonly store: string;
  readonly key: string;
  /** The server's Unix socket, for the socket sender. */
  readonly socketPath?: string;
}

export interface Sender {
  readonly name: string;
  /** The formats this input can send (`compact` needs a way to say so). */
  readonly formats: readonly ('full' | 'compact')[];
  /** Sends one record per element of `data` (each the JSON text of `data`); one result each, in order. */
  send(target: SendTarget, data: readonly string[], format: 'full' | 'compact'): Promise<SendResult[]>;
}

export function show(r: SendResult): string {
  return r.ok ? `accepted at ${r.timestamp}` : `rejected: ${r.message}`;
}

export const restSingle: Sender = {
  name: 'REST single',
  formats: ['full', 'compact'],
  async send(t, data, format) {
    const q = format === 'compact' ? '?format=compact' : '';
    const out: SendResult[] = [];
    for (const d of data) {
      const res = await api(t.url, 'POST', `/api/stores/${t.store}/data${q}`, `{"data":${d}}`, { 'X-API-Key': t.key, 'Content-Type': 'application/json' });
      if (res.status >= 500) throw new Error(`server error ${res.status}: ${res.text}`);
      out.push(res.status === 201 ? { ok: true, timestamp: BigInt(res.json.timestamp as bigint | number) } : { ok: false, message: res.json.error as string });
    }
    return out;
  },
};

export const restBatch: Sender = {
  name: 'REST batch',
  formats: ['full', 'compact'],
  async send(t, data, format) {
    const q = format === 'compact' ? '?format=compact' : '';
    const body = data.map((d) => `{"data":${d}}\n`).join('');
    const res = await api(t.url, 'POST', `/api/stores/${t.store}/data/batch${q}`, body, { 'X-API-Key': t.key, 'Content-Type': 'application/x-ndjson' });
    if (res.status !== 200) throw new Error(`batch answered ${res.status}: ${res.text}`);
    const results = res.json.results as { index: number; timestamp?: bigint | number; error?: string }[];
    if (results.length !== data.length) throw new Error(`batch answered ${results.length} results for ${data.length} records`);
    return results.map((r) => (r.error === undefined ? { ok: true, timestamp: BigInt(r.timestamp!) } : { ok: false, message: r.error }));
  },
};

function wsSender(format: 'full' | 'compact'): (t: SendTarget, data: readonly string[]) => Promise<SendResult[]> {
  return (t, data) =>
    new Promise((resolve, reject) => {
      const url = `${t.url.replace(/^http/, 'ws')}/api/stores/${t.store}/ws/write?format=${format}`;
      const ws = new WebSocket(url, { headers: { 'X-API-Key': t.key } });
      const out: SendResult[] = [];
      ws.on('error', reject);
      ws.on('open', () => {
        for (const d of data) ws.send(`{"data":${d}}`);
      });
      ws.on('message', (m: Buffer) => {
        const reply = parseJsonExact(m.toString('utf8')) as { type: string; timestamp?: bigint | number; message?: string };
        out.push(reply.type === 'ack' ? { ok: true, timestamp: BigInt(reply.timestamp!) } : { ok: false, message: reply.message! });
        if (out.length === data.length) {
          ws.close();
          resolve(out);
        }
      });
      ws.on('close', () => {
        if (out.length < data.length) reject(new Error(`websocket closed after ${out.length} of ${data.length} replies`));
      });
    });
}

export const webSocket: Sender = {
  name: 'WebSocket',
  formats: ['full', 'compact'],
  send: (t, data, format) => wsSender(format)(t, data),
};

export const unixSocket: Sender = {
  name: 'Unix socket',
  formats: ['full'],
  send(t, data) {
    return new Promise((resolve, reject) => {
      if (!t.socketPath) {
        reject(new Error('no socket path'));
        return;
      }
      const sock = net.createConnection(t.socketPath);
      const out: SendResult[] = [];
      let authed = false;
      let done = false;
      let buf = '';
      sock.on('error', reject);
      sock.on('connect', () => sock.write(`AUTH ${t.store} ${t.key}\n${data.map((d) => `${d}\n`).join('')}`));
      sock.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let nl: number;
        while (out.length < data.length && (nl = buf.indexOf('\n')) !== -1) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!authed) {
            if (line !== 'OK') {
              reject(new Error(`AUTH answered ${line}`));
              sock.destroy();
              return;
            }
            authed = true;
            continue;
          }
          if (line.startsWith('OK ')) out.push({ ok: true, timestamp: BigInt(line.slice(3)) });
          else if (line.startsWith('ERROR ')) out.push({ ok: false, message: line.slice(6) });
          else {
            reject(new Error(`unexpected reply ${line}`));
            sock.destroy();
            return;
          }
        }
        if (out.length === data.length && !done) {
          done = true;
          sock.end('QUIT\n');
          resolve(out);
        }
      });
      sock.on('close', () => {
        if (out.length < data.length) reject(new Error(`socket closed after ${out.length} of ${data.length} replies`));
      });
    });
  },
};

interface PullStatus {
  records_stored: number;
  errors: number;
  last_error: string | null;
  last_timestamp: bigint | number | null;
}

/**
 * Outbound pull: a local WebSocket server plays the remote; tsstore dials it and stores what it
 * sends. Records go one at a time, each outcome read from the connection's status (a rejection
 * is `last_error`, `record (no timestamp) rejected: <message>`).
 */
export const wsPull: Sender = {
  name: 'outbound pull',
  formats: ['full', 'compact'],
  async send(t, data, format) {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('error', () => undefined);
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const peer = new Promise<WebSocket>((resolve) =>
      wss.once('connection', (ws) => {
        ws.on('error', () => undefined);
        resolve(ws);
      }),
    );
    const h = { 'X-API-Key': t.key };
    let path: string | undefined;
    try {
      const created = await api(
        t.url,
        'POST',
        `/api/stores/${t.store}/ws/connections`,
        { mode: 'pull', url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/feed`, format },
        h,
      );
      if (created.status !== 201) throw new Error(`create pull connection: ${created.status} ${created.text}`);
      path = `/api/stores/${t.store}/ws/connections/${created.json.id as string}`;
      const status = async (): Promise<PullStatus> => (await api(t.url, 'GET', path!, undefined, h)).json as PullStatus;
      const ws = await peer;
      const out: SendResult[] = [];
      let before = await status();
      for (const d of data) {
        ws.send(`{"data":${d}}`);
        const deadline = Date.now() + 10_000;
        let now = await status();
        while (now.records_stored === before.records_stored && now.errors === before.errors) {
          if (Date.now() > deadline) throw new Error(`pull connection took no decision on ${d}`);
          await sleep(2);
          now = await status();
        }
        if (now.errors > before.errors) out.push({ ok: false, message: (now.last_error ?? '').replace(/^record \(no timestamp\) rejected: /, '') });
        else out.push({ ok: true, timestamp: BigInt(now.last_timestamp!) });
        before = now;
      }
      return out;
    } finally {
      if (path) await api(t.url, 'DELETE', path, undefined, h);
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  },
};
