/**
 * A real WebSocket server for tests and the benchmark: a remote that streams numbered records
 * `{"timestamp": BASE + n, "data": {"n": n}}`, honours the resume parameter (replaying from the
 * cursor inclusively, so every resume also exercises dedupe), and can be stopped, restarted on
 * the same port, made silent, made to send garbage, to refuse handshakes, to close connections
 * after a number of messages, or to stop answering pings.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export const FEED_BASE = 1704067200000000000n;

export function feedMessage(n: number): string {
  return `{"timestamp":${FEED_BASE + BigInt(n)},"data":{"n":${n}}}`;
}

interface Client {
  readonly ws: WebSocket;
  next: number;
  sent: number;
}

export class RemoteFeed {
  /** Records 1..produced exist and are streamed. */
  produced = 0;
  /** `stream`: send; `silent`: keep connections open, send nothing; `refuse`: 503 on handshake. */
  mode: 'stream' | 'silent' | 'refuse' = 'stream';
  /** false: ignore the resume parameter and replay everything from record 1. */
  honourResume = true;
  /** Close each connection (code 1000) after sending this many messages. */
  closeAfter?: number;
  /** Every handshake's resume parameter (null when absent) and headers, in order. */
  readonly resumeSeen: (string | null)[] = [];
  readonly headersSeen: http.IncomingHttpHeaders[] = [];
  /** Pings received from tsstore, over every connection. */
  pings = 0;
  private readonly clients = new Set<Client>();
  private server?: http.Server;
  private wss?: WebSocketServer;
  private port = 0;

  private constructor(private readonly resumeParam: string) {}

  static async start(resumeParam = 'from'): Promise<RemoteFeed> {
    const feed = new RemoteFeed(resumeParam);
    await feed.listen();
    return feed;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/feed`;
  }
  get live(): number {
    return this.clients.size;
  }
  get handshakes(): number {
    return this.resumeSeen.length;
  }

  /** Make `n` more records and send them to every streaming connection. */
  produce(n: number): void {
    this.produced += n;
    this.pumpAll();
  }

  /** Send a raw text message to every connection now (garbage, envelopes without data, ...). */
  sendRaw(text: string): void {
    for (const c of this.clients) c.ws.send(text);
  }

  setMode(mode: RemoteFeed['mode']): void {
    this.mode = mode;
    this.pumpAll();
  }

  /** Stop reading every current connection: pings go unanswered, as with a dead peer. */
  freeze(): void {
    for (const c of this.clients) c.ws.pause();
  }

  /** Close the listener and every connection: dials are refused until `restart`. */
  async stop(): Promise<void> {
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    this.wss?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listen again on the same port. */
  async restart(): Promise<void> {
    await this.listen();
  }

  private async listen(): Promise<void> {
    const server = http.createServer((_req, res) => {
      res.writeHead(426).end();
    });
    const wss = new WebSocketServer({
      server,
      verifyClient: (_info, cb) => (this.mode === 'refuse' ? cb(false, 503, 'refusing for the test') : cb(true)),
    });
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
    const from = new URL(req.url ?? '/', 'http://x').searchParams.get(this.resumeParam);
    this.resumeSeen.push(from);
    this.headersSeen.push(req.headers);
    let next = 1;
    if (from !== null && this.honourResume) next = Math.max(1, Number(BigInt(from) - FEED_BASE));
    const client: Client = { ws, next, sent: 0 };
    this.clients.add(client);
    ws.on('error', () => undefined);
    ws.on('ping', () => {
      this.pings++;
    });
    ws.on('close', () => this.clients.delete(client));
    this.pump(client);
  }

  private pumpAll(): void {
    for (const c of this.clients) this.pump(c);
  }

  private pump(c: Client): void {
    if (this.mode !== 'stream' || !this.clients.has(c)) return;
    let burst = 0;
    while (c.next <= this.produced) {
      // Yield now and then: the feed shares its process (and event loop) with tsstore in tests.
      if (++burst > 1000) {
        setImmediate(() => this.pump(c));
        return;
      }
      if (this.closeAfter !== undefined && c.sent >= this.closeAfter) {
        c.ws.close(1000, 'feed closes after a batch');
        this.clients.delete(c);
        return;
      }
      // Bounded socket buffer: a fast feed must not hold the whole backlog in memory.
      if (c.ws.bufferedAmount > 4 << 20) {
        setTimeout(() => this.pump(c), 2);
        return;
      }
      c.ws.send(feedMessage(c.next));
      c.next++;
      c.sent++;
    }
  }
}
