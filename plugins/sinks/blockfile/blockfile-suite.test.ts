import { sinkSuite } from '../../../src/testing/index.js';
import { newSink } from './test-support.js';

sinkSuite('blockfile', { createSink: (dataDir) => newSink(dataDir) });
