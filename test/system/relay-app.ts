/**
 * The middle pod's application in the flow tests: an HTTP server that, for each request, calls
 * the next service and answers with what it got. Arguments: `<port> <upstream base URL>`.
 * Prints `{"ready":true}` once listening.
 *
 *   /plain      calls `<upstream>/echo` (with the request's query) with no trace headers at all (an app that propagates nothing)
 *   /propagate  forwards the request's `traceparent` with a new span id of its own (an instrumented app)
 */
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';

const port = Number(process.argv[2]);
const upstream = new URL(process.argv[3]);

function callUpstream(search: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    // A fresh connection per call (agent: false): nothing pooled hides a hop from capture.
    const req = httpRequest({ host: upstream.hostname, port: upstream.port, path: `/echo${search}`, method: 'POST', agent: false, headers: { 'content-type': 'text/plain', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end('relayed');
  });
}

const server = createServer((req, res) => {
  const headers: Record<string, string> = {};
  const incoming = req.headers.traceparent;
  if ((req.url ?? '').startsWith('/propagate') && typeof incoming === 'string') {
    const parts = incoming.split('-');
    headers.traceparent = `${parts[0]}-${parts[1]}-${randomBytes(8).toString('hex')}-${parts[3]}`;
  }
  req.resume();
  req.on('end', () => {
    callUpstream(new URL(req.url ?? '/', 'http://x').search, headers).then(
      (body) => res.end(`upstream said: ${body}`),
      (err: Error) => {
        res.statusCode = 502;
        res.end(err.message);
      },
    );
  });
});
server.listen(port, () => process.stdout.write(`${JSON.stringify({ ready: true })}\n`));
