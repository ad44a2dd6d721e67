/**
 * Structured logs (pino), one event per line, fields first then a sentence: JSON lines by default,
 * or one readable line each (`pretty`: time, level, message, key=value fields) for a person at a
 * terminal. `auto` — the default — is `pretty` when standard output is a TTY, else JSON.
 *
 * Secrets never reach a log line, in either format: fields that can carry a key (API keys, the
 * admin key, pull connection headers, Authorization) are censored by pino's `redact` at any of the
 * first two levels of nesting, whatever code logs them, before the line is formatted. Code should
 * not log them in the first place; this is the net under it.
 */
import pino from 'pino';
import type { Logger } from '../plugin/descriptor.js';

const SECRET_FIELDS = ['api_key', 'apiKey', 'admin_key', 'adminKey', 'key', 'password', 'secret', 'token', 'authorization', 'Authorization', 'headers'];

export const REDACT_PATHS: readonly string[] = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)];

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `auto` resolved for a destination: pretty on a TTY, JSON otherwise. */
export function resolveLogFormat(format: LogFormat, isTty: boolean): 'json' | 'pretty' {
  return format === 'auto' ? (isTty ? 'pretty' : 'json') : format;
}

export function createLogger(level: string, destination: number = 1, format: LogFormat = 'json'): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  };
  const tty = (destination === 1 && process.stdout.isTTY) || (destination === 2 && process.stderr.isTTY);
  const out = pino.destination({ fd: destination, sync: true });
  if (resolveLogFormat(format, Boolean(tty)) === 'pretty') {
    // Loaded only when used: JSON logs never load the formatter.
    const { prettyDestination } = require('./pretty-log.js') as typeof import('./pretty-log.js'); // eslint-disable-line @typescript-eslint/no-require-imports
    return pino(options, prettyDestination(out, Boolean(tty) && !process.env.NO_COLOR)) as unknown as Logger;
  }
  return pino(options, out) as unknown as Logger;
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' }) as unknown as Logger;
}
