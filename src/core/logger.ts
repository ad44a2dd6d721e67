/** Structured logs (pino), one JSON line per event, fields first then a sentence. */
import pino from 'pino';
import type { Logger } from '../plugin/descriptor.js';

export function createLogger(level: string, destination: number = 1): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: destination, sync: true })) as unknown as Logger;
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' }) as unknown as Logger;
}
