/**
 * Newline-delimited framing with a length limit, for line protocols on streams (a socket, a file,
 * a request body read in chunks). Feed it chunks as they arrive: a line may span any number of
 * chunks; each complete line is handed over without its `\n` (and without a `\r` before it). A
 * line longer than `maxLine` bytes is reported once through `tooLong` and skipped up to its
 * newline, without ever buffering more than `maxLine` bytes; the lines after it carry on.
 *
 * Lines handed to `line` may be views into the chunk: copy them to keep them past the call.
 */
const NL = 0x0a;
const CR = 0x0d;

export interface LineHandler {
  /** One complete line, without its line ending. */
  line(line: Buffer): void;
  /** A line longer than the limit was skipped (`maxLine` is the limit, for the message). */
  tooLong(maxLine: number): void;
}

export class LineSplitter {
  private parts: Buffer[] = [];
  private partLength = 0;
  private discarding = false;
  private halted = false;

  constructor(
    private readonly maxLine: number,
    private readonly handler: LineHandler,
  ) {}

  /** Bytes of an unfinished line held from earlier chunks. */
  get buffered(): number {
    return this.partLength;
  }

  /** Split a chunk; stops early (dropping the rest) once `halt()` was called from a handler. */
  push(chunk: Buffer): void {
    if (this.halted) return;
    let start = 0;
    if (this.discarding) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) return;
      this.discarding = false;
      start = nl + 1;
    }
    const max = this.maxLine;
    while (start < chunk.length && !this.halted) {
      const nl = chunk.indexOf(NL, start);
      if (nl < 0) {
        const rest = chunk.length - start;
        if (this.partLength + rest > max) this.skip(true);
        else {
          this.parts.push(chunk.subarray(start));
          this.partLength += rest;
        }
        return;
      }
      let line: Buffer;
      if (this.parts.length > 0) {
        this.parts.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.parts, this.partLength + nl - start);
        this.parts = [];
        this.partLength = 0;
      } else line = chunk.subarray(start, nl);
      start = nl + 1;
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      if (line.length > max) this.skip(false);
      else this.handler.line(line);
    }
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    if (this.halted || this.discarding || this.partLength === 0) return;
    let line = Buffer.concat(this.parts, this.partLength);
    this.parts = [];
    this.partLength = 0;
    if (line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    this.handler.line(line);
  }

  /** Split nothing more (the connection is closing); drops what is buffered. */
  halt(): void {
    this.halted = true;
    this.parts = [];
    this.partLength = 0;
  }

  /** `midLine`: the limit was crossed before the newline arrived; skip up to it. */
  private skip(midLine: boolean): void {
    this.parts = [];
    this.partLength = 0;
    this.discarding = midLine;
    this.handler.tooLong(this.maxLine);
  }
}
