import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ServerMetrics } from '../src/metrics/server-metrics.js';
import { ADMIN_KEY, api, startServer, tempDir, type TestServer } from './support/server.js';
import { hasMetric, metricValue, parseMetrics, type Sample } from './support/prometheus.js';

const PIPELINE = { main: { inputs: { api: { type: 'rest' } }, stages: [{ type: 'validate' }], sink: { type: 'blockfile', fsync: 'batch' } } };

async function scrape(url: string): Promise<Sample[]> {
  const res = await api(url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.text);
}

describe('GET /metrics', () => {
  let s: TestServer;
  let key: string;
  before(async () => {
    s = await startServer({ pipelines: PIPELINE });
    key = await s.createStore('m');
  });
  after(() => s.stop());

  const post = (body: string, k = key) => api(s.url, 'POST', '/api/stores/m/data', body, { 'X-API-Key': k, 'Content-Type': 'application/json' });

  it('moves every counter by exactly the traffic sent', async () => {
    const before = await scrape(s.url);
    const bodies = [1, 2, 3, 4, 5].map((i) => `{"timestamp":${1704067200000000000n + BigInt(i)},"data":{"v":${i}}}`);
    for (const b of bodies) assert.equal((await post(b)).status, 201);
    assert.equal((await post('{"timestamp":1704067200000000003,"data":[1,2]}')).status, 409);
    assert.equal((await post('{"timestamp":')).status, 400);
    assert.equal((await post('{"data":1}', 'tsstore_00000000-0000-4000-8000-000000000000')).status, 401);
    const afterTraffic = await scrape(s.url);

    const delta = (name: string, labels: Record<string, string> = {}) => metricValue(afterTraffic, name, labels) - metricValue(before, name, labels);
    const ms = { input: 'api', store: 'm' };
    assert.equal(delta('tsstore_records_received_total', ms), 6, 'received: 5 good + 1 out of order (the others never reach the pipeline)');
    assert.equal(delta('tsstore_records_accepted_total', ms), 5);
    assert.equal(delta('tsstore_records_rejected_total', { ...ms, code: 'TSS_ERR_TIMESTAMP_ORDER' }), 1);
    assert.equal(delta('tsstore_records_received_bytes_total', ms), 5 * '{"v":1}'.length + '[1,2]'.length);
    assert.equal(delta('tsstore_sink_commit_seconds_count', { pipeline: 'main', store: 'm' }), 6, 'one sink.write per REST record');
    assert.equal(delta('tsstore_sink_commit_batch_records_sum', { pipeline: 'main', store: 'm' }), 6);
    assert.equal(delta('tsstore_sink_commit_batch_records_bucket', { pipeline: 'main', store: 'm', le: '1' }), 6);
    assert.equal(delta('tsstore_http_errors_total', { code: 'TSS_ERR_TIMESTAMP_ORDER' }), 1);
    assert.equal(delta('tsstore_http_errors_total', { code: 'TSS_ERR_INVALID_JSON' }), 1);
    assert.equal(delta('tsstore_http_errors_total', { code: 'TSS_ERR_API_KEY_INVALID' }), 1);
    // Sequential inserts under fsync=batch: one group commit and one fdatasync each; the refused record writes nothing.
    assert.equal(delta('tsstore_store_commits_total', { store: 'm' }), 5);
    assert.equal(delta('tsstore_store_fsyncs_total', { store: 'm' }), 5);

    assert.equal(metricValue(afterTraffic, 'tsstore_store_records', { store: 'm' }), 5);
    assert.equal(metricValue(afterTraffic, 'tsstore_store_bytes', { store: 'm' }), 35);
    assert.equal(metricValue(afterTraffic, 'tsstore_store_newest_timestamp_seconds', { store: 'm' }), Number(1704067200000000005n) / 1e9);
    assert.equal(metricValue(afterTraffic, 'tsstore_store_oldest_timestamp_seconds', { store: 'm' }), Number(1704067200000000001n) / 1e9);
    assert.equal(metricValue(afterTraffic, 'tsstore_store_capacity_bytes', { store: 'm' }), 1024 * 4096);
    assert.equal(metricValue(afterTraffic, 'tsstore_store_fill_ratio', { store: 'm' }), 1 / 1024);
    assert.equal(metricValue(afterTraffic, 'tsstore_store_fsync_policy', { store: 'm', policy: 'batch' }), 1);
    assert.equal(metricValue(afterTraffic, 'tsstore_ready'), 1);
    assert.ok(hasMetric(afterTraffic, 'process_resident_memory_bytes'), 'process metrics are exposed');
    assert.ok(hasMetric(afterTraffic, 'nodejs_eventloop_lag_seconds'));
  });

  it('reports records overwritten by the ring exactly as the store stats do', async () => {
    const k = await s.createStore('tiny', { num_blocks: 4, data_block_size: 64 });
    for (let i = 1; i <= 40; i++) {
      const res = await api(s.url, 'POST', '/api/stores/tiny/data', `{"timestamp":${i},"data":"${'x'.repeat(10)}"}`, {
        'X-API-Key': k,
        'Content-Type': 'application/json',
      });
      assert.equal(res.status, 201, res.text);
    }
    const stats = (await api(s.url, 'GET', '/api/stores/tiny/stats', undefined, { 'X-API-Key': k })).json;
    assert.ok(stats.overwrittenRecords > 0, 'the ring wrapped');
    const m = await scrape(s.url);
    assert.equal(metricValue(m, 'tsstore_store_overwritten_records_total', { store: 'tiny' }), stats.overwrittenRecords);
    assert.equal(metricValue(m, 'tsstore_store_records', { store: 'tiny' }), stats.records);
    assert.equal(metricValue(m, 'tsstore_store_fill_ratio', { store: 'tiny' }), 1);
    assert.equal(metricValue(m, 'tsstore_records_accepted_total', { input: 'api', store: 'tiny' }), 40);
  });

  it('counts open client connections', async () => {
    const sockets = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const sock = net.connect(s.server.port, '127.0.0.1', () => resolve(sock));
            sock.on('error', reject);
          }),
      ),
    );
    try {
      for (let i = 0; i < 50 && s.server.http.connections < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const m = await scrape(s.url);
      assert.ok(metricValue(m, 'tsstore_http_open_connections') >= 3, 'two idle sockets plus the scrape itself');
    } finally {
      for (const sock of sockets) sock.destroy();
    }
  });

  it('/health and /ready need no key (the orchestrator probes them); /metrics is covered in test/adversarial/metrics-probing', async () => {
    assert.equal((await api(s.url, 'GET', '/health')).text, '{"status":"ok"}');
    const ready = await api(s.url, 'GET', '/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { status: 'ready' });
  });
});

