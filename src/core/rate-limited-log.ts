/**
 * Logging of per-record problems that a client can repeat at will (bad JSON, out-of-order
 * timestamps…): at most `limit` lines per `intervalMs` for each key (e.g. input + error code);
 * what goes beyond is counted and reported in one summary line per key and interval, so a flood
 * of bad input cannot flood the disk.
 */
import type { Logger } from '../plugin/descriptor.js';

export interface RateLimit {
  readonly limit: number;
  readonly intervalMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { limit: 10, intervalMs: 10_000 };

interface Window {
  start: number;
  logged: number;
  suppressed: number;
  fields: object;
}

export class RateLimitedLog {
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly level: 'warn' | 'info' | 'debug' = 'warn',
    private readonly rate: RateLimit = DEFAULT_RATE_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `fields`/`msg` unless `key` already used its lines in the current interval. */
  log(key: string, fields: object, msg: string): void {
    const t = this.now();
    let w = this.windows.get(key);
    if (w && t - w.start >= this.rate.intervalMs) {
      this.summarise(key, w);
      w = undefined;
    }
    if (!w) {
      w = { start: t, logged: 0, suppressed: 0, fields };
      this.windows.set(key, w);
    }
    if (w.logged < this.rate.limit) {
      w.logged++;
      this.logger[this.level](fields, msg);
      return;
    }
    w.suppressed++;
    w.fields = fields;
    this.timer ??= setTimeout(() => this.sweep(), this.rate.intervalMs).unref();
  }

  /** Writes the summaries of every finished interval (and of all, when `all`). */
  sweep(all = false): void {
    this.timer = undefined;
    const t = this.now();
    for (const [key, w] of this.windows) {
      if (all || t - w.start >= this.rate.intervalMs) this.summarise(key, w);
    }
    if (this.windows.size > 0 && !all) this.timer = setTimeout(() => this.sweep(), this.rate.intervalMs).unref();
  }

  /** Flushes pending summaries and stops the timer. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.sweep(true);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private summarise(key: string, w: Window): void {
    this.windows.delete(key);
    if (w.suppressed > 0) {
      this.logger[this.level](
        { ...w.fields, suppressed: w.suppressed, intervalMs: this.rate.intervalMs },
        `Suppressed ${w.suppressed} similar log lines (more than ${this.rate.limit} per ${this.rate.intervalMs / 1000} s).`,
      );
    }
  }
}
