/**
 * Human-readable log lines for a terminal (`--log-format pretty`, or `auto` on a TTY): one line
 * per event — time, level, message, then the event's fields as key=value. It is a pino
 * destination: pino has already serialised the event (secrets redacted by its `redact` paths), so
 * this only re-renders the JSON line, keeping integers above 2^53 exact. Loaded only when used.
 */
import { parseJsonExact, stringifyExact } from './json/index.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '\x1b[90m', 20: '\x1b[36m', 30: '\x1b[32m', 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[35m' };
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
/** Fields every line has or that say nothing to a reader on a terminal. */
const HIDDEN = new Set(['time', 'level', 'msg', 'pid', 'hostname']);

function value(v: unknown): string {
  if (typeof v === 'string') return v === '' || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return stringifyExact(v);
}

/** One pino JSON line rendered as `2026-12-02 14:23:17.123 INFO  message key=value ...`. */
export function prettyLine(line: string, color: boolean): string {
  let event: Record<string, unknown>;
  try {
    event = parseJsonExact(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return line.endsWith('\n') ? line : `${line}\n`;
  const level = Number(event.level);
  const name = (LEVELS[level] ?? String(event.level)).padEnd(5);
  const time = typeof event.time === 'string' ? event.time.replace('T', ' ') : new Date(Number(event.time)).toISOString().replace('T', ' ');
  const fields = Object.entries(event)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`);
  const msg = typeof event.msg === 'string' ? event.msg : '';
  const rest = fields.length ? ` ${color ? DIM : ''}${fields.join(' ')}${color ? RESET : ''}` : '';
  return `${color ? DIM : ''}${time}${color ? RESET : ''} ${color ? (COLORS[level] ?? '') : ''}${name}${color ? RESET : ''} ${msg}${rest}\n`;
}

/** A pino destination that writes pretty lines to `out` (pino's own synchronous destination). */
export function prettyDestination(out: { write(s: string): unknown }, color: boolean): { write(chunk: string): void } {
  return {
    write(chunk: string): void {
      let text = '';
      for (const line of chunk.split('\n')) if (line) text += prettyLine(line, color);
      if (text) out.write(text);
    },
  };
}
