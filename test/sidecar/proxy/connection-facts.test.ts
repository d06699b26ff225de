/**
 * Connection facts through the real proxy over loopback, with real clients and servers, for
 * both capture channels (inline, and the capture worker with its op stream): the connect time
 * on the first exchange of a keep-alive connection only, resets and who sent them, a client
 * that gives up (`client_timeout`) by reset or by closing, an HTTP/1.0 half-close that is not a
 * timeout, pipelined requests that queue, and an opaque TCP connection's facts.
 */
import { once } from 'node:events';
import { Agent, createServer as createHttpServer, request, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import t from 'tap';
import { collectorMessageType, decodeRecord, type CallRecordMessage } from '../../../record/codec.ts';
import type { ConnectionFacts } from '../../../record/record.ts';
import { createCaptureHandOff } from '../../../sidecar/capture-worker/hand-off.ts';
import { createEpochClock } from '../../../sidecar/clock.ts';
import { createSidecarStats } from '../../../sidecar/metrics.ts';
import { createCaptureFactory } from '../../../sidecar/proxy/capture-factory.ts';
import { createInlineCapture } from '../../../sidecar/proxy/inline-capture.ts';
import { loopbackProxy } from './loopback-proxy.ts';
import type { CaptureChannel } from '../../../sidecar/proxy/capture-channel.ts';

type Channel = 'inline' | 'worker';

/** What these tests read of a record, the same from both channels. */
interface Seen {
  protocol: string;
  ordinal: number;
  path?: string;
  error?: string;
  connection?: ConnectionFacts;
  queue_us?: number;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

const recordType = collectorMessageType('meshtap.v1.CallRecord');

function decodeSeen(bytes: Uint8Array): Seen {
  const result = decodeRecord(recordType.toObject(recordType.decode(bytes), { longs: String }) as CallRecordMessage);
  if (!result.ok) throw new Error(`undecodable record: ${result.detail}`);
  const r = result.record;
  return { protocol: r.protocol, ordinal: r.ordinal, path: r.path, error: r.error, connection: r.connection, queue_us: r.queue_us };
}

interface Harness {
  port: number;
  /** Waits until `n` records are in (the worker's come back asynchronously). */
  records(n: number): Promise<Seen[]>;
}

async function startProxy(t: Teardown, channel: Channel, targetPort: number): Promise<Harness> {
  const stats = createSidecarStats();
  const clock = createEpochClock();
  const seen: Seen[] = [];
  let capture: CaptureChannel;
  let flush = async () => true;
  if (channel === 'inline') {
    capture = createInlineCapture({
      factory: createCaptureFactory(),
      clock,
      stats,
      maxBodyBytes: 1024,
      detectTimeoutMs: 50,
      onExchange: (e) => seen.push({ protocol: e.protocol, ordinal: e.ordinal, path: e.path, error: e.error, connection: e.connection, queue_us: e.queue_us }),
    });
  } else {
    const handOff = createCaptureHandOff({
      worker: { maxBodyBytes: 1024, detectTimeoutMs: 50, local: { pod: 'web', namespace: 'shop' }, mask: {}, shipping: true },
      clock,
      stats,
      onRecords: (batch) => {
        for (const r of batch) seen.push(decodeSeen(r));
      },
    });
    await handOff.ready();
    capture = handOff;
    flush = () => handOff.flush(5000);
    t.teardown(() => handOff.close(2000));
  }
  const proxy = loopbackProxy({ clock, stats, capture, targetPort });
  const addresses = await proxy.listen();
  t.teardown(async () => {
    await proxy.stopAccepting();
    await proxy.drain(0);
  });
  return {
    port: addresses.outbound.port,
    async records(n) {
      const deadline = Date.now() + 5000;
      while (seen.length < n && Date.now() < deadline) {
        await flush();
        await new Promise((r) => setTimeout(r, 20));
      }
      return seen.slice().sort((a, b) => a.ordinal - b.ordinal);
    },
  };
}

async function listen(t: Teardown, server: Server | HttpServer): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** A raw TCP server; its sockets are destroyed at teardown. */
async function tcpServer(t: Teardown, onSocket: (socket: Socket) => void): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  return listen(t, server);
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves on 'close' whatever errors came first. */
function closed(socket: Socket): Promise<void> {
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.once('end', () => resolve(text));
    socket.once('close', () => resolve(text));
  });
}

const req = (path: string) => `GET ${path} HTTP/1.1\r\nhost: app\r\n\r\n`;

