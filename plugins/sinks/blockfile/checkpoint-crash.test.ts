/**
 * kill -9 during a flood with a tiny checkpoint interval (a checkpoint every few KiB and every
 * 20 ms, so kills land before, during and after checkpoints): the open from the checkpoint serves
 * exactly what a forced full scan of the same files serves, nothing acknowledged is missing, and
 * a checkpoint then truncated or damaged at a random offset still loses nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { runAndKill } from './crash-support.js';
import { StoreImage, openCopy, payloadFor, prng, storeSpec, tempDir } from './test-support.js';

const NUM_BLOCKS = 96;
const BLOCK_SIZE = 1024;
const ROUNDS = 14;

function acknowledgedMissing(image: StoreImage, acked: bigint[]): bigint[] {
  const present = new Set(image.records.map((r) => BigInt(r.slice(0, r.indexOf('@')))));
  const oldest = image.stats.oldest as bigint | undefined;
  return acked.filter((ts) => oldest !== undefined && ts >= oldest && !present.has(ts));
}

describe('blockfile checkpoint under kill -9', () => {
  const dataDir = tempDir('ckpt-crash');
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it(`opens from the checkpoint exactly as a full scan does, across ${ROUNDS} kills`, async () => {
    const rnd = prng(4242);
    const policies = ['never', 'batch', 'interval', 'always'];
    const spec = storeSpec(dataDir, 'ck', NUM_BLOCKS, BLOCK_SIZE);
    let fromCheckpoint = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const fsync = policies[round % policies.length];
      const checkpointBytes = [2048, 8192, 65536][round % 3];
      const { acked, errors } = await runAndKill(
        dataDir,
        fsync,
        500 + round,
        60 + Math.floor(rnd() * 240),
        [String(checkpointBytes)],
        'ck',
        NUM_BLOCKS,
        BLOCK_SIZE,
      );
      assert.deepEqual(errors, [], 'the writer saw no rejections');
      assert.ok(acked.length > 0, `round ${round}: the writer acknowledged something`);

      const viaCheckpoint = await openCopy(dataDir, spec, {}, `r${round}`);
      const fullScan = await openCopy(dataDir, spec, { checkpoint: false }, `r${round}-scan`);
      if (viaCheckpoint.openedFrom === 'checkpoint') fromCheckpoint++;
      assert.deepEqual(viaCheckpoint.stats, fullScan.stats, `round ${round} (${fsync}): stats`);
      assert.deepEqual(viaCheckpoint.records, fullScan.records, `round ${round} (${fsync}): records and order`);
      assert.deepEqual(acknowledgedMissing(viaCheckpoint, acked), [], `round ${round} (${fsync}): acknowledged records lost`);
      for (const r of viaCheckpoint.records) {
        const ts = BigInt(r.slice(0, r.indexOf('@')));
        assert.equal(r.slice(r.indexOf(':') + 1), payloadFor(ts, BLOCK_SIZE).toString('hex'), `record ${ts} exact`);
      }

      // The same files with the checkpoint cut short or damaged at a random offset.
      const damaged = `${dataDir}-damaged`;
      fs.rmSync(damaged, { recursive: true, force: true });
      fs.cpSync(dataDir, damaged, { recursive: true });
      const file = path.join(damaged, 'ck', CHECKPOINT_FILE);
      if (fs.existsSync(file)) {
        const bytes = fs.readFileSync(file);
        const at = Math.floor(rnd() * bytes.length);
        if (round % 2 === 0) fs.writeFileSync(file, bytes.subarray(0, at));
        else {
          bytes[at] ^= 1 + Math.floor(rnd() * 255);
          fs.writeFileSync(file, bytes);
        }
      }
      const afterDamage = await openCopy(damaged, { ...spec, dir: path.join(damaged, 'ck') }, {}, 'open');
      fs.rmSync(damaged, { recursive: true, force: true });
      assert.deepEqual(afterDamage.records, fullScan.records, `round ${round}: damaged checkpoint (${afterDamage.openedFrom})`);
      assert.deepEqual(afterDamage.stats, fullScan.stats, `round ${round}: damaged checkpoint stats`);
    }
    assert.ok(fromCheckpoint >= ROUNDS / 2, `most opens used the checkpoint (${fromCheckpoint}/${ROUNDS})`);
  });
});
