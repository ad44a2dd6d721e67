import { silentLogger, sinkSuite } from 'tsstore/testing';
import memorySink from './index.js';

sinkSuite('memory', {
  durable: false,
  createSink: (dataDir) => memorySink.create({ max_records: 1_000_000 }, { id: 'memory', logger: silentLogger(), dataDir }),
});
