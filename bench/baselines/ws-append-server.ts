/**
 * Baseline for the WebSocket input: a bare `ws` server that JSON.parses each message, appends it
 * to a file and fdatasyncs once per event-loop turn before acking each message in order (an ack
 * frame like tsstore's). No koa, no auth, no storage engine, no pipeline.
 * Usage: node ws-append-server.js <file>; prints READY <port> when listening.
 */
import fs from 'node:fs';
import { WebSocketServer, type WebSocket } from 'ws';

const [file] = process.argv.slice(2);
const fd = fs.openSync(file, 'a');
let pending: Buffer[] = [];
let waiting: { ws: WebSocket; sizes: number[] }[] = [];
let seq = 0;
let syncing = false;
let scheduled = false;

function schedule(): void {
  if (!scheduled && !syncing) {
    scheduled = true;
    setImmediate(flush);
  }
}

function flush(): void {
  scheduled = false;
  if (pending.length === 0) return;
  const data = Buffer.concat(pending);
  const who = waiting;
  pending = [];
  waiting = [];
  syncing = true;
  fs.write(fd, data, () =>
    fs.fdatasync(fd, () => {
      syncing = false;
      for (const w of who) {
        if (w.ws.readyState !== 1) continue;
        for (const size of w.sizes) w.ws.send(`{"type":"ack","timestamp":${++seq},"block_num":0,"size":${size}}`);
      }
      schedule();
    }),
  );
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (ws) => {
  let mine: { ws: WebSocket; sizes: number[] } | undefined;
  ws.on('error', () => undefined);
  ws.on('message', (data: Buffer) => {
    JSON.parse(data.toString('utf8'));
    pending.push(data, Buffer.from('\n'));
    // Messages of one turn share one entry; a new entry after each flush keeps acks in order.
    if (!mine || waiting[waiting.length - 1] !== mine) {
      mine = { ws, sizes: [] };
      waiting.push(mine);
    }
    mine.sizes.push(data.length);
    schedule();
  });
});
wss.on('listening', () => {
  const addr = wss.address();
  process.stdout.write(`READY ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => {
  wss.close();
  process.exit(0);
});
