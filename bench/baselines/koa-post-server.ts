/**
 * Baseline for REST single inserts: bare koa + @koa/router answering a JSON POST (body read,
 * JSON.parse, 201 with a small JSON body). No auth, no storage.
 * Usage: node koa-post-server.js; prints READY <port>.
 */
import Koa from 'koa';
import Router from '@koa/router';

const app = new Koa();
const router = new Router();
let seq = 0;
router.post('/api/stores/:store/data', async (ctx) => {
  const chunks: Buffer[] = [];
  for await (const c of ctx.req as AsyncIterable<Buffer>) chunks.push(c);
  JSON.parse(Buffer.concat(chunks).toString('utf8'));
  ctx.status = 201;
  ctx.type = 'application/json';
  ctx.body = `{"timestamp":${++seq},"block_num":0,"size":0}`;
});
app.use(router.routes());
const server = app.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`READY ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
