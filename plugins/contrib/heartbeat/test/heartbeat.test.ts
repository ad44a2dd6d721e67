import assert from 'node:assert/strict';
import { it } from 'node:test';
import { inputHarness } from 'tsstore/testing';
import heartbeat from '../src/index.js';

it('stores a heartbeat every interval', async () => {
  const h = await inputHarness(heartbeat, { options: { store: 'beats', interval_ms: 20 }, start: false });
  await h.createStore('beats');
  await h.start();
  const rows = await h.waitForRecords('beats', 3);
  assert.deepEqual(
    rows.slice(0, 3).map((r) => JSON.parse(r.data!.toString()).beat),
    [1, 2, 3],
  );
  await h.stop();
});

it('refuses options it does not know', async () => {
  await assert.rejects(inputHarness(heartbeat, { options: { store: 'b', colour: 'red' } }), /colour.*not allowed/);
});
