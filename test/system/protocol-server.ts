/**
 * The server pod's second application in the protocol system tests: an h2c server, a gRPC
 * service (`test/fixtures/grpc/shop.proto`) and a WebSocket echo, on the ports given as JSON.
 * Prints `{"ready":true}` once all listen.
 */
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { WebSocketServer } from 'ws';

const ports = JSON.parse(process.argv[2]) as { h2c: number; grpc: number; ws: number };

// h2c: /echo answers the request body (or the path) with a trailer; /status/N answers N.
const h2 = http2.createServer();
h2.on('stream', (stream, headers) => {
  const path = String(headers[':path']);
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    const status = /^\/status\/(\d{3})/.exec(path);
    if (status) {
      stream.respond({ ':status': Number(status[1]), 'content-type': 'text/plain' });
      stream.end(`status ${status[1]}`);
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-served-by': 'protocol-server' }));
    stream.end(chunks.length > 0 ? Buffer.concat(chunks) : Buffer.from(`echo ${path}`));
  });
});

const def = protoLoader.loadSync(fileURLToPath(new URL('../fixtures/grpc/shop.proto', import.meta.url)), { keepCase: true });
const shop = (grpc.loadPackageDefinition(def).shop as grpc.GrpcObject).Inventory as grpc.ServiceClientConstructor;
const server = new grpc.Server();
server.addService(shop.service, {
  Reserve(call: grpc.ServerUnaryCall<{ sku: string; quantity: number; filler: Buffer }, unknown>, done: grpc.sendUnaryData<unknown>) {
    if (call.request.sku === 'missing') {
      done({ code: grpc.status.NOT_FOUND, details: `sku ${call.request.sku} not found` });
      return;
    }
    const remaining = 100 - call.request.quantity;
    done(null, { reservation_id: `r-${call.request.sku}-${call.request.quantity}`, remaining, filler: call.request.filler, availability: remaining < 98 ? 'LOW' : 'IN_STOCK' });
  },
  Watch(call: grpc.ServerWritableStream<{ sku: string; updates: number }, unknown>) {
    for (let i = 0; i < call.request.updates; i++) call.write({ sku: call.request.sku, level: 10 - i });
    call.end();
  },
  Upload(call: grpc.ServerReadableStream<{ text: string }, unknown>, done: grpc.sendUnaryData<unknown>) {
    const parts: string[] = [];
    call.on('data', (c: { text: string }) => parts.push(c.text));
    call.on('end', () => done(null, { chunks: parts.length, joined: parts.join('+') }));
  },
  Chat(call: grpc.ServerDuplexStream<{ text: string }, unknown>) {
    call.on('data', (c: { text: string }) => call.write({ text: `re: ${c.text}` }));
    call.on('end', () => call.end());
  },
});

const wss = new WebSocketServer({ port: ports.ws, host: '0.0.0.0' });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));

await new Promise<void>((resolve) => h2.listen(ports.h2c, '0.0.0.0', resolve));
await new Promise<void>((resolve, reject) => server.bindAsync(`0.0.0.0:${ports.grpc}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
await new Promise<void>((resolve) => (wss.address() ? resolve() : wss.once('listening', () => resolve())));
console.log(JSON.stringify({ ready: true }));
