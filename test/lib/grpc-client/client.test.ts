/**
 * The pod's gRPC client against real `@grpc/grpc-js` servers on loopback (unary, server and
 * bidirectional streams, statuses, deadlines, TLS and mTLS), a TCP relay that goes silent (a
 * dead peer the keepalive must notice), and raw HTTP/2 peers answering what no gRPC server
 * would (truncated, compressed or oversized messages, non-gRPC answers, a malformed frame).
 */
import * as http2 from 'node:http2';
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { createRootCa } from '../../../certs/root-ca.ts';
import { issueWebhookCert } from '../../../certs/webhook-cert.ts';
import { signWorkloadCsr } from '../../../certs/workload-cert.ts';
import { createWorkloadCsr } from '../../../certs/workload-csr.ts';
import { startCall } from '../../../lib/grpc-client/call.ts';
import { FRAME_HEADER_BYTES } from '../../../lib/grpc-client/framing.ts';
import { connectGrpc, type GrpcConnectOptions, type GrpcConnection } from '../../../lib/grpc-client/connection.ts';
import type { GrpcMethod } from '../../../lib/grpc-client/method.ts';
import { GRPC_STATUS, GrpcCallError, type GrpcStatus } from '../../../lib/grpc-client/status.ts';
import { serverStreamCall, unaryCall, unaryRequest } from '../../../lib/grpc-client/unary.ts';

const root = createRootCa({ trustDomain: 'cluster.local' });
const serving = issueWebhookCert(root, { extraIps: ['127.0.0.1'] });
const otherRoot = createRootCa({ trustDomain: 'cluster.local' });

