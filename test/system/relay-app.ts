/**
 * The middle pod's application in the flow tests: an HTTP server that, for each request, calls
 * the next service and answers with what it got. Arguments: `<port> <upstream base URL>`.
 * Prints `{"ready":true}` once listening.
 *
 *   /plain      calls `<upstream>/echo` (with the request's query) with no trace headers at all (an app that propagates nothing)
 *   /propagate  forwards the request's `traceparent` with a new span id of its own (an instrumented app)
 *   /mint       as /propagate, but starts a trace of its own when the request has none (a tracing
 *               SDK at the edge); its answer ends with ` trace=<the trace id it sent>`
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
  const url = req.url ?? '';
  if ((url.startsWith('/propagate') || url.startsWith('/mint')) && typeof incoming === 'string') {
    const parts = incoming.split('-');
    headers.traceparent = `${parts[0]}-${parts[1]}-${randomBytes(8).toString('hex')}-${parts[3]}`;
  } else if (url.startsWith('/mint')) {
    headers.traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
  }
  const minted = url.startsWith('/mint') ? ` trace=${headers.traceparent.split('-')[1]}` : '';
  req.resume();
  req.on('end', () => {
    callUpstream(new URL(req.url ?? '/', 'http://x').search, headers).then(
      (body) => res.end(`upstream said: ${body}${minted}`),
      (err: Error) => {
        res.statusCode = 502;
        res.end(err.message);
      },
    );
  });
});
server.listen(port, () => process.stdout.write(`${JSON.stringify({ ready: true })}\n`));
