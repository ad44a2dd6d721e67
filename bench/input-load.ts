/**
 * Load generators for the input benchmark, run in the bench process against a server in a child
 * process. Closed loop: each connection keeps `inflight` records outstanding and sends one more
 * per reply; latency = reply time - send time of that record.
 */
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';

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

/** FIFO of send times for one pipelined connection. */
class SendTimes {
  private buf = new Float64Array(1024);
  private head = 0;
  private tail = 0;
  push(t: number): void {
    if (this.tail - this.head === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      for (let i = this.head; i < this.tail; i++) bigger[i - this.head] = this.buf[i % this.buf.length];
      this.tail -= this.head;
      this.head = 0;
      this.buf = bigger;
    }
    this.buf[this.tail++ % this.buf.length] = t;
  }
  shift(): number {
    return this.buf[this.head++ % this.buf.length];
  }
}

interface HttpLoadSpec {
  readonly path: string;
  readonly contentType: string;
  /** The next request body and how many records it carries. */
  readonly body: () => { text: string; records: number };
  /** Records the server accepted, from the status and the response text (undefined = failed). */
  readonly accepted: (status: number | undefined, text: string, sent: number) => number | undefined;
}

/** `concurrency` closed-loop HTTP clients POSTing for `seconds`. */
async function httpLoad(base: string, key: string, concurrency: number, seconds: number, spec: HttpLoadSpec): Promise<LoadResult> {
  const url = new URL(spec.path, base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let records = 0;
  let errors = 0;
  const start = now();
  const end = start + seconds * 1000;
  const one = (): Promise<void> => new Promise((resolve) => {
    const { text: body, records: sent } = spec.body();
    const t = now();
    const req = http.request(url, { method: 'POST', agent, headers: { 'X-API-Key': key, 'Content-Type': spec.contentType, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ok = spec.accepted(res.statusCode, Buffer.concat(chunks).toString('latin1'), sent);
        if (ok === undefined) errors += sent;
        else { records += ok; errors += sent - ok; latencies.push(now() - t); }
        resolve();
      });
    });
    req.on('error', () => { errors += sent; resolve(); });
    req.end(body);
  });
  await Promise.all(Array.from({ length: concurrency }, async () => { while (now() < end) await one(); }));
  const elapsed = (now() - start) / 1000;
  agent.destroy();
  return { records, seconds: elapsed, latencies, errors };
}

export function restSingle(base: string, key: string, clients: number, seconds: number): Promise<LoadResult> {
  let seq = 0;
  return httpLoad(base, key, clients, seconds, {
    path: '/api/stores/bench/data',
    contentType: 'application/json',
    body: () => ({ text: `{"data":${record(seq++)}}`, records: 1 }),
    accepted: (status) => (status === 201 ? 1 : undefined),
  });
}

export function restBatch(base: string, key: string, concurrency: number, perRequest: number, seconds: number): Promise<LoadResult> {
  let seq = 0;
  return httpLoad(base, key, concurrency, seconds, {
    path: '/api/stores/bench/data/batch',
    contentType: 'application/x-ndjson',
    body: () => {
      let text = '';
      for (let i = 0; i < perRequest; i++) text += `{"data":${record(seq++)}}\n`;
      return { text, records: perRequest };
    },
    accepted: (status, text) => {
      const m = /"accepted":(\d+)/.exec(text);
      return status === 200 && m ? Number(m[1]) : undefined;
    },
  });
}

/** `conns` WebSocket writers, each with `inflight` messages outstanding. */
export async function wsLoad(url: string, conns: number, inflight: number, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let records = 0;
  let errors = 0;
  let seq = 0;
  const sockets = await Promise.all(Array.from({ length: conns }, () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  })));
  const start = now();
  const end = start + seconds * 1000;
  await Promise.all(sockets.map((ws) => new Promise<void>((resolve) => {
    const times = new SendTimes();
    const socket = (ws as unknown as { _socket: net.Socket })._socket;
    let outstanding = 0;
    let stopping = false;
    let due = 0;
    // Acks arrive in bursts; answering a burst with one corked write keeps the client cheap.
    const sendDue = (): void => {
      const t = now();
      socket.cork();
      for (; due > 0; due--) { times.push(t); outstanding++; ws.send(`{"data":${record(seq++)}}`); }
      socket.uncork();
    };
    ws.on('error', () => undefined);
    ws.on('message', (m: Buffer) => {
      const t = now();
      latencies.push(t - times.shift());
      outstanding--;
      if (m[9] === 0x61) records++; else errors++; // {"type":"ack"…: byte 9 is the 'a' of ack
      if (!stopping && t >= end) stopping = true;
      if (!stopping) { if (due++ === 0) queueMicrotask(sendDue); } else if (outstanding === 0) { ws.close(); resolve(); }
    });
    due = inflight;
    sendDue();
  })));
  return { records, seconds: (now() - start) / 1000, latencies, errors };
}

/** `conns` Unix-socket clients (AUTH first), each with `inflight` lines outstanding. */
export async function unixLoad(socketPath: string, auth: string, conns: number, inflight: number, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let records = 0;
  let errors = 0;
  let seq = 0;
  const start = now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: conns }, () => new Promise<void>((resolve, reject) => {
    const socket = net.connect(socketPath);
    const times = new SendTimes();
    let authed = false;
    let outstanding = 0;
    let stopping = false;
    let rest = '';
    const send = (n: number): void => {
      let text = '';
      const t = now();
      for (let i = 0; i < n; i++) { text += record(seq++) + '\n'; times.push(t); }
      outstanding += n;
      socket.write(text);
    };
    socket.setEncoding('latin1');
    socket.once('error', reject);
    socket.on('connect', () => socket.write(auth));
    socket.on('data', (chunk: string) => {
      const t = now();
      let s = rest + chunk;
      let replies = 0;
      let at = 0;
      for (;;) {
        const nl = s.indexOf('\n', at);
        if (nl < 0) break;
        if (!authed) authed = true;
        else {
          replies++;
          latencies.push(t - times.shift());
          if (s.charCodeAt(at) === 0x4f) records++; else errors++; // 'O' of OK
        }
        at = nl + 1;
      }
      rest = s.slice(at);
      s = '';
      if (outstanding === 0 && replies === 0) { send(inflight); return; }
      outstanding -= replies;
      if (!stopping && t >= end) stopping = true;
      if (!stopping) { if (replies > 0) send(replies); } else if (outstanding === 0) { socket.end(); resolve(); }
    });
  })));
  return { records, seconds: (now() - start) / 1000, latencies, errors };
}
