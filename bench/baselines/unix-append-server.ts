/**
 * Baseline for the Unix-socket input: a bare Node server that only splits lines, JSON.parses each,
 * appends them to a file and fdatasyncs once per event-loop turn before answering `OK <n>`.
 * Same client protocol as tsstore (an AUTH line first), no storage engine, no pipeline.
 * Usage: node unix-append-server.js <socket> <file>; prints READY when listening.
 */
import fs from 'node:fs';
import net from 'node:net';

const [socketPath, file] = process.argv.slice(2);
const fd = fs.openSync(file, 'a');
let pending: Buffer[] = [];
let waiting: { socket: net.Socket; count: number }[] = [];
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
        let out = '';
        for (let i = 0; i < w.count; i++) out += `OK ${++seq}\n`;
        if (!w.socket.destroyed) w.socket.write(out);
      }
      schedule();
    }),
  );
}

const server = net.createServer((socket) => {
  let rest = '';
  let authed = false;
  socket.on('error', () => undefined);
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    let count = 0;
    for (const line of lines) {
      if (!authed) {
        authed = true;
        socket.write('OK\n');
        continue;
      }
      if (line === 'QUIT') {
        socket.end('OK bye\n');
        continue;
      }
      JSON.parse(line);
      pending.push(Buffer.from(line + '\n'));
      count++;
    }
    if (count > 0) {
      waiting.push({ socket, count });
      schedule();
    }
  });
});
try {
  fs.unlinkSync(socketPath);
} catch {
  /* not there */
}
server.listen(socketPath, () => process.stdout.write('READY\n'));
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