describe('GET /ready', () => {
  it('turns 503 with the reason while the sink is closed', async () => {
    const s = await startServer({ pipelines: PIPELINE });
    try {
      const key = await s.createStore('r');
      assert.equal((await api(s.url, 'GET', '/ready')).status, 200);
      await s.server.runner.sink.close();
      const ready = await api(s.url, 'GET', '/ready');
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.json, { status: 'not ready', reasons: ['sink is not open'] });
      assert.equal((await api(s.url, 'GET', '/health')).status, 200, 'liveness does not depend on the sink');
      const m = parseMetrics((await api(s.url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY })).text);
      assert.equal(metricValue(m, 'tsstore_ready'), 0);
      assert.equal(hasMetric(m, 'tsstore_store_records', { store: 'r' }), false, 'a closed sink has no figures to give');
      const insert = await api(s.url, 'POST', '/api/stores/r/data', '{"data":1}', { 'X-API-Key': key, 'Content-Type': 'application/json' });
      assert.equal(insert.status, 503);
    } finally {
      await s.stop().catch(() => undefined);
    }
  });

  it('is 503 while the server is shutting down', async () => {
    const s = await startServer({ pipelines: PIPELINE });
    assert.deepEqual(s.server.notReady(), []);
    const stopping = s.stop();
    assert.ok(s.server.notReady().includes('server is shutting down'));
    await stopping;
    assert.ok(s.server.notReady().includes('sink is not open'));
  });
});

