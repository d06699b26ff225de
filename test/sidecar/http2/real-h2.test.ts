/**
 * Real reference: a `node:http2` h2c server behind a recording TCP relay on loopback, real
 * `node:http2` (and curl, when it speaks HTTP/2) clients through it; the recorded chunks are then
 * fed to the capture session, whole and re-cut, and every call must come out as sent.
 */
import t from 'tap';
import http2 from 'node:http2';
import net from 'node:net';
import zlib from 'node:zlib';
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import type { CaptureEvent, Exchange } from '../../../sidecar/capture/session.ts';
import { createHttp2Session } from '../../../sidecar/http2/session.ts';
import { plain, rng } from '../http1/harness.ts';

interface Chunk {
  dir: 'c' | 's';
  data: Buffer;
}

const BIG = Buffer.alloc(200 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = 97 + (i % 26);
const GZ_TEXT = JSON.stringify({ greeting: 'hello', list: Array.from({ length: 50 }, (_, i) => i) });

function startServer(): http2.Http2Server {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    stream.on('error', () => {});
    if (path.startsWith('/small')) {
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-path': path });
      stream.end(`hello ${path}`);
    } else if (path === '/echo') {
      const parts: Buffer[] = [];
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.on('end', () => {
        stream.respond({ ':status': 201, 'content-type': 'application/octet-stream' });
        stream.end(Buffer.concat([Buffer.from('echo:'), ...parts]));
      });
    } else if (path === '/big') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(BIG);
    } else if (path === '/trailers') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'done', 'x-count': '3' }));
      stream.end('with trailers');
    } else if (path === '/gz') {
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-encoding': 'gzip' });
      stream.end(zlib.gzipSync(GZ_TEXT));
    } else if (path === '/slow') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.write('first part');
      // Never ends: the client cancels.
    } else {
      stream.respond({ ':status': 404 });
      stream.end();
    }
  });
  return server;
}

/** A TCP relay that records every chunk, per connection, in the order it forwarded them. */
function startRelay(targetPort: number): { server: net.Server; connections: Chunk[][]; closed: Promise<void>[] } {
  const connections: Chunk[][] = [];
  const closed: Promise<void>[] = [];
  const server = net.createServer((down) => {
    const chunks: Chunk[] = [];
    connections.push(chunks);
    const up = net.connect(targetPort, '127.0.0.1');
    closed.push(Promise.all([once(down, 'close'), once(up, 'close')]).then(() => undefined));
    down.on('data', (d: Buffer) => {
      chunks.push({ dir: 'c', data: Buffer.from(d) });
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      chunks.push({ dir: 's', data: Buffer.from(d) });
      down.write(d);
    });
    down.on('end', () => up.end());
    up.on('end', () => down.end());
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
  });
  return { server, connections, closed };
}

function feed(chunks: Chunk[], maxBodyBytes: number, recut?: number): { exchanges: Exchange[]; events: CaptureEvent[] } {
  const exchanges: Exchange[] = [];
  const events: CaptureEvent[] = [];
  const s = createHttp2Session({ maxBodyBytes, emit: (e) => exchanges.push(e), event: (e) => events.push(e) });
  const rand = rng(recut ?? 1);
  chunks.forEach((c, i) => {
    const now = BigInt(i + 1) * 1000n;
    const pieces: Buffer[] = [];
    if (recut === undefined) pieces.push(c.data);
    else for (let o = 0; o < c.data.length; ) {
      const n = 1 + Math.floor(rand() * 40);
      pieces.push(c.data.subarray(o, o + n));
      o += n;
    }
    for (const p of pieces) {
      if (c.dir === 'c') s.clientData(p, now);
      else s.serverData(p, now);
    }
  });
  s.close(BigInt(chunks.length + 1) * 1000n, 'fin');
  return { exchanges, events };
}

const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('latin1');

