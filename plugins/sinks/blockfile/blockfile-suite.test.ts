import { sinkSuite } from 'tsstore/testing';
import blockfileSink from './index.js';

sinkSuite(blockfileSink, { module: require.resolve('./index.js') });
