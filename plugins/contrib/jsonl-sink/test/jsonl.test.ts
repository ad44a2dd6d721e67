import { sinkSuite } from 'tsstore/testing';
import jsonl from '../src/index.js';

sinkSuite(jsonl, { options: { fsync: true }, module: require.resolve('../src/index.js') });
