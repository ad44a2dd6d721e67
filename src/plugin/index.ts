/** The public plugin API (`tsstore/plugin`): contracts, descriptors, errors, clock. */
export * from './errors.js';
export * from './record.js';
export * from './sink.js';
export * from './stage.js';
export * from './input.js';
export * from './descriptor.js';
export * from './clock.js';
