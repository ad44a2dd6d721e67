/**
 * The HTTP server shared by REST, WebSocket and management routes: one koa app, one router,
 * catalog error mapping, optional TLS. Inputs add their routes through the HttpHost they get.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Koa from 'koa';
import Router from '@koa/router';
import websocket from 'koa-easy-ws';
import { ERRORS, TssError, isTssError, toTssError } from '../plugin/errors.js';
import type { HttpHost, Logger } from '../plugin/descriptor.js';
import { errorBody } from '../plugin/kit/http.js';
import { RateLimitedLog } from '../core/rate-limited-log.js';
import { inject, injectable } from '../di.js';
import { TOKENS } from '../tokens.js';
import { storeAuth } from './auth.js';
import { ConnectionRoutes } from './connection-routes.js';

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Hard cap for one WebSocket frame: above it the connection is closed with 1009. */
  readonly wsMaxFrame: number;
  /** Told about every error answer (for metrics). */
  readonly onError?: (code: string) => void;
  /** Called each time a connection's reading stops at MAX_PIPELINED_REQUESTS unanswered requests. */
  readonly onPipelinePause?: () => void;
  /** Node's own request timeouts and how often it checks them (defaults: Node's); tests shorten them. */
  readonly nodeTimeouts?: Pick<http.ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'>;
}

const QUIET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/**
 * Unanswered requests one HTTP/1.1 connection may have (pipelining): at this many the server stops
 * reading the connection until half of them are answered. A client that pipelines and never reads
 * its responses therefore holds at most this many requests (plus the rest of one 64 KiB read).
 */
export const MAX_PIPELINED_REQUESTS = 32;

/**
 * What node's HTTP server itself uses to stop reading a connection whose responses back up
 * (`_paused`, checked before it resumes the socket for a request body) and its parser (paused after
 * the current read when `_paused` is set).
 */
interface PipelinedSocket extends Socket {
  _paused?: boolean;
  parser?: { resume(): void } | null;
  [UNANSWERED]?: number;
}
const UNANSWERED = Symbol('tsstore.unanswered');

@injectable()
export class HttpServer {
  readonly app = new Koa();
  readonly router = new Router();
  private server?: http.Server | https.Server;
  /** The outbound connection endpoints, one set per server, shared by every connection mode. */
  private connectionRoutes?: ConnectionRoutes;
  private readonly sockets = new Set<import('node:net').Socket>();
  /** Refused credentials (warn: an operator wants to see them); other client errors (debug: the
   * pipeline already logs per-record rejections with store, input and code). Both rate-limited. */
  private readonly authErrors: RateLimitedLog;
  private readonly clientErrors: RateLimitedLog;
  private readonly logger: Logger;

