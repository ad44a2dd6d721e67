/**
 * Stage contract: a step between inputs and the sink that validates and shapes records.
 *
 * Lifecycle: created once per pipeline (no I/O), then `process` is called for every batch until
 * the pipeline stops. Stages are run in config order. A stage never throws for bad data: it
 * returns a Rejection in that record's slot and the record goes no further. A throw means a bug
 * and fails the whole batch with TSS_ERR_INTERNAL.
 */
import type { Rejection } from './errors.js';
import type { DataType, IngestRecord } from './record.js';

export type FieldType = 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'float32' | 'float64' | 'bool' | 'string';

export interface SchemaField {
  readonly index: number;
  readonly name: string;
  readonly type: FieldType;
}

export interface StoreSchema {
  readonly version: number;
  readonly fields: readonly SchemaField[];
}

/** What a stage (or input) may know about a store. Immutable snapshot. */
export interface StoreView {
  readonly name: string;
  readonly dataType: DataType;
  /** Schema stores: the current schema, if one was set. */
  readonly schema?: StoreSchema;
}

export interface Stage {
  /**
   * Process one batch of records of a single store, in order. Returns one slot per input record:
   * the record to pass on (the same object, mutated, or a new one) or a Rejection.
   */
  process(records: IngestRecord[], store: StoreView): (IngestRecord | Rejection)[] | Promise<(IngestRecord | Rejection)[]>;
}
