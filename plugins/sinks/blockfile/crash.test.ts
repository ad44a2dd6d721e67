/**
 * kill -9 in the middle of ingestion, several times: every acknowledged record must come back with
 * its exact bytes, and anything else that comes back must be a complete, valid record.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { runAndKill } from './crash-support.js';
import { newSink, payloadFor, prng, storeSpec, tempDir } from './test-support.js';

const NUM_BLOCKS = 128;
const BLOCK_SIZE = 1024;

describe('blockfile crash recovery (kill -9 during ingest)', () => {
  const dataDir = tempDir('crash');
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('keeps every acknowledged record across 8 kills', async () => {
    const rnd = prng(20240101);
    const policies = ['never', 'batch', 'interval', 'always'];
    let totalAcked = 0;
    for (let round = 0; round < 8; round++) {
      const fsync = policies[round % policies.length];
      const { acked, errors } = await runAndKill(dataDir, fsync, 1000 + round, 150 + Math.floor(rnd() * 350));
      assert.deepEqual(errors, [], 'the writer saw no rejections');
      assert.ok(acked.length > 0, `round ${round}: the writer acknowledged something`);
      totalAcked += acked.length;

      const sink = newSink(dataDir);
      await sink.open();
      await sink.openStore(storeSpec(dataDir, 'crash', NUM_BLOCKS, BLOCK_SIZE));
      const reader = sink.reader;
      const all = await reader.scan('crash', { order: 'asc', limit: 1_000_000, withData: true });
      for (let i = 0; i < all.length; i++) {
        const r = all[i];
        if (i > 0) assert.ok(r.timestamp > all[i - 1].timestamp, 'timestamps strictly increasing');
        assert.deepEqual(r.data, payloadFor(r.timestamp, BLOCK_SIZE), `record ${r.timestamp} is complete and exact`);
      }
      const stats = await sink.stats('crash');
      assert.ok(stats.oldest !== undefined);
      const present = new Set(all.map((r) => r.timestamp));
      const missing = acked.filter((ts) => ts >= (stats.oldest as bigint) && !present.has(ts));
      assert.deepEqual(missing, [], `round ${round} (${fsync}): acknowledged records lost`);
      const newestAcked = acked.reduce((a, b) => (b > a ? b : a), 0n);
      assert.ok((stats.newest as bigint) >= newestAcked);
      await sink.close();
    }
    assert.ok(totalAcked > 100);
  });
});