for (const channel of ['inline', 'worker'] as const) {
  void t.test(`${channel}: keep-alive — connect time on the first exchange only, reuse counted`, async (t) => {
    const app = createHttpServer((q, s) => s.end(`hi ${q.url}`));
    const h = await startProxy(t, channel, await listen(t, app));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());
    for (const path of ['/a', '/b', '/c']) {
      const body = await new Promise<string>((resolve, reject) => {
        request({ host: '127.0.0.1', port: h.port, path, agent }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      t.equal(body, `hi ${path}`);
    }
    agent.destroy();
    const records = await h.records(3);
    t.same(records.map((r) => [r.path, r.error, r.connection?.exchanges]), [
      ['/a', undefined, 1],
      ['/b', undefined, 2],
      ['/c', undefined, 3],
    ]);
    const first = records[0].connection?.connect_us;
    t.ok(typeof first === 'number' && first >= 0, `the first exchange has the connect time (${first} µs)`);
    t.notOk(records.slice(1).some((r) => r.connection?.connect_us !== undefined), 'later exchanges do not repeat it');
    t.notOk(records.some((r) => r.connection?.tls_handshake_us !== undefined), 'no mesh handshake on a plaintext hop');
  });

  void t.test(`${channel}: an upstream that resets — reset, reset_by server`, async (t) => {
    const port = await tcpServer(t, (socket) => socket.once('data', () => socket.resetAndDestroy()));
    const h = await startProxy(t, channel, port);
    const client = await dial(h.port);
    const gone = closed(client);
    client.write(req('/reset'));
    await gone;
    const [r] = await h.records(1);
    t.same([r.path, r.error, r.connection?.reset_by], ['/reset', 'reset', 'server']);
  });

  void t.test(`${channel}: a client that resets mid-response gave up — client_timeout, reset_by client`, async (t) => {
    let serverSide: Socket | undefined;
    const port = await tcpServer(t, (socket) => {
      serverSide = socket;
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nthe first part'));
    });
    const h = await startProxy(t, channel, port);
    const client = await dial(h.port);
    client.write(req('/stream'));
    await once(client, 'data');
    const serverGone = closed(serverSide!);
    client.resetAndDestroy();
    await serverGone;
    const [r] = await h.records(1);
    t.same([r.path, r.error, r.connection?.reset_by], ['/stream', 'client_timeout', 'client']);
  });

  void t.test(`${channel}: a client that closes before any response gave up — client_timeout, half_closed_by client`, async (t) => {
    // A real HTTP server: on the client's FIN it drops the request in progress and closes.
    const app = createHttpServer((_q, s) => setTimeout(() => s.end('too late'), 2000).unref());
    const h = await startProxy(t, channel, await listen(t, app));
    const client = await dial(h.port);
    const reply = readAll(client);
    client.write(req('/slow'));
    await new Promise((r) => setTimeout(r, 50));
    client.end();
    t.equal(await reply, '', 'no response came');
    const [r] = await h.records(1);
    t.same([r.path, r.error, r.connection?.half_closed_by, r.connection?.reset_by], ['/slow', 'client_timeout', 'client', undefined]);
  });

  void t.test(`${channel}: HTTP/1.0 half-close with the whole response — no error, half_closed_by client`, async (t) => {
    const port = await tcpServer(t, (socket) => {
      socket.resume();
      socket.once('end', () => socket.end('HTTP/1.0 200 OK\r\n\r\nanswered after the FIN'));
    });
    const h = await startProxy(t, channel, port);
    const client = await dial(h.port);
    const reply = readAll(client);
    client.end('GET /old HTTP/1.0\r\n\r\n');
    t.match(await reply, /answered after the FIN$/);
    const [r] = await h.records(1);
    t.same([r.path, r.error, r.connection?.half_closed_by], ['/old', undefined, 'client']);
  });

  void t.test(`${channel}: pipelined requests — the second and third queue`, async (t) => {
    // Answers one request at a time, each 30 ms after the previous answer.
    const port = await tcpServer(t, (socket) => {
      let buffered = '';
      let busy = false;
      const next = () => {
        const end = buffered.indexOf('\r\n\r\n');
        if (busy || end === -1) return;
        const path = buffered.split(' ')[1];
        buffered = buffered.slice(end + 4);
        busy = true;
        setTimeout(() => {
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${path.length}\r\n\r\n${path}`);
          busy = false;
          next();
        }, 30);
      };
      socket.on('data', (c: Buffer) => {
        buffered += c.toString('latin1');
        next();
      });
      socket.once('end', () => socket.end());
    });
    const h = await startProxy(t, channel, port);
    const client = await dial(h.port);
    let got = '';
    const all = new Promise<void>((resolve) =>
      client.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if (got.includes('/3')) resolve();
      }),
    );
    client.write(req('/1') + req('/2') + req('/3'));
    await all;
    client.end();
    await closed(client);
    const records = await h.records(3);
    t.same(records.map((r) => [r.path, r.error]), [['/1', undefined], ['/2', undefined], ['/3', undefined]]);
    t.equal(records[0].queue_us, undefined, 'the first request did not wait');
    for (const r of records.slice(1)) t.ok((r.queue_us ?? 0) > 0, `${r.path} waited behind the earlier responses (${r.queue_us} µs)`);
  });

  void t.test(`${channel}: an opaque TCP connection carries its facts`, async (t) => {
    const port = await tcpServer(t, (socket) => {
      socket.on('data', (c: Buffer) => socket.write(c));
      socket.once('end', () => socket.end());
    });
    const h = await startProxy(t, channel, port);
    const client = await dial(h.port);
    const reply = readAll(client);
    client.end(Buffer.from([0, 1, 2, 3, 0xff, 0xfe]));
    t.equal((await reply).length, 6, 'echoed');
    const [r] = await h.records(1);
    t.equal(r.protocol, 'tcp');
    t.equal(r.error, undefined);
    t.equal(r.connection?.exchanges, 1);
    t.equal(r.connection?.half_closed_by, 'client');
    t.ok(typeof r.connection?.connect_us === 'number', 'connect time on the connection record');
  });
}
