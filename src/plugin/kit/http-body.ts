/** Reading request bodies with a size cap (Koa has no body parser; we need the raw bytes anyway). */
import type { Context } from 'koa';
import { TssError } from '../errors.js';

/**
 * How much of a refused (too large) body is still read and thrown away, so that the client,
 * which is usually still sending when the 413 leaves, reads the answer instead of failing with
 * EPIPE / ECONNRESET (a server that closes a socket with unread data makes the kernel reset it).
 * A body that goes on beyond this gets the 413 and the connection is closed after it.
 */
export const REFUSED_BODY_DRAIN = 16 * 1024 * 1024;

/**
 * The request body as one Buffer, refused with 413 above `limit` bytes (declared or received).
 * The refused rest is read and discarded (up to REFUSED_BODY_DRAIN, never buffered), so the
 * client reads the 413 and the connection stays usable.
 * Read with plain 'data'/'end' listeners: an async iterator over the request costs a promise per
 * chunk and an end-of-stream watcher per request, a measurable share of a small insert.
 */
export function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limit) {
    // Node discards the unread rest of a request once its answer is sent; beyond the drain
    // bound the connection is closed after the answer instead.
    if (declared - limit > REFUSED_BODY_DRAIN) ctx.set('Connection', 'close');
    return Promise.reject(tooLarge(limit));
  }
  const req = ctx.req;
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (req.destroyed) return Promise.reject(prematureClose());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', finish);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      chunks.length = 0;
      finish(tooLarge(limit));
      drainRefused(ctx, size - limit);
    };
    const onEnd = (): void => finish();
    const onClose = (): void => finish(prematureClose());
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', finish);
    req.on('close', onClose);
  });
}

/**
 * A JSON object body (capped at `limit` bytes); an empty body is `{}`. `shape` names the expected
 * object in the error message.
 */
export async function readJsonObject(ctx: Context, limit: number, shape = 'an object'): Promise<Record<string, unknown>> {
  const raw = await readBody(ctx, limit);
  if (raw.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new TssError('TSS_ERR_INVALID_JSON', `invalid JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TssError('TSS_ERR_INVALID_JSON', `invalid JSON: expected ${shape}`);
  return v as Record<string, unknown>;
}

/**
 * Reads and discards the rest of a refused body while the 413 is answered; past
 * REFUSED_BODY_DRAIN bytes the socket is closed once the answer has been written.
 */
function drainRefused(ctx: Context, already: number): void {
  const { req, res } = ctx;
  let drained = already;
  const stop = (): void => {
    req.off('data', onData);
    req.off('end', stop);
  };
  const onData = (chunk: Buffer): void => {
    drained += chunk.length;
    if (drained <= REFUSED_BODY_DRAIN) return;
    stop();
    req.pause();
    const socket = req.socket;
    if (res.writableFinished) socket.destroy();
    else res.once('finish', () => socket.destroy());
  };
  req.on('data', onData);
  req.once('end', stop);
  req.on('error', () => undefined); // an aborted upload after the refusal is nobody's concern
}

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

function tooLarge(limit: number): TssError {
  return new TssError('TSS_ERR_BODY_TOO_LARGE', `request body too large: the limit is ${limit} bytes`);
}

/** The media type of the request without parameters, lower-cased ('' when absent). */
export function mediaType(ctx: Context): string {
  return (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
}
