/**
 * Progress of a long CLI operation: on a terminal, one line redrawn at most 10 times a second
 * with a bar, counts, rate and ETA; otherwise nothing until the final summary, so logs and pipes
 * get plain lines.
 */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly stream: ProgressStream = process.stderr,
    private readonly tty = Boolean(stream.isTTY),
  ) {}

  /** `fraction` of the work done (0..1), `records` handled so far. */
  update(fraction: number, records: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.draw(Math.min(1, Math.max(0, fraction)), records, now);
  }

  private draw(fraction: number, records: number, now: number): void {
    const elapsed = (now - this.started) / 1000;
    const rate = elapsed > 0 ? records / elapsed : 0;
    const eta = fraction > 0 ? (elapsed * (1 - fraction)) / fraction : NaN;
    const width = 24;
    const filled = Math.round(fraction * width);
    const text = `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${formatCount(records)} records  ${formatCount(rate)}/s  ETA ${formatDuration(eta)}`;
    this.stream.write(`\r\x1b[K${text.slice(0, Math.max(20, (this.stream.columns ?? 120) - 1))}`);
    this.drawn = true;
  }

  /** Clears the bar and writes the summary line. */
  done(summary: string): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.stream.write(summary + '\n');
  }

  get elapsedSeconds(): number {
    return (Date.now() - this.started) / 1000;
  }
}
