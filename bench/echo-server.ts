/** The bench's application: answers every request with its body. Argument: the port. */
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen({ host: '0.0.0.0', port: Number(process.argv[2] ?? '8080') }, () => process.stdout.write('{"ready":true}\n'));
process.on('SIGTERM', () => process.exit(0));