  constructor(
    @inject(TOKENS.HttpOptions) private readonly options: HttpOptions,
    @inject(TOKENS.Logger) logger: Logger,
  ) {
    this.logger = logger.child({ component: 'http' });
    this.authErrors = new RateLimitedLog(this.logger, 'warn');
    this.clientErrors = new RateLimitedLog(this.logger, 'debug');
    this.app.on('error', (err: NodeJS.ErrnoException) => {
      if (!QUIET_ERRORS.has(err.code ?? '')) this.logger.error({ err: err.stack ?? String(err) }, 'HTTP server error.');
    });
    this.app.use(async (ctx, next) => {
      try {
        await next();
        if (ctx.status === 404 && ctx.body === undefined) {
          throw new TssError('TSS_ERR_NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
        }
      } catch (err) {
        const e = isTssError(err) ? toTssError(err) : mapForeign(err);
        this.options.onError?.(e.code);
        // ctx.path, never ctx.url: a query string may carry a key (?api_key=, ?admin_key=).
        if (e.code === 'TSS_ERR_INTERNAL')
          this.logger.error({ method: ctx.method, path: ctx.path, err: (err as Error)?.stack ?? String(err) }, 'Request failed.');
        else if (e.status !== 404 || (ctx.params as Record<string, string> | undefined)?.store) {
          const store = (ctx.params as Record<string, string> | undefined)?.store;
          (e.status === 401 ? this.authErrors : this.clientErrors).log(
            e.code,
            {
              code: e.code,
              status: e.status,
              method: ctx.method,
              route: (ctx as { _matchedRoute?: string })._matchedRoute ?? ctx.path,
              ...(store ? { store } : {}),
              err: e.message,
            },
            'Request refused.',
          );
        }
        ctx.status = e.status;
        ctx.type = 'application/json';
        ctx.body = errorBody(e);
      }
    });
    this.app.use(websocket('ws', { wsOptions: { maxPayload: options.wsMaxFrame } }));
  }

  host(stores: Parameters<typeof storeAuth>[0], adminKey: string): HttpHost {
    const server = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the getter must read the live URL
    const auth = storeAuth(stores, adminKey);
    this.connectionRoutes ??= new ConnectionRoutes(this.router, auth);
    return {
      router: this.router,
      storeAuth: auth,
      connections: this.connectionRoutes,
      get address() {
        return server.url;
      },
    };
  }

  async listen(): Promise<void> {
    this.app.use(this.router.routes());
    this.app.use(this.router.allowedMethods());
    const callback = this.app.callback();
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      void callback(req, res);
    };
    const request = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      holdPipelined(req.socket as PipelinedSocket, res, this.options.onPipelinePause);
      handler(req, res);
    };
    const { tls, nodeTimeouts = {} } = this.options;
    this.server = tls
      ? https.createServer({ ...nodeTimeouts, cert: readPem(tls.cert, 'certificate'), key: readPem(tls.key, 'key') }, request)
      : http.createServer(nodeTimeouts, request);
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    // Upgrade requests go through koa too (koa-easy-ws answers them), but via node's 'upgrade'
    // event: without an 'upgrade' listener node keeps its HTTP parser on the socket, reads the
    // WebSocket frames as the start of a next request, and its headers timeout then kills a
    // WebSocket that has been quiet for a minute.
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (head.length > 0) socket.unshift(head);
      const res = new http.ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket as Socket);
      res.once('finish', () => {
        res.detachSocket(socket as Socket);
        socket.end();
      });
      handler(req, res);
    });
    this.server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.port, this.options.host, () => {
        this.server!.off('error', reject);
        resolve();
      });
    });
  }

  /** Open client connections (HTTP keep-alive and upgraded WebSockets). */
  get connections(): number {
    return this.sockets.size;
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.options.port;
  }

  get url(): string {
    const host = this.options.host === '0.0.0.0' || this.options.host === '::' ? '127.0.0.1' : this.options.host;
    return `${this.options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  /** Stop accepting; let requests in flight finish for up to `graceMs`, then cut what is left. */
  async close(graceMs = 5_000): Promise<void> {
    this.authErrors.close();
    this.clientErrors.close();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  }
}

/**
 * Pipelining back-pressure: counts a connection's unanswered requests; at MAX_PIPELINED_REQUESTS it
 * stops reading the connection (the way node does when responses back up), and reads again once
 * half of them are answered — unless node itself still waits for the socket to drain.
 */
function holdPipelined(socket: PipelinedSocket, res: http.ServerResponse, onPause?: () => void): void {
  const unanswered = (socket[UNANSWERED] ?? 0) + 1;
  socket[UNANSWERED] = unanswered;
  if (unanswered >= MAX_PIPELINED_REQUESTS) {
    if (!socket._paused) onPause?.();
    socket._paused = true;
    socket.pause();
  }
  res.once('close', () => {
    const left = (socket[UNANSWERED] ?? 1) - 1;
    socket[UNANSWERED] = left;
    if (left === MAX_PIPELINED_REQUESTS >> 1 && socket._paused && !socket.writableNeedDrain && !socket.destroyed) {
      socket._paused = false;
      socket.parser?.resume();
      socket.resume();
    }
  });
}

function readPem(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read TLS ${what} ${file}: ${(err as Error).message}`);
  }
}

/** Errors thrown by koa/router themselves (405, 501, bad URL encoding) keep their 4xx status. */
function mapForeign(err: unknown): TssError {
  const status = (err as { status?: number; expose?: boolean })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const e = new TssError('TSS_ERR_BAD_REQUEST', (err as Error).message || ERRORS.TSS_ERR_BAD_REQUEST.message);
    (e as { status: number }).status = status;
    return e;
  }
  return toTssError(err);
}
