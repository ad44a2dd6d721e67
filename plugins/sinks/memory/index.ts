import Joi from 'joi';
import { defineSink } from 'tsstore/plugin';
import { MemorySink } from './memory-sink.js';

export interface MemorySinkOptions {
  readonly max_records: number;
}

/** `memory`: records in RAM, gone at restart. Tests and demos only. */
export default defineSink<MemorySinkOptions>({
  type: 'memory',
  description: 'Keeps records in memory (lost at restart); for tests and demos.',
  apiVersion: '^1.0.0',
  options: Joi.object({ max_records: Joi.number().integer().min(1).default(1_000_000) }),
  create: (options) => new MemorySink(options.max_records),
});
