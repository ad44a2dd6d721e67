/** Reading request bodies with a size cap (Koa has no body parser; we need the raw bytes anyway). */
import type { Context } from 'koa';
import { TssError } from '../errors.js';

export async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      ctx.req.unpipe();
      ctx.req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
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

function tooLarge(limit: number): TssError {
  return new TssError('TSS_ERR_BODY_TOO_LARGE', `request body too large: the limit is ${limit} bytes`);
}

/** The media type of the request without parameters, lower-cased ('' when absent). */
export function mediaType(ctx: Context): string {
  return (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
}
