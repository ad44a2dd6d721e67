/** Checks a `POST .../ws/connections` body; every problem is a 400 naming the field. */
import { handshakeHeaders, type SchemaFormat, TssError } from 'tsstore/plugin';

export interface ConnectionRequest {
  readonly url: string;
  readonly format: SchemaFormat;
  readonly headers: Record<string, string>;
}

const FIELDS = ['mode', 'url', 'format', 'headers'];
/** Set by the WebSocket client itself; a caller's value would break the handshake. */

function bad(message: string): TssError {
  return new TssError('TSS_ERR_BAD_REQUEST', message);
}

export function parseConnectionRequest(body: Record<string, unknown>): ConnectionRequest {
  const unknown = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknown.length) throw bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; allowed: ${FIELDS.join(', ')}`);

  if (body.mode === undefined) throw bad('mode is required: "pull" (tsstore dials the url and stores what the remote sends)');
  if (body.mode !== 'pull') throw bad(`unsupported mode ${JSON.stringify(body.mode)}: only "pull" is supported`);

  if (typeof body.url !== 'string' || body.url === '') throw bad('url is required: a ws:// or wss:// URL');
  let url: URL;
  try {
    url = new URL(body.url);
  } catch {
    throw bad(`url is not a valid URL: ${JSON.stringify(body.url)}`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw bad(`url must use the ws:// or wss:// scheme, got ${url.protocol}//`);
  if (!url.hostname) throw bad('url has no host');
  if (url.hash) throw bad('url must not contain a fragment (#...)');

  const format = body.format ?? 'full';
  if (format !== 'full' && format !== 'compact') throw bad(`format must be "full" or "compact", got ${JSON.stringify(format)}`);

  const headers = handshakeHeaders(body.headers);
  return { url: body.url, format, headers };
}
