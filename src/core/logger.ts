/**
 * Structured logs (pino), one JSON line per event, fields first then a sentence.
 *
 * Secrets never reach a log line: fields that can carry a key (API keys, the admin key, pull
 * connection headers, Authorization) are censored by pino's `redact` at any of the first two
 * levels of nesting, whatever code logs them. Code should not log them in the first place; this
 * is the net under it.
 */
import pino from 'pino';
import type { Logger } from '../plugin/descriptor.js';

const SECRET_FIELDS = [
  'api_key', 'apiKey', 'admin_key', 'adminKey', 'key', 'password', 'secret', 'token',
  'authorization', 'Authorization', 'headers',
];

export const REDACT_PATHS: readonly string[] = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)];

export function createLogger(level: string, destination: number = 1): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  }, pino.destination({ fd: destination, sync: true })) as unknown as Logger;
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' }) as unknown as Logger;
}
