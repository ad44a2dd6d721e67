/**
 * Import and export file formats, streamed (memory stays bounded whatever the file size).
 *
 * NDJSON: one `{"timestamp": T, "data": …}` envelope per line, timestamps exact (bigint), `data`
 * kept as its source text. Export writes exactly `{"timestamp":T,"data":D}\n`, so an export is a
 * valid import and re-importing it is byte-identical.
 *
 * CSV (RFC 4180, header row required): a timestamp column (nanoseconds or RFC 3339) and either a
 * `data` column holding the record's data as JSON text (what `export --format csv` writes), or any
 * other columns, which become a JSON object: numbers, true/false/null as JSON literals, everything
 * else as strings; empty cells are left out.
 */
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { decodeEnvelope } from '../core/json/index.js';
import { timeValue } from '../http/query-params.js';
import type { ExportRecord, ImportRecord } from './store-data.js';

export class ImportFileError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export interface ReadProgress {
  /** Bytes of the file consumed so far. */
  bytes: number;
}

/** The records of an NDJSON file; blank lines are skipped. */
export async function* readNdjson(file: string, progress: ReadProgress): AsyncGenerator<ImportRecord> {
  let rest: Buffer | undefined;
  let line = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      line++;
      const rec = ndjsonLine(buf.subarray(start, nl), line);
      progress.bytes += nl + 1 - start;
      start = nl + 1;
      if (rec) yield rec;
    }
    rest = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined;
  }
  if (rest && rest.length) {
    const rec = ndjsonLine(rest, ++line);
    progress.bytes += rest.length;
    if (rec) yield rec;
  }
}

function ndjsonLine(raw: Buffer, line: number): ImportRecord | undefined {
  let end = raw.length;
  if (end > 0 && raw[end - 1] === 0x0d) end--;
  const bytes = raw.subarray(0, end);
  if (bytes.every((c) => c === 0x20 || c === 0x09)) return undefined;
  const env = decodeEnvelope(bytes);
  if (!env.ok) throw new ImportFileError(line, env.message);
  if (env.timestamp === undefined) throw new ImportFileError(line, 'a timestamp is required: import resumes by skipping timestamps already stored');
  return { line, timestamp: env.timestamp, envelope: Buffer.from(bytes), data: Buffer.from(env.payload) };
}

/** RFC 4180 rows with the line each starts on; quoted cells may hold commas, quotes, newlines. */
async function* csvRows(file: string, progress: ReadProgress): AsyncGenerator<{ line: number; cells: string[] }> {
  const decoder = new StringDecoder('utf8');
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let rowLine = 1;
  let any = false;
  const endRow = function* (): Generator<{ line: number; cells: string[] }> {
    cells.push(cell);
    if (any || cells.length > 1 || cell !== '') yield { line: rowLine, cells };
    cells = [];
    cell = '';
    any = false;
  };
  let carry = '';
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const text = carry + decoder.write(chunk);
    carry = '';
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"') {
          // A quote ending the chunk may be the first of a doubled quote: decide on the next chunk.
          if (i === text.length - 1) {
            carry = '"';
            break;
          }
          if (text[i + 1] === '"') {
            cell += '"';
            i++;
          } else {
            quoted = false;
            afterQuote = true;
          }
        } else {
          if (c === '\n') line++;
          cell += c;
        }
        continue;
      }
      if (c === '"' && cell === '' && !afterQuote) {
        quoted = true;
        any = true;
        continue;
      }
      if (c === ',') {
        cells.push(cell);
        cell = '';
        afterQuote = false;
        any = true;
        continue;
      }
      if (c === '\n') {
        if (cell.endsWith('\r')) cell = cell.slice(0, -1);
        yield* endRow();
        afterQuote = false;
        line++;
        rowLine = line;
        continue;
      }
      if (afterQuote && c !== '\r') throw new ImportFileError(line, 'CSV: text after a closing quote');
      cell += c;
    }
    progress.bytes += chunk.length;
  }
  if (carry) {
    quoted = false;
    afterQuote = true;
  }
  if (quoted) throw new ImportFileError(rowLine, 'CSV: a quoted cell is not closed');
  if (cell !== '' || cells.length > 0) yield* endRow();
}

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function cellJson(v: string): string {
  if (JSON_NUMBER.test(v) || v === 'true' || v === 'false' || v === 'null') return v;
  return JSON.stringify(v);
}

/** The records of a CSV file with a header row. */
export async function* readCsv(file: string, progress: ReadProgress, timestampColumn: string): AsyncGenerator<ImportRecord> {
  let header: string[] | undefined;
  let tsIndex = -1;
  let dataIndex = -1;
  for await (const { line, cells } of csvRows(file, progress)) {
    if (!header) {
      header = cells.map((c) => c.trim());
      tsIndex = header.indexOf(timestampColumn);
      if (tsIndex < 0)
        throw new ImportFileError(line, `CSV: no "${timestampColumn}" column in the header (columns: ${header.join(', ')}); name it with --timestamp-column`);
      dataIndex = header.length === 2 ? header.indexOf('data') : -1;
      continue;
    }
    if (cells.length !== header.length) throw new ImportFileError(line, `CSV: ${cells.length} cells, the header has ${header.length}`);
    let timestamp: bigint;
    try {
      timestamp = timeValue(timestampColumn, cells[tsIndex].trim());
    } catch (err) {
      throw new ImportFileError(line, (err as Error).message);
    }
    if (timestamp === 0n) throw new ImportFileError(line, 'a timestamp is required: import resumes by skipping timestamps already stored');
    let dataText: string;
    if (dataIndex >= 0) dataText = cells[dataIndex];
    else {
      const parts: string[] = [];
      header.forEach((name, i) => {
        if (i !== tsIndex && cells[i] !== '') parts.push(`${JSON.stringify(name)}:${cellJson(cells[i])}`);
      });
      dataText = `{${parts.join(',')}}`;
    }
    try {
      JSON.parse(dataText);
    } catch (err) {
      throw new ImportFileError(line, `invalid JSON in the data column: ${(err as Error).message}`);
    }
    const data = Buffer.from(dataText, 'utf8');
    yield { line, timestamp, envelope: Buffer.from(`{"timestamp":${timestamp},"data":${dataText}}`, 'utf8'), data };
  }
}

export type ExportFormat = 'ndjson' | 'csv';

export function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export const CSV_HEADER = 'timestamp,data\n';

export function formatRecord(r: ExportRecord, format: ExportFormat): string {
  return format === 'ndjson' ? `{"timestamp":${r.timestamp},"data":${r.dataJson}}\n` : `${r.timestamp},${csvCell(r.dataJson)}\n`;
}
