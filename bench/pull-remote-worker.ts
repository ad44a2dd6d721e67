/** The benchmark's remote, in a worker thread so it does not share tsstore's event loop. */
import { parentPort, workerData } from 'node:worker_threads';
import { RemoteFeed } from '../plugins/inputs/ws_pull/test-remote-feed.js';

void (async () => {
  const feed = await RemoteFeed.start();
  feed.produce((workerData as { records: number }).records);
  parentPort!.postMessage({ url: feed.url });
  parentPort!.on('message', () => {
    void feed.stop().then(() => process.exit(0));
  });
})();