// A test service whose messages are UTF-8 strings, on both sides.
const text = { serialize: (s: string) => Buffer.from(s), deserialize: (b: Buffer) => b.toString() };
const serverMethod = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/test.v1.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: text.serialize,
  requestDeserialize: text.deserialize,
  responseSerialize: text.serialize,
  responseDeserialize: text.deserialize,
});
const SERVICE: grpc.ServiceDefinition = {
  Say: serverMethod('Say', false, false),
  Count: serverMethod('Count', false, true),
  Chat: serverMethod('Chat', true, true),
};
const method = (name: string, requestStream: boolean, responseStream: boolean): GrpcMethod<string, string> => ({
  path: `/test.v1.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: text.serialize,
  responseDeserialize: text.deserialize,
});
const SAY = method('Say', false, false);
const COUNT = method('Count', false, true);
const CHAT = method('Chat', true, true);

interface Seen {
  metadata: grpc.Metadata[];
  cancelled: string[];
  peerCerts: string[];
}

/** The echo service on a real grpc-js server. `Say` answers by the request: `fail:<code>:<details>`, `hang`, or an echo. */
async function startEchoServer(t: Test, credentials = grpc.ServerCredentials.createInsecure()): Promise<{ addr: string; seen: Seen }> {
  const seen: Seen = { metadata: [], cancelled: [], peerCerts: [] };
  const server = new grpc.Server();
  server.addService(SERVICE, {
    Say(call: grpc.ServerUnaryCall<string, string>, cb: grpc.sendUnaryData<string>) {
      seen.metadata.push(call.metadata);
      const cert = call.getAuthContext().sslPeerCertificate;
      if (cert) seen.peerCerts.push(cert.subjectaltname ?? '');
      call.on('cancelled', () => seen.cancelled.push('Say'));
      const [verb, code, details] = call.request.split(':');
      if (verb === 'fail') cb({ code: Number(code), details, metadata: new grpc.Metadata() } as grpc.ServiceError);
      else if (verb !== 'hang') cb(null, `you said ${call.request}`);
    },
    Count(call: grpc.ServerWritableStream<string, string>) {
      seen.metadata.push(call.metadata);
      call.on('cancelled', () => seen.cancelled.push('Count'));
      const n = Number(call.request);
      if (n < 0) {
        call.sendMetadata(new grpc.Metadata()); // headers now, then nothing: for cancel and keepalive
        return;
      }
      for (let i = 1; i <= n; i++) call.write(String(i));
      call.end();
    },
    Chat(call: grpc.ServerDuplexStream<string, string>) {
      let n = 0;
      call.on('data', (m: string) => {
        n++;
        if (m === 'stop') {
          call.emit('error', { code: grpc.status.ABORTED, details: `stopped after ${n} messages` });
          return;
        }
        call.write(`echo ${m}`);
      });
      call.on('end', () => {
        call.write(`total ${n}`);
        call.end();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))));
  t.teardown(() => server.forceShutdown());
  return { addr: `127.0.0.1:${port}`, seen };
}

async function open(t: Test, options: Partial<GrpcConnectOptions> & { address: string }): Promise<GrpcConnection> {
  const connection = await connectGrpc({ connectTimeoutMs: 3000, ...options });
  t.teardown(() => connection.destroy());
  return connection;
}

async function rejection(p: Promise<unknown>): Promise<GrpcCallError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GrpcCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** Runs a call to its status, collecting the messages. */
function collect(start: (handlers: { onMessage(m: string): void; onStatus(s: GrpcStatus): void }) => void): Promise<{ messages: string[]; status: GrpcStatus }> {
  return new Promise((resolve) => {
    const messages: string[] = [];
    start({ onMessage: (m) => messages.push(m), onStatus: (status) => resolve({ messages, status }) });
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

void t.test('unary: an answer, the metadata and headers the server sees, error statuses with their details', async (t) => {
  const { addr, seen } = await startEchoServer(t);
  const connection = await open(t, { address: addr });
  t.equal(await unaryCall(connection, SAY, 'hi', { metadata: { authorization: 'Bearer abc' }, deadline: Date.now() + 5000 }), 'you said hi');
  t.same(seen.metadata[0].get('authorization'), ['Bearer abc'], 'metadata arrives');
  t.match(String(seen.metadata[0].get('user-agent')[0]), /^meshtap-grpc-client\//, 'our user-agent');
  const cases: [number, string][] = [
    [GRPC_STATUS.NOT_FOUND, 'sku tea not found (100% sure)'],
    [GRPC_STATUS.UNAUTHENTICATED, 'CA_ERR_TOKEN_EXPIRED, café'],
    [GRPC_STATUS.INVALID_ARGUMENT, ''],
    [GRPC_STATUS.UNAVAILABLE, 'later'],
  ];
  for (const [code, details] of cases) {
    const e = await rejection(unaryCall(connection, SAY, `fail:${code}:${details}`));
    t.equal(e.code, code, `status ${code}`);
    t.equal(e.details, details, 'details percent-decoded as sent');
  }
  t.equal(await unaryCall(connection, SAY, 'again'), 'you said again', 'the connection carries many calls');
});

void t.test('unary: the deadline ends the call DEADLINE_EXCEEDED and the server sees it cancelled', async (t) => {
  const { addr, seen } = await startEchoServer(t);
  const connection = await open(t, { address: addr });
  const started = Date.now();
  const e = await rejection(unaryCall(connection, SAY, 'hang', { deadline: Date.now() + 300 }));
  const elapsed = Date.now() - started;
  t.equal(e.code, GRPC_STATUS.DEADLINE_EXCEEDED);
  t.ok(elapsed >= 280 && elapsed < 2000, `after ${elapsed} ms (deadline 300 ms)`);
  for (let i = 0; i < 250 && seen.cancelled.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.same(seen.cancelled, ['Say'], 'the server was told (RST_STREAM or its own grpc-timeout)');
  t.equal(await unaryCall(connection, SAY, 'after'), 'you said after', 'the connection is still usable');
});

void t.test('unaryRequest: connects, calls, closes; a server that never comes up fails at the deadline', async (t) => {
  const { addr } = await startEchoServer(t);
  t.equal(await unaryRequest({ address: addr }, SAY, 'once', { deadline: Date.now() + 3000 }), 'you said once');
  const sockets = new Set<Socket>();
  const silent = createServer((s) => sockets.add(s.on('error', () => {})));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const started = Date.now();
  const e = await rejection(unaryRequest({ address: `127.0.0.1:${(silent.address() as AddressInfo).port}`, tls: { ca: root.cert } }, SAY, 'x', { deadline: Date.now() + 400 }));
  t.equal(e.code, GRPC_STATUS.DEADLINE_EXCEEDED, 'TCP accepted, TLS never answered');
  t.ok(Date.now() - started < 2000);
});

void t.test('server streaming: every message in order, then OK; cancel reaches the server', async (t) => {
  const { addr, seen } = await startEchoServer(t);
  const connection = await open(t, { address: addr });
  const { messages, status } = await collect((h) => serverStreamCall(connection, COUNT, '500', {}, h));
  t.equal(status.code, GRPC_STATUS.OK);
  t.equal(messages.length, 500);
  t.ok(messages.every((m, i) => m === String(i + 1)), 'in order');
  let call: ReturnType<typeof serverStreamCall<string, string>> | undefined;
  const cancelled = collect((h) => {
    call = serverStreamCall(connection, COUNT, '-1', {}, { ...h, onHeaders: () => call?.cancel() });
  });
  const { status: c } = await cancelled;
  t.equal(c.code, GRPC_STATUS.CANCELLED);
  t.equal(call?.finished, true);
  for (let i = 0; i < 250 && !seen.cancelled.includes('Count'); i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(seen.cancelled.includes('Count'), 'the server saw the stream cancelled');
});

void t.test('bidirectional: thousands of messages each way, half-close, and a server ending with a status', async (t) => {
  const { addr } = await startEchoServer(t);
  const connection = await open(t, { address: addr });
  const N = 5000;
  const { messages, status } = await collect((h) => {
    const call = startCall(connection, CHAT, {}, h);
    for (let i = 0; i < N; i++) call.write(`m${i}-${'x'.repeat(i % 200)}`);
    call.end();
  });
  t.equal(status.code, GRPC_STATUS.OK);
  t.equal(messages.length, N + 1);
  t.ok(messages.slice(0, N).every((m, i) => m === `echo m${i}-${'x'.repeat(i % 200)}`), 'every echo, in order');
  t.equal(messages[N], `total ${N}`, 'the server saw the half-close after all of them');

  const stopped = await collect((h) => {
    const call = startCall(connection, CHAT, {}, h);
    for (const m of ['a', 'b', 'stop']) call.write(m);
  });
  t.same(stopped.messages, ['echo a', 'echo b']);
  t.same([stopped.status.code, stopped.status.details], [GRPC_STATUS.ABORTED, 'stopped after 3 messages'], 'the server\'s status and details');
});

void t.test('a method serializing with headroom: the call frames in place and the server reads the same messages', async (t) => {
  const { addr } = await startEchoServer(t);
  const connection = await open(t, { address: addr });
  let used = 0;
  const chat: GrpcMethod<string, string> = {
    ...CHAT,
    requestSerialize: () => {
      throw new Error('not used when the method serializes with headroom');
    },
    requestSerializeWithHeadroom: (s: string) => {
      used++;
      const out = Buffer.alloc(FRAME_HEADER_BYTES + Buffer.byteLength(s), 0xee);
      out.write(s, FRAME_HEADER_BYTES);
      return out;
    },
  };
  const { messages, status } = await collect((h) => {
    const call = startCall(connection, chat, {}, h);
    for (const m of ['one', '', 'x'.repeat(70_000)]) call.write(m);
    call.end();
  });
  t.equal(status.code, GRPC_STATUS.OK);
  t.same(messages, ['echo one', 'echo ', `echo ${'x'.repeat(70_000)}`, 'total 3']);
  t.equal(used, 3, 'every message went through the headroom serializer');
});

void t.test('nothing listening: UNAVAILABLE at once, with the reason', async (t) => {
  const port = await freePort();
  const started = Date.now();
  const e = await rejection(connectGrpc({ address: `127.0.0.1:${port}`, connectTimeoutMs: 5000 }));
  t.equal(e.code, GRPC_STATUS.UNAVAILABLE);
  t.match(e.details, /ECONNREFUSED/);
  t.ok(Date.now() - started < 4000, 'not at the 5 s connect timeout');
  t.equal((await rejection(connectGrpc({ address: 'no-port', connectTimeoutMs: 100 }))).code, GRPC_STATUS.UNAVAILABLE, 'a bad address');
});

void t.test('TLS: the server verified with our roots only; a wrong CA or name fails UNAVAILABLE', async (t) => {
  const creds = grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(serving.cert), private_key: Buffer.from(serving.key) }], false);
  const { addr } = await startEchoServer(t, creds);
  const good = await open(t, { address: addr, tls: { ca: root.cert } });
  t.equal(await unaryCall(good, SAY, 'tls'), 'you said tls');
  const wrongCa = await rejection(connectGrpc({ address: addr, tls: { ca: otherRoot.cert }, connectTimeoutMs: 3000 }));
  t.equal(wrongCa.code, GRPC_STATUS.UNAVAILABLE);
  t.match(wrongCa.details, /certificate|verify/i);
  const wrongName = await rejection(connectGrpc({ address: addr, tls: { ca: root.cert, servername: 'elsewhere.example' }, connectTimeoutMs: 3000 }));
  t.match(wrongName.details, /elsewhere\.example/, 'the override name is what is checked');
  const plaintext = await open(t, { address: addr });
  const e = await rejection(unaryCall(plaintext, SAY, 'x', { deadline: Date.now() + 2000 }));
  t.not(e.code, GRPC_STATUS.OK, `plaintext to a TLS server fails (${e.message})`);
});

void t.test('mTLS: the client certificate is presented and checked by the server', async (t) => {
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(root.cert), [{ cert_chain: Buffer.from(serving.cert), private_key: Buffer.from(serving.key) }], true);
  const { addr, seen } = await startEchoServer(t, creds);
  const { keyPem, csrPem } = createWorkloadCsr();
  const cert = signWorkloadCsr(root, csrPem, { spiffeId: 'spiffe://cluster.local/ns/shop/sa/web' }).cert;
  const connection = await open(t, { address: addr, tls: { ca: root.cert, cert, key: keyPem } });
  t.equal(await unaryCall(connection, SAY, 'mtls'), 'you said mtls');
  t.same(seen.peerCerts, ['URI:spiffe://cluster.local/ns/shop/sa/web'], 'the server saw our workload certificate');

  // Without a certificate, or with one from another CA, the server ends the handshake.
  const foreign = createWorkloadCsr();
  const foreignCert = signWorkloadCsr(otherRoot, foreign.csrPem, { spiffeId: 'spiffe://cluster.local/ns/shop/sa/web' }).cert;
  for (const [what, tls] of [
    ['no client certificate', { ca: root.cert }],
    ['a certificate from another CA', { ca: root.cert, cert: foreignCert, key: foreign.keyPem }],
  ] as const) {
    const e = await rejection(
      (async () => {
        const c = await connectGrpc({ address: addr, tls, connectTimeoutMs: 3000 });
        try {
          return await unaryCall(c, SAY, 'x', { deadline: Date.now() + 3000 });
        } finally {
          c.destroy();
        }
      })(),
    );
    t.equal(e.code, GRPC_STATUS.UNAVAILABLE, `${what}: UNAVAILABLE (${e.details})`);
  }
  t.equal(seen.peerCerts.length, 1, 'no call reached the service without a valid certificate');
});

/** A TCP relay to `target` that can go silent: bytes stop flowing both ways, sockets stay open. */
async function startRelay(t: Test, target: string): Promise<{ addr: string; freeze(): void }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets: Socket[] = [];
  let frozen = false;
  const relay: Server = createServer((client) => {
    const upstream = netConnect(port, host);
    sockets.push(client, upstream);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      from.on('error', () => {});
      from.on('data', (chunk) => {
        if (!frozen) to.write(chunk);
      });
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    relay.close();
  });
  return { addr: `127.0.0.1:${(relay.address() as AddressInfo).port}`, freeze: () => (frozen = true) };
}

void t.test('keepalive: a peer that stops answering pings is noticed, the open stream ends UNAVAILABLE', async (t) => {
  const { addr } = await startEchoServer(t);
  const relay = await startRelay(t, addr);
  // A ping timeout long enough that a stalled test process does not miss a live peer's answer.
  const connection = await open(t, { address: relay.addr, keepalive: { intervalMs: 200, timeoutMs: 1500 } });
  let headers = false;
  const result = collect((h) => serverStreamCall(connection, COUNT, '-1', {}, { ...h, onHeaders: () => (headers = true) }));
  for (let i = 0; i < 250 && !headers; i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(headers, 'the stream is open');
  await new Promise((r) => setTimeout(r, 700));
  t.equal(connection.unusable, undefined, 'pings answered while the peer is alive');
  const frozenAt = Date.now();
  relay.freeze();
  const { status } = await result;
  const noticedAfter = Date.now() - frozenAt;
  t.equal(status.code, GRPC_STATUS.UNAVAILABLE);
  t.match(status.details, /keepalive: the server did not answer a ping within 1500 ms/);
  t.ok(noticedAfter >= 1400 && noticedAfter < 6000, `noticed ${noticedAfter} ms after the peer went silent`);
  t.ok(connection.unusable, 'the connection is gone');
});

/** A raw HTTP/2 server answering every stream with `answer`. */
async function rawServer(t: Test, answer: (stream: http2.ServerHttp2Stream) => void): Promise<string> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    answer(stream);
  });
  server.on('sessionError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  t.teardown(() => {
    for (const s of sessions) s.destroy();
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const prefix = (flag: number, length: number) => Buffer.from([flag, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
const grpcHeaders = { ':status': 200, 'content-type': 'application/grpc' };

void t.test('garbage from the server: a clear status, never a crash', async (t) => {
  const cases: [string, (s: http2.ServerHttp2Stream) => void, number, RegExp][] = [
    [
      'a truncated message, then OK',
      (s) => {
        s.respond(grpcHeaders, { waitForTrailers: true });
        s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
        s.end(Buffer.concat([prefix(0, 100), Buffer.from('only ten b')]));
      },
      GRPC_STATUS.INTERNAL,
      /ended inside a message \(10 of 100 bytes\)/,
    ],
    [
      'a compressed message',
      (s) => {
        s.respond(grpcHeaders);
        s.write(Buffer.concat([prefix(1, 2), Buffer.from('zz')]));
      },
      GRPC_STATUS.INTERNAL,
      /compressed message/,
    ],
    [
      'a message over the limit',
      (s) => {
        s.respond(grpcHeaders);
        s.write(prefix(0, 64 * 1024 * 1024));
      },
      GRPC_STATUS.RESOURCE_EXHAUSTED,
      /67108864 bytes, more than the limit of 4194304/,
    ],
    [
      'a message the deserializer refuses',
      (s) => {
        s.respond(grpcHeaders);
        s.write(Buffer.concat([prefix(0, 3), Buffer.from('bad')]));
      },
      GRPC_STATUS.INTERNAL,
      /cannot be read: not a message/,
    ],
    [
      'HTTP 503 from a proxy, no gRPC status',
      (s) => {
        s.respond({ ':status': 503, 'content-type': 'text/plain' });
        s.end('upstream down');
      },
      GRPC_STATUS.UNAVAILABLE,
      /HTTP 503 without a gRPC status/,
    ],
    [
      'HTTP 200 with HTML',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'text/html' });
        s.end('<html>');
      },
      GRPC_STATUS.UNKNOWN,
      /content-type "text\/html", not application\/grpc/,
    ],
    [
      'no grpc-status at the end',
      (s) => {
        s.respond(grpcHeaders);
        s.end();
      },
      GRPC_STATUS.UNKNOWN,
      /without a grpc-status/,
    ],
    [
      'a trailers-only answer, percent-encoded',
      (s) => {
        s.respond({ ...grpcHeaders, 'grpc-status': '7', 'grpc-message': 'caf%C3%A9%20closed' }, { endStream: true });
      },
      GRPC_STATUS.PERMISSION_DENIED,
      /^café closed$/,
    ],
    [
      'the stream reset',
      (s) => s.close(http2.constants.NGHTTP2_REFUSED_STREAM),
      GRPC_STATUS.UNAVAILABLE,
      /reset the stream \(HTTP\/2 error code 7\)/,
    ],
  ];
  const picky: GrpcMethod<string, string> = {
    ...SAY,
    responseDeserialize: (b) => {
      if (b.toString() === 'bad') throw new Error('not a message');
      return b.toString();
    },
  };
  for (const [what, answer, code, details] of cases) {
    const addr = await rawServer(t, answer);
    const connection = await open(t, { address: addr });
    const e = await rejection(unaryCall(connection, picky, 'x', { deadline: Date.now() + 3000 }));
    t.equal(e.code, code, `${what}: ${e.message}`);
    t.match(e.details, details, what);
  }
});

void t.test('a malformed HTTP/2 frame from the peer: UNAVAILABLE, never a crash', async (t) => {
  // Speaks just enough HTTP/2 to be connected to, then sends a DATA frame on stream 0 (a
  // connection error, PROTOCOL_ERROR, by RFC 9113).
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // an empty SETTINGS frame
    let seen = 0;
    socket.on('data', (chunk) => {
      seen += chunk.length;
      // The preface, SETTINGS, and then the request's HEADERS: answer with garbage.
      if (seen > 24 + 9) socket.write(Buffer.from([0, 0, 4, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const connection = await open(t, { address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
  const e = await rejection(unaryCall(connection, SAY, 'x', { deadline: Date.now() + 3000 }));
  t.equal(e.code, GRPC_STATUS.UNAVAILABLE, e.message);
  t.match(e.details, /protocol|HTTP\/2|session/i);
  t.ok(connection.unusable, 'the connection is not used again');
  const after = await rejection(unaryCall(connection, SAY, 'y'));
  t.equal(after.code, GRPC_STATUS.UNAVAILABLE, 'a call on the dead connection fails at once');
});
