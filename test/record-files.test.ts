import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Progress } from '../src/cli/progress.js';
import { readCsv, readNdjson } from '../src/cli/record-files.js';
import type { ImportRecord } from '../src/cli/store-data.js';
import { tempDir } from './support/server.js';

async function all(gen: AsyncGenerator<ImportRecord>): Promise<ImportRecord[]> {
  const out: ImportRecord[] = [];
  for await (const r of gen) out.push(r);
  return out;
}

describe('import file readers', () => {
  it('reads a CSV whose doubled quote straddles a 1 MiB read boundary', async () => {
    const file = path.join(tempDir(), 'edge.csv');
    const head = 'timestamp,data\n1,"""';
    const filler = 'x'.repeat((1 << 20) - 1 - head.length);
    // The cell is the JSON string "x…x"; in CSV its quotes are doubled, the closing pair's first
    // quote being the last byte of the first 1 MiB read.
    fs.writeFileSync(file, `${head}${filler}"""\n2,"""b"""\n`);
    const progress = { bytes: 0 };
    const recs = await all(readCsv(file, progress, 'timestamp'));
    assert.equal(recs.length, 2);
    assert.equal(recs[0].data.toString(), `"${filler}"`);
    assert.equal(recs[1].data.toString(), '"b"');
    assert.equal(recs[1].line, 3);
    assert.equal(progress.bytes, fs.statSync(file).size);
  });

  it('reads NDJSON exactly: CRLF, blank lines, no final newline, timestamps above 2^53', async () => {
    const file = path.join(tempDir(), 'in.ndjson');
    fs.writeFileSync(file, '{"timestamp":9223372036854775807,"data":{"a": 1}}\r\n\n  \n{"data":"x", "timestamp":1704067200000000001}');
    const recs = await all(readNdjson(file, { bytes: 0 }));
    assert.deepEqual(
      recs.map((r) => [r.line, r.timestamp, r.data.toString()]),
      [
        [1, 9223372036854775807n, '{"a": 1}'],
        [4, 1704067200000000001n, '"x"'],
      ],
    );
  });
});

describe('progress', () => {
  function sink(isTTY: boolean): { stream: { isTTY: boolean; columns: number; write(t: string): boolean }; text: () => string } {
    let text = '';
    return {
      stream: {
        isTTY,
        columns: 200,
        write: (t: string) => {
          text += t;
          return true;
        },
      },
      text: () => text,
    };
  }

  it('draws a bar with the rate and ETA on a terminal, then replaces it with the summary', async () => {
    const out = sink(true);
    const p = new Progress('import s', out.stream);
    await new Promise((r) => setTimeout(r, 120));
    p.update(0.5, 5000);
    assert.match(out.text(), /^\r\x1b\[Kimport s \[#{12}-{12}\]  50%  5,000 records  [\d,]+\/s  ETA \d:\d\d$/);
    p.done('Imported 10,000 records.');
    assert.ok(out.text().endsWith('\r\x1b[KImported 10,000 records.\n'));
  });

  it('writes only the summary when not on a terminal', () => {
    const out = sink(false);
    const p = new Progress('export s', out.stream);
    p.update(0.5, 10);
    p.done('Exported 20 records.');
    assert.equal(out.text(), 'Exported 20 records.\n');
  });
});
