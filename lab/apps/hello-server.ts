/**
 * Demo app `meshtap/demo-hello-server`: a small HTTP API. Every GET answers JSON naming the
 * pod and echoing the path; POST /echo returns the body; /healthz is for probes.
 * Environment: PORT (default 8080), GREETING.
 */
import { createServer } from 'node:http';
import { hostname } from 'node:os';

const port = Number(process.env.PORT ?? 8080);
const greeting = process.env.GREETING ?? 'hello';
const pod = process.env.POD_NAME ?? process.env.HOSTNAME ?? hostname();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.method === 'POST' && url.pathname === '/echo') {
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' }).end(Buffer.concat(chunks));
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    const from = req.headers['x-caller'] ?? 'someone';
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ greeting: `${greeting}, ${String(from)}`, pod, path: url.pathname, query: Object.fromEntries(url.searchParams) }));
  });
});

server.listen(port, '0.0.0.0', () => console.log(JSON.stringify({ msg: 'listening', port, pod })));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
