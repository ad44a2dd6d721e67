import { sinkSuite } from 'tsstore/testing';
import { newSink } from './test-support.js';

sinkSuite('blockfile', { createSink: (dataDir) => newSink(dataDir) });
