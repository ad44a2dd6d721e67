/**
 * Load generators for the input benchmark, run in the bench process against a server in a child
 * process, through the client library (tsstore/client). Closed loop: each connection keeps
 * `inflight` records outstanding (the writer's window) and sends one more per answer;
 * latency = answer time - send time of that record.
 */
import { TsstoreClient, UnixSocketWriter, WebSocketWriter } from '../src/client/index.js';

export interface LoadResult {
  records: number;
  seconds: number;
  /** Milliseconds per record (or per request for batches). */
  latencies: number[];
  errors: number;
}

const now = (): number => performance.now();

export function record(seq: number): string {
  return `{"temp":22.5,"humidity":45.2,"sensor":"room-1","seq":${seq}}`;
}

/** `concurrency` closed-loop REST clients, each sending `one()` until `seconds` are over. */
async function restLoad(
  base: string,
  key: string,
  concurrency: number,
  seconds: number,
  one: (c: TsstoreClient) => Promise<number>,
  sent: number,
): Promise<LoadResult> {
  const client = new TsstoreClient({ url: base, apiKey: key, maxSockets: concurrency });
  const latencies: number[] = [];
  let records = 0;
  let errors = 0;
  const start = now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (now() < end) {
        const t = now();
        try {
          const ok = await one(client);
          records += ok;
          errors += sent - ok;
          latencies.push(now() - t);
        } catch {
          errors += sent;
        }
      }
    }),
  );
  const elapsed = (now() - start) / 1000;
  client.close();
  return { records, seconds: elapsed, latencies, errors };
}

export function restSingle(base: string, key: string, clients: number, seconds: number): Promise<LoadResult> {
  let seq = 0;
  return restLoad(
    base,
    key,
    clients,
    seconds,
    async (c) => {
      await c.insert('bench', { json: record(seq++) });
      return 1;
    },
    1,
  );
}

export function restBatch(base: string, key: string, concurrency: number, perRequest: number, seconds: number): Promise<LoadResult> {
  let seq = 0;
  return restLoad(
    base,
    key,
    concurrency,
    seconds,
    async (c) => {
      const recs = Array.from({ length: perRequest }, () => ({ json: record(seq++) }));
      return (await c.insertBatch('bench', recs)).filter((r) => r.ok).length;
    },
    perRequest,
  );
}

type Writer = WebSocketWriter | UnixSocketWriter;

/** `conns` writers, each with a window of `inflight`, writing for `seconds`. */
async function streamLoad(open: () => Promise<Writer>, conns: number, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let records = 0;
  let errors = 0;
  let seq = 0;
  const writers = await Promise.all(Array.from({ length: conns }, open));
  const start = now();
  const end = start + seconds * 1000;
  await Promise.all(
    writers.map(async (w) => {
      while (now() < end) {
        const { acked } = await w.write({ json: record(seq++) }); // waits while the window is full
        const t = now();
        acked.then(
          () => {
            records++;
            latencies.push(now() - t);
          },
          () => {
            errors++;
          },
        );
      }
      await w.close();
    }),
  );
  return { records, seconds: (now() - start) / 1000, latencies, errors };
}

/** `conns` WebSocket writers to `base` (http URL), each with `inflight` messages outstanding; the server assigns timestamps. */
export function wsLoad(base: string, store: string, key: string, conns: number, inflight: number, seconds: number): Promise<LoadResult> {
  return streamLoad(
    () => WebSocketWriter.open({ url: base, store, apiKey: key, window: inflight, timestamps: 'server', reconnect: { attempts: 0 } }),
    conns,
    seconds,
  );
}

/** `conns` Unix-socket writers (the reference line protocol), each with `inflight` lines outstanding. */
export function unixLoad(socketPath: string, store: string, key: string, conns: number, inflight: number, seconds: number): Promise<LoadResult> {
  return streamLoad(
    () => UnixSocketWriter.open({ path: socketPath, store, apiKey: key, window: inflight, envelopes: false, reconnect: { attempts: 0 } }),
    conns,
    seconds,
  );
}
