/** Reading request bodies with a size cap (Koa has no body parser; we need the raw bytes anyway). */
import type { Context } from 'koa';
import { TssError } from '../errors.js';

/**
 * The request body as one Buffer, refused with 413 above `limit` bytes (declared or received).
 * Read with plain 'data'/'end' listeners: an async iterator over the request costs a promise per
 * chunk and an end-of-stream watcher per request, a measurable share of a small insert.
 */
export function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limit) return Promise.reject(tooLarge(limit));
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
      if (size <= limit) { chunks.push(chunk); return; }
      finish(tooLarge(limit));
      req.unpipe();
      req.destroy();
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
