/**
 * tsstore's JSON: one byte scanner (scan.ts) and what is built on it — envelope decoding,
 * batch bodies, exact parse/stringify for management paths, hand-built answers.
 */
export * from './scan.js';
export * from './envelope.js';
export * from './batch.js';
export * from './exact.js';
export * from './render.js';
