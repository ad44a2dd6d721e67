import { silentLogger } from '../../../src/core/logger.js';
import { sinkSuite } from '../../../src/testing/index.js';
import memorySink from './index.js';

sinkSuite('memory', {
  durable: false,
  createSink: (dataDir) => memorySink.create({ max_records: 1_000_000 }, { id: 'memory', logger: silentLogger(), dataDir }),
});
