/**
 * A real WebSocket server for the push tests and benchmark: a remote receiving a push connection.
 * It keeps every message in arrival order (per connection), de-duplicates data messages by
 * timestamp as a receiver should, and can be stopped and restarted on the same port, stop reading
 * (`freeze`), close every connection after a number of messages, or refuse handshakes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseJsonExact } from 'tsstore/plugin';

export interface Received {
  readonly type?: string;
  readonly timestamp: bigint;
  readonly data: unknown;
}

export class Receiver {
  /** Every data message, in arrival order, duplicates included. */
  readonly all: Received[] = [];
  /** Data messages with a timestamp newer than every one before: the de-duplicated stream. */
  readonly unique: Received[] = [];
  /** Handshake headers, in order. */
  readonly headersSeen: http.IncomingHttpHeaders[] = [];
  /** Per connection: did its data timestamps strictly increase? */
  readonly outOfOrder: string[] = [];
  /** Close each connection (code 1011) after this many data messages. */
  closeAfter?: number;
  refuse = false;
  /** Do not read new connections (a remote that never reads). */
  frozen = false;
  private readonly sockets = new Set<WebSocket>();
  private server?: http.Server;
  private wss?: WebSocketServer;
  private port = 0;
  private last?: bigint;

  static async start(): Promise<Receiver> {
    const r = new Receiver();
    await r.listen();
    return r;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ingest`;
  }
  get connections(): number {
    return this.headersSeen.length;
  }
  get live(): number {
    return this.sockets.size;
  }

  /** Stop reading every open connection (TCP fills up; pings go unanswered). */
  freeze(): void {
    this.frozen = true;
    for (const ws of this.sockets) ws.pause();
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    this.wss?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async restart(): Promise<void> {
    await this.listen();
  }

  private async listen(): Promise<void> {
    const server = http.createServer((_req, res) => {
      res.writeHead(426).end();
    });
    const wss = new WebSocketServer({ server, verifyClient: (_info, cb) => (this.refuse ? cb(false, 503, 'refusing for the test') : cb(true)) });
    wss.on('error', () => undefined);
    wss.on('connection', (ws, req) => this.accepted(ws, req));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    this.wss = wss;
  }

  private accepted(ws: WebSocket, req: http.IncomingMessage): void {
    this.headersSeen.push(req.headers);
    this.sockets.add(ws);
    ws.on('error', () => undefined);
    ws.on('close', () => this.sockets.delete(ws));
    if (this.frozen) ws.pause();
    let prev: bigint | undefined;
    let count = 0;
    const conn = this.headersSeen.length;
    ws.on('message', (raw: Buffer) => {
      const m = parseJsonExact(raw) as Received;
      if (m.type !== 'data') return;
      this.all.push(m);
      if (prev !== undefined && m.timestamp <= prev) this.outOfOrder.push(`connection ${conn}: ${m.timestamp} after ${prev}`);
      prev = m.timestamp;
      if (this.last === undefined || m.timestamp > this.last) {
        this.unique.push(m);
        this.last = m.timestamp;
      }
      if (this.closeAfter !== undefined && ++count >= this.closeAfter) ws.close(1011, 'receiver closes after a batch');
    });
  }
}
