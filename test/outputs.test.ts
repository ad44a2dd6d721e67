/**
 * The output plugin kind on real servers: an outside output package reads one store through
 * `ctx.deliveries` from a persisted cursor, is woken by commits, delivers in order with
 * acknowledgements, retries a failing destination, resumes after a restart without repeating
 * anything, reports the records the ring overwrote before delivery, starts again after a reset,
 * and stops when its store is deleted. Figures in the store's stats and on /metrics.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { until } from './support/clients.js';
import { fixtureLines, writeFixtureOutput } from './support/fixture-output.js';
import { ADMIN_KEY, api, startServer, tempDir, type TestServer } from './support/server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function temp(prefix?: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

interface Setup {
  dataDir: string;
  file: string;
  failFile: string;
  plugin: string;
}

function setup(): Setup {
  const base = temp('tsstore-outputs-');
  return { dataDir: path.join(base, 'data'), file: path.join(base, 'out.jsonl'), failFile: path.join(base, 'down'), plugin: writeFixtureOutput(base) };
}

function serve(s: Setup, output: Record<string, unknown> = {}): Promise<TestServer> {
  return startServer({
    dataDir: s.dataDir,
    config: { plugins: [s.plugin] },
    pipelines: {
      main: {
        inputs: { api: { type: 'rest' } },
        stages: [{ type: 'validate' }],
        sink: { type: 'blockfile' },
        outputs: { archive: { type: 'fixture_file', store: 's', file: s.file, fail_file: s.failFile, ...output } },
      },
    },
  });
}

async function write(url: string, key: string, from: number, n: number, store = 's'): Promise<bigint[]> {
  const body = Array.from({ length: n }, (_, i) => JSON.stringify({ data: { n: from + i } })).join('\n');
  const res = await api(url, 'POST', `/api/stores/${store}/data/batch`, body, { 'X-API-Key': key, 'Content-Type': 'application/x-ndjson' });
  assert.equal(res.status, 200, res.text);
  const results = (res.json as { results: { ok?: boolean; timestamp?: bigint }[] }).results;
  assert.ok(
    results.every((r) => r.timestamp !== undefined),
    res.text.slice(0, 300),
  );
  return results.map((r) => r.timestamp as bigint);
}

const records = (file: string): { t: string; d: string }[] => fixtureLines(file).filter((l): l is { t: string; d: string } => 't' in l);

async function outputsOf(url: string, key: string, store = 's'): Promise<Record<string, unknown>[]> {
  const res = await api(url, 'GET', `/api/stores/${store}/stats`, undefined, { 'X-API-Key': key });
  assert.equal(res.status, 200, res.text);
  return (res.json as { outputs?: Record<string, unknown>[] }).outputs ?? [];
}

describe('output plugins', () => {
  it('deliver every record in order from a persisted cursor, across a failing destination and a restart', async () => {
    const s = setup();
    let srv = await serve(s);
    try {
      // The store does not exist yet: the output waits for it.
      const key = await srv.createStore('s');
      const first = await write(srv.url, key, 0, 1000);
      await until(() => records(s.file).length >= 1000, 20_000, 'the first 1000 records');
      assert.deepEqual(
        records(s.file).map((r) => r.t),
        first.map(String),
      );
      assert.deepEqual(
        records(s.file)
          .slice(0, 3)
          .map((r) => r.d),
        ['{"n":0}', '{"n":1}', '{"n":2}'],
      );
      const cursorFile = path.join(s.dataDir, 's', 'outputs', 'archive.json');
      await until(() => fs.existsSync(cursorFile) && JSON.parse(fs.readFileSync(cursorFile, 'utf8')).cursor === String(first[999]), 10_000, 'the cursor file');
      assert.equal(fs.statSync(cursorFile).mode & 0o777, 0o600);
      await until(async () => (await outputsOf(srv.url, key))[0]?.state === 'idle', 10_000, 'idle');
      let [st] = await outputsOf(srv.url, key);
      assert.equal(st.output, 'archive');
      assert.equal(st.cursor_name, 'archive');
      assert.equal(st.state, 'idle');
      assert.equal(st.lag_records, 0);
      assert.equal(st.sent, 1000);
      assert.equal(st.cursor, first[999]);

      // The destination goes down: records wait, lag shows, errors count; it comes back, all arrive.
      fs.writeFileSync(s.failFile, '');
      const second = await write(srv.url, key, 1000, 300);
      await until(
        async () => {
          const [x] = await outputsOf(srv.url, key);
          return Number(x.errors) > 0 && x.lag_records === 300;
        },
        10_000,
        'errors and lag while down',
      );
      [st] = await outputsOf(srv.url, key);
      assert.equal(st.state, 'retrying');
      assert.match(String(st.last_error), /destination down/);
      assert.ok(Number(st.lag_seconds) >= 0);
      const metrics = await (await fetch(`${srv.url}/metrics`, { headers: { 'X-Admin-Key': ADMIN_KEY } })).text();
      assert.match(metrics, /tsstore_output_lag_records\{output="archive",store="s",cursor="archive"\} 300/);
      assert.match(metrics, /tsstore_output_state\{output="archive",store="s",cursor="archive",state="retrying"\} 1/);
      assert.match(metrics, /tsstore_output_errors_total\{output="archive",store="s",cursor="archive"\} [1-9]/);
      fs.rmSync(s.failFile);
      await until(() => records(s.file).length >= 1300, 20_000, 'the records held back');
      assert.deepEqual(
        records(s.file).map((r) => r.t),
        [...first, ...second].map(String),
      );

      // Restart: nothing is delivered twice, new records follow.
      await srv.stop();
      srv = await serve(s);
      const third = await write(srv.url, key, 1300, 50);
      await until(() => records(s.file).length >= 1350, 20_000, 'records after the restart');
      await until(async () => (await outputsOf(srv.url, key))[0]?.lag_records === 0, 10_000, 'caught up');
      assert.deepEqual(
        records(s.file).map((r) => r.t),
        [...first, ...second, ...third].map(String),
      );
      const m2 = await (await fetch(`${srv.url}/metrics`, { headers: { 'X-Admin-Key': ADMIN_KEY } })).text();
      assert.match(m2, /tsstore_output_sent_records_total\{output="archive",store="s",cursor="archive"\} 50/);
    } finally {
      await srv.stop();
    }
  });

  it('tells the output exactly how many records the ring overwrote before they were delivered', async () => {
    const s = setup();
    fs.writeFileSync(s.failFile, '');
    const srv = await serve(s, { batch: 50 });
    try {
      const res = await api(srv.url, 'POST', '/api/stores', { name: 's', num_blocks: 4, data_block_size: 1024 }, { 'X-Admin-Key': ADMIN_KEY });
      assert.equal(res.status, 201, res.text);
      const key = (res.json as { api_key: string }).api_key;
      const all: bigint[] = [];
      for (let i = 0; i < 10; i++) all.push(...(await write(srv.url, key, i * 50, 50)));
      const stats = (await api(srv.url, 'GET', '/api/stores/s/stats', undefined, { 'X-API-Key': key })).json as { records: number; oldest: bigint };
      assert.ok(stats.records < 500, 'the ring wrapped');
      const ring = (
        (await api(srv.url, 'GET', '/api/stores/s/data/oldest?limit=1000&include_data=false', undefined, { 'X-API-Key': key })).json as {
          objects: { timestamp: bigint }[];
        }
      ).objects.map((o) => o.timestamp);
      fs.rmSync(s.failFile);
      await until(() => records(s.file).length >= stats.records, 20_000, 'the records still in the ring');
      await until(async () => (await outputsOf(srv.url, key))[0]?.lag_records === 0, 10_000, 'caught up');
      const lines = fixtureLines(s.file);
      const missed = lines.filter((l): l is { missed: number } => 'missed' in l).reduce((a, l) => a + l.missed, 0);
      const got = records(s.file).map((r) => BigInt(r.t));
      assert.equal(missed + got.length, 500, `missed ${missed} + delivered ${got.length} = every record written`);
      assert.ok('missed' in lines[0], 'the notice comes before the records after the gap');
      // A retry that read records just before the ring overwrote them delivers them: what was
      // read is never counted as missed. Whatever it is, every record is delivered once, in order,
      // or counted as missed, and everything still in the ring is delivered.
      assert.ok(
        got.every((t, i) => all.includes(t) && (i === 0 || t > got[i - 1])),
        'delivered records are written ones, in order, once',
      );
      assert.deepEqual(got.slice(-ring.length), ring, 'everything still in the ring is delivered');
      const [st] = await outputsOf(srv.url, key);
      assert.equal(st.missed, missed);
    } finally {
      await srv.stop();
    }
  });

  it('starts again after a reset and stops (its cursor removed) when the store is deleted', async () => {
    const s = setup();
    const srv = await serve(s);
    try {
      const key = await srv.createStore('s');
      await write(srv.url, key, 0, 20);
      await until(() => records(s.file).length >= 20, 10_000, 'first records');
      assert.equal((await api(srv.url, 'POST', '/api/stores/s/reset', undefined, { 'X-API-Key': key })).status, 200);
      const after = await write(srv.url, key, 100, 5);
      await until(() => records(s.file).length >= 25, 10_000, 'records after the reset');
      assert.deepEqual(
        records(s.file)
          .slice(20)
          .map((r) => r.t),
        after.map(String),
      );
      assert.equal((await api(srv.url, 'DELETE', '/api/stores/s', undefined, { 'X-API-Key': key })).status, 200);
      await until(() => fixtureLines(s.file).some((l) => 'stopped' in l), 10_000, 'the stop notice');
      assert.deepEqual(fixtureLines(s.file).at(-1), { stopped: 'store deleted' });
      assert.equal(fs.existsSync(path.join(s.dataDir, 's')), false);
      assert.equal((await api(srv.url, 'GET', '/ready')).status, 200);
    } finally {
      await srv.stop();
    }
  });

  it('is refused at start with every problem of its block', async () => {
    const s = setup();
    await assert.rejects(
      serve(s, { colour: 'red', batch: 0 }),
      (err: Error) => /outputs\.archive\.colour: is not allowed/.test(err.message) && /outputs\.archive\.batch/.test(err.message),
    );
  });
});
