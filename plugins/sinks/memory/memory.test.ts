import { sinkSuite } from 'tsstore/testing';
import memorySink from './index.js';

sinkSuite(memorySink, { options: { max_records: 1_000_000 } });