describe('plugin metrics (ctx.metrics)', () => {
  it("publishes an outside input plugin's gauge and counter, labelled with the input id", async () => {
    const dir = tempDir('tsstore-plugin-');
    const file = path.join(dir, 'gauge-input.js');
    fs.writeFileSync(
      file,
      `
      module.exports = {
        kind: 'input', type: 'gauge_demo', description: 'publishes metrics', apiVersion: '^1.0.0',
        options: { validate: (v) => ({ value: v }) },
        create(options, ctx) {
          return {
            async start() {
              const open = ctx.metrics.gauge('open_connections', 'Open connections.', ['store']);
              open.set({ store: 'a' }, 3);
              open.labels({ store: 'b' }).inc(2);
              ctx.metrics.counter('reconnects_total', 'Reconnects.').inc(undefined, 7);
            },
            async stop() {},
          };
        },
      };`,
    );
    const s = await startServer({
      config: { plugins: [file] },
      pipelines: {
        main: {
          inputs: { api: { type: 'rest' }, one: { type: 'gauge_demo' }, two: { type: 'gauge_demo' } },
          stages: [{ type: 'validate' }],
          sink: { type: 'memory' },
        },
      },
    });
    try {
      const m = parseMetrics((await api(s.url, 'GET', '/metrics', undefined, { 'X-Admin-Key': ADMIN_KEY })).text);
      for (const input of ['one', 'two']) {
        assert.equal(metricValue(m, 'tsstore_input_open_connections', { input, store: 'a' }), 3);
        assert.equal(metricValue(m, 'tsstore_input_open_connections', { input, store: 'b' }), 2);
        assert.equal(metricValue(m, 'tsstore_input_reconnects_total', { input }), 7);
      }
    } finally {
      await s.stop();
    }
  });

  it("keeps each server's figures apart and refuses a conflicting registration", async () => {
    const a = new ServerMetrics({ processMetrics: false });
    const b = new ServerMetrics({ processMetrics: false });
    a.plugin('input', 'x').counter('hits_total', 'Hits.').inc(undefined, 5);
    b.plugin('input', 'x').counter('hits_total', 'Hits.').inc();
    assert.equal(metricValue(parseMetrics(await a.render()), 'tsstore_input_hits_total', { input: 'x' }), 5);
    assert.equal(metricValue(parseMetrics(await b.render()), 'tsstore_input_hits_total', { input: 'x' }), 1);
    assert.throws(() => a.plugin('input', 'y').gauge('hits_total', 'Hits.'), /already registered/);
    assert.throws(() => a.plugin('input', 'y').counter('Bad-Name', 'x'), /snake_case/);
    assert.throws(() => a.plugin('input', 'y').counter('c_total', 'x', ['input']), /added by tsstore/);
  });

  it("exports every other figure a sink reports in its stats (e.g. a forwarder's lag and state)", async () => {
    const m = new ServerMetrics({ processMetrics: false });
    m.watchStores({
      list: () => ['edge'],
      stats: async () => ({ records: 3, bytes: 30, extra: { forwardLagRecords: 42, forwardLagSeconds: 1.5, forwardState: 'backoff', commits: 7 } }),
    });
    const samples = parseMetrics(await m.render());
    assert.equal(metricValue(samples, 'tsstore_store_sink_figure', { store: 'edge', figure: 'forwardLagRecords' }), 42);
    assert.equal(metricValue(samples, 'tsstore_store_sink_figure', { store: 'edge', figure: 'forwardLagSeconds' }), 1.5);
    assert.equal(metricValue(samples, 'tsstore_store_sink_info', { store: 'edge', figure: 'forwardState', value: 'backoff' }), 1);
    assert.equal(hasMetric(samples, 'tsstore_store_sink_figure', { store: 'edge', figure: 'commits' }), false, 'commits has its own counter');
  });
});
