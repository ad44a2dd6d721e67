/**
 * REST insert: `POST /api/stores/:store/data` with a `{timestamp?, data}` JSON envelope (json and
 * schema stores) or a raw body (text: text/plain, binary: application/octet-stream, timestamp in
 * `?timestamp=`). Answers 201 `{timestamp, block_num, size}` once the record is durable.
 */
import type { Context } from 'koa';
import {
  acceptedJson,
  type DataType,
  decodeEnvelope,
  decodeJsonArray,
  decodeNdjson,
  type Emit,
  EmitBatcher,
  formatParam,
  type IngestRecord,
  type InputContext,
  type InputPlugin,
  mediaType,
  parseTimestampToken,
  readBody,
  type RecordResult,
  type Rejection,
  type Resource,
  type StoreView,
  TssError,
} from 'tsstore/plugin';

export interface RestInputOptions {
  /** Largest single-record body in bytes (413 above). */
  readonly body_limit: number;
  /** Largest batch body in bytes (413 above). */
  readonly batch_body_limit: number;
}

const MEDIA_TYPE: Record<DataType, string> = {
  json: 'application/json',
  schema: 'application/json',
  text: 'text/plain',
  binary: 'application/octet-stream',
};

export function failWith(r: Rejection): never {
  throw new TssError(r.code, r.message);
}

export class RestInput implements InputPlugin {
  private emit?: Emit;
  /** Single inserts that arrive in the same event-loop turn share one emit. */
  private batcher?: EmitBatcher;
  private stopped = false;

  constructor(
    private readonly options: RestInputOptions,
    private readonly ctx: InputContext,
  ) {}

  resources(): Resource[] {
    // One claim stands for both routes (data and data/batch): they always come together.
    return [{ kind: 'http-route', id: 'POST /api/stores/:store/data' }];
  }

  async start(emit: Emit): Promise<void> {
    this.emit = emit;
    this.batcher = new EmitBatcher(emit);
    const { router, storeAuth } = this.ctx.http;
    router.post('/api/stores/:store/data', storeAuth, (ctx) => this.insert(ctx));
    router.post('/api/stores/:store/data/batch', storeAuth, (ctx) => this.insertBatch(ctx));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.batcher?.settle();
  }

  private async insert(ctx: Context): Promise<void> {
    if (this.stopped || !this.emit) throw new TssError('TSS_ERR_SHUTTING_DOWN');
    const store = ctx.state.store as StoreView;
    const expected = MEDIA_TYPE[store.dataType];
    const got = mediaType(ctx);
    if (got !== expected) {
      throw new TssError(
        'TSS_ERR_DATA_TYPE_MISMATCH',
        `data does not match store's data type: ${store.dataType} stores take Content-Type ${expected}, got ${got || 'none'}`,
      );
    }
    const body = await readBody(ctx, this.options.body_limit);
    const record = this.toRecord(ctx, store, body);
    const [result] = await this.batcher!.run([record]);
    respond(ctx, result);
  }

  /**
   * Batch insert: NDJSON or a JSON array of envelopes, one emit for all of them, 200 with a
   * result per record (`index` counts envelopes from 0; blank NDJSON lines are not counted).
   */
  private async insertBatch(ctx: Context): Promise<void> {
    if (this.stopped || !this.emit) throw new TssError('TSS_ERR_SHUTTING_DOWN');
    const store = ctx.state.store as StoreView;
    const media = mediaType(ctx);
    const ndjson = NDJSON_TYPES.has(media);
    if (!ndjson && media !== 'application/json') {
      // The same status as a single insert with the wrong Content-Type (400, as the reference answers).
      throw new TssError(
        'TSS_ERR_DATA_TYPE_MISMATCH',
        `data does not match store's data type: a batch is application/x-ndjson (one envelope per line) or application/json (an array of envelopes), got ${media || 'none'}`,
      );
    }
    const body = await readBody(ctx, this.options.batch_body_limit);
    const envelopes = ndjson ? decodeNdjson(body) : decodeJsonArray(body);
    const schemaFormat = formatParam(ctx.query);
    const origin = { input: this.ctx.id, remote: ctx.ip };
    const results = new Array<RecordResult>(envelopes.length);
    const records: IngestRecord[] = [];
    const slots: number[] = [];
    for (let i = 0; i < envelopes.length; i++) {
      const env = envelopes[i];
      if (!env.ok) {
        results[i] = env;
        continue;
      }
      records.push({ store: store.name, timestamp: env.timestamp, payload: env.payload, format: 'json', wellFormed: true, schemaFormat, origin });
      slots.push(i);
    }
    const written = await this.emit(records);
    for (let j = 0; j < written.length; j++) results[slots[j]] = written[j];
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = batchJson(results);
  }

  private toRecord(ctx: Context, store: StoreView, body: Buffer): IngestRecord {
    const origin = { input: this.ctx.id, remote: ctx.ip };
    if (store.dataType === 'json' || store.dataType === 'schema') {
      const env = decodeEnvelope(body);
      if (!env.ok) failWith(env);
      return {
        store: store.name,
        timestamp: env.timestamp,
        payload: env.payload,
        format: 'json',
        wellFormed: true,
        schemaFormat: formatParam(ctx.query),
        origin,
      };
    }
    if (body.length === 0) throw new TssError('TSS_ERR_DATA_REQUIRED', 'data is required: the body is empty');
    const q = ctx.query.timestamp;
    let timestamp: bigint | undefined;
    if (typeof q === 'string' && q !== '') {
      const t = parseTimestampToken(q);
      if (typeof t === 'object') failWith(t);
      timestamp = t;
    }
    return { store: store.name, timestamp, payload: body, format: 'raw', origin };
  }
}

const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines']);

/** `{"results":[{"index",…}],"accepted":N,"rejected":M}`, built by hand to keep timestamps exact. */
export function batchJson(results: readonly RecordResult[]): string {
  const parts = new Array<string>(results.length);
  let accepted = 0;
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    if (r.ok) {
      accepted++;
      parts[i] = `{"index":${i},"timestamp":${r.timestamp},"block_num":${r.blockNum},"size":${r.size}}`;
    } else parts[i] = `{"index":${i},"error":${JSON.stringify(r.message)},"code":"${r.code}"}`;
  }
  return `{"results":[${parts.join(',')}],"accepted":${accepted},"rejected":${results.length - accepted}}`;
}

export function respond(ctx: Context, result: RecordResult): void {
  if (!result.ok) failWith(result);
  ctx.status = 201;
  ctx.type = 'application/json';
  ctx.body = acceptedJson(result);
}