function request(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<{ status: number; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = client.request(headers, { endStream: body === undefined });
    let status = 0;
    let trailers: http2.IncomingHttpHeaders = {};
    const parts: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.on('trailers', (h) => {
      trailers = h;
    });
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve({ status, body: Buffer.concat(parts), trailers }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

const curlHasHttp2 = ((): boolean => {
  try {
    return /\bHTTP2\b/.test(execFileSync('/usr/bin/curl', ['-V'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
})();

void t.test('node:http2 client and server through a recording relay', async (t) => {
  const server = startServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const relay = startRelay((server.address() as net.AddressInfo).port);
  relay.server.listen(0, '127.0.0.1');
  await once(relay.server, 'listening');
  t.teardown(() => {
    relay.server.close();
    server.close();
  });
  const port = (relay.server.address() as net.AddressInfo).port;

  const client = http2.connect(`http://127.0.0.1:${port}`);
  const postBody = Buffer.from('a'.repeat(3000) + 'END');
  const cancelled = new Promise<void>((resolve) => {
    const req = client.request({ ':path': '/slow' });
    req.on('data', () => req.close(http2.constants.NGHTTP2_CANCEL));
    req.on('close', () => resolve());
    req.on('error', () => {});
  });
  const results = await Promise.all([
    request(client, { ':path': '/small?i=1', 'x-req': 'one' }),
    request(client, { ':path': '/small?i=2', cookie: ['a=1', 'b=2'] }),
    request(client, { ':path': '/small?i=3' }),
    request(client, { ':method': 'POST', ':path': '/echo', 'content-type': 'text/plain' }, postBody),
    request(client, { ':path': '/big' }),
    request(client, { ':path': '/trailers' }),
    request(client, { ':path': '/gz', 'accept-encoding': 'gzip' }),
    cancelled.then(() => undefined),
  ]);
  t.equal(results[4]?.body.length, BIG.length, 'the client got the big body');
  t.same(results[5]?.trailers['x-trailer'], 'done');
  client.close();
  await Promise.all(relay.closed);

  t.equal(relay.connections.length, 1);
  const chunks = relay.connections[0];
  const maxBody = 64 * 1024;
  const { exchanges, events } = feed(chunks, maxBody);
  t.same(events.filter((e) => e.kind !== 'body_truncated'), [], 'no parse errors');
  t.same(events.filter((e) => e.kind === 'body_truncated').length, 1, 'the big body was cut');
  const byPath = new Map(exchanges.map((e) => [e.path, e]));
  t.equal(exchanges.length, 8, 'one exchange per stream');
  t.same(exchanges.map((e) => e.ordinal).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7]);

  for (const i of [1, 2, 3]) {
    const e = byPath.get(`/small?i=${i}`);
    t.match(e, { protocol: 'http2', method: 'GET', status_code: 200, authority: `127.0.0.1:${port}` }, `small ${i}`);
    t.equal(text(e?.response?.body), `hello /small?i=${i}`);
    t.equal(e?.response?.headers['x-path'], `/small?i=${i}`);
    t.notOk(e?.error);
  }
  t.equal(byPath.get('/small?i=1')?.request?.headers['x-req'], 'one');
  t.equal(byPath.get('/small?i=2')?.request?.headers.cookie, 'a=1; b=2');

  const echo = byPath.get('/echo');
  t.match(echo, { method: 'POST', status_code: 201 });
  t.equal(text(echo?.request?.body), postBody.toString());
  t.equal(text(echo?.response?.body), `echo:${postBody.toString()}`);

  const big = byPath.get('/big');
  t.equal(big?.response?.body_size, BIG.length);
  t.equal(big?.response?.truncated, true);
  t.same(Buffer.from(big?.response?.body ?? []), BIG.subarray(0, maxBody));
  t.ok((big?.bytes_in ?? 0) > BIG.length, 'frame bytes of the stream counted');

  const tr = byPath.get('/trailers');
  t.equal(text(tr?.response?.body), 'with trailers');
  t.same(tr?.response?.trailers, { 'x-trailer': 'done', 'x-count': '3' });

  const gz = byPath.get('/gz');
  t.equal(text(gz?.response?.body), GZ_TEXT);
  t.equal(gz?.response?.content_encoding, 'gzip');

  const slow = byPath.get('/slow');
  t.match(slow, { error: 'client_timeout', error_detail: 'RST_STREAM CANCEL', status_code: 200 });
  t.equal(text(slow?.response?.body), 'first part');

  // The same bytes cut differently give the same records.
  for (const seed of [2, 3]) t.same(plain(feed(chunks, maxBody, seed)), plain({ exchanges, events }), `re-cut with seed ${seed}`);
});

if (curlHasHttp2) {
  void t.test('curl --http2-prior-knowledge through the relay', async (t) => {
    const server = startServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const relay = startRelay((server.address() as net.AddressInfo).port);
    relay.server.listen(0, '127.0.0.1');
    await once(relay.server, 'listening');
    t.teardown(() => {
      relay.server.close();
      server.close();
    });
    const port = (relay.server.address() as net.AddressInfo).port;
    const curl = (args: string[]): Promise<string> =>
      new Promise<string>((resolve, reject) => {
        execFile('/usr/bin/curl', ['--http2-prior-knowledge', '-s', '-S', ...args], { timeout: 20_000 }, (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${err.message}: ${stderr}`))));
      });
    // One URL per run: curl 7.88 fails reusing a prior-knowledge connection for a second URL.
    const out = await curl(['-H', 'x-curl: yes', `http://127.0.0.1:${port}/small?curl=1`]);
    t.equal(await curl(['--compressed', `http://127.0.0.1:${port}/gz`]), GZ_TEXT);
    t.equal(await curl(['-d', 'curl-body', `http://127.0.0.1:${port}/echo`]), 'echo:curl-body');
    t.match(out, /hello \/small\?curl=1/);
    await Promise.all(relay.closed);
    const all = relay.connections.flatMap((chunks) => feed(chunks, 64 * 1024).exchanges);
    const byPath = new Map(all.map((e) => [e.path, e]));
    t.match(byPath.get('/small?curl=1'), { method: 'GET', status_code: 200 });
    t.equal(byPath.get('/small?curl=1')?.request?.headers['x-curl'], 'yes');
    t.match(byPath.get('/small?curl=1')?.request?.headers['user-agent'], /^curl\//);
    t.equal(text(byPath.get('/gz')?.response?.body), GZ_TEXT);
    const echo = all.find((e) => e.method === 'POST');
    t.equal(text(echo?.request?.body), 'curl-body');
    t.equal(text(echo?.response?.body), 'echo:curl-body');
  });
}
