/**
 * The hand-off to the capture worker, over loopback with a real worker thread: records come
 * back encoded and decode to what was sent; a stalled worker never slows forwarding — every
 * request is answered byte-exact while captures are cut at the budgets (counted, and the
 * records say `capture_overflow`), and the bytes held stay within the budget; a worker that
 * dies is replaced. With a collector the worker ships the records itself: they reach a real
 * collector without coming back, its counts and metrics are mirrored, and a worker that dies
 * counts the records its shipper held.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request, Agent, createServer, Server } from 'node:http';
import { connect as connectH2, createServer as createH2Server, type ClientHttp2Session, type Http2Server } from 'node:http2';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import pg from 'pg';
import { collectorMessageType } from '../../../record/codec.ts';
import { createEpochClock, epochAtPerformanceZero } from '../../../sidecar/clock.ts';
import { createCaptureHandOff, type CaptureHandOff, type CaptureHandOffOptions } from '../../../sidecar/capture-worker/hand-off.ts';
import type { NsClock } from '../../../sidecar/capture/session.ts';
import { createSidecarStats, type SidecarStats } from '../../../sidecar/metrics.ts';
import { loopbackProxy } from '../proxy/loopback-proxy.ts';
import { RemoteShipper } from '../../../sidecar/capture-worker/remote-shipper.ts';
import type { StreamFraming } from '../../../sidecar/capture-worker/stream-framing.ts';
import { createShipperMetricsRecorder, type ShipperDeltas } from '../../../sidecar/shipper/metrics-relay.ts';
import type { SidecarShipperSettings } from '../../../sidecar/shipper/sidecar-shipper.ts';
import { fullRecord } from '../../proto/record-fixtures.ts';
import { startTestCollector, waitFor } from '../../collector/helpers.ts';
import { PG_PASSWORD, startPostgres } from '../../helpers/postgres-server.ts';
import { MYSQL_PASSWORD, startMariadb } from '../../helpers/mariadb-server.ts';
import mysql from 'mysql2/promise';

const recordType = collectorMessageType('meshtap.v1.CallRecord');

interface Decoded {
  id: string;
  protocol: string;
  method?: string;
  path?: string;
  start: string;
  end: string;
  status_code?: number;
  error?: string;
  error_detail?: string;
  request?: { headers?: Record<string, string>; body: Uint8Array; body_size: string; truncated?: boolean };
  response?: { headers?: Record<string, string>; truncated?: boolean };
  notes?: string[];
}

const decode = (bytes: Uint8Array) => recordType.toObject(recordType.decode(bytes), { longs: String }) as Decoded;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A hand-off whose worker's records are decoded into `records` (no shipper). */
function recordingHandOff(clock: NsClock, stats: SidecarStats, records: Decoded[], options: Partial<CaptureHandOffOptions> = {}): CaptureHandOff {
  return createCaptureHandOff({
    worker: { maxBodyBytes: 1024, detectTimeoutMs: 50, local: { pod: 'web', namespace: 'shop' }, mask: {}, shipping: true },
    clock,
    stats,
    ...options,
    onRecords: (batch) => {
      for (const r of batch) records.push(decode(r));
    },
  });
}

interface Harness {
  stats: SidecarStats;
  handOff: CaptureHandOff;
  records: Decoded[];
  port: number;
  agent: Agent;
}

/** An echo app (answers each body's hash), the proxy with the worker channel in front of it. */
async function start(
  t: { teardown(fn: () => unknown): void },
  options: { sidecarBytes?: number; connectionBytes?: number; shipper?: RemoteShipper; app?: Server | Http2Server; appPort?: number; framingFor?: () => StreamFraming } = {},
): Promise<Harness> {
  const app =
    options.app ??
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(sha(Buffer.concat(chunks))));
    });
  if (app instanceof Server) app.keepAliveTimeout = 60_000;
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  // Another app already listening (a database) takes the echo app's place.
  const appPort = options.appPort ?? (app.address() as AddressInfo).port;
  const stats = createSidecarStats();
  const records: Decoded[] = [];
  const clock = createEpochClock();
  const handOff = recordingHandOff(clock, stats, records, options);
  await handOff.ready();
  const proxy = loopbackProxy({ clock, stats, capture: handOff, targetPort: appPort });
  const addresses = await proxy.listen();
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  t.teardown(async () => {
    agent.destroy();
    await proxy.stopAccepting();
    await proxy.drain(0);
    await handOff.close(2000);
    if (app instanceof Server) app.closeAllConnections();
    app.close();
  });
  return { stats, handOff, records, port: addresses.outbound.port, agent };
}

function post(h: Harness, path: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: h.port, path, method: 'POST', agent: h.agent, headers: { 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A GET on a connection of its own (the harness's agent may hold a connection the dead worker was capturing). */
async function getOnNewConnection(h: Harness, path: string): Promise<number> {
  const fresh = new Agent({ keepAlive: false });
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: h.port, path, method: 'GET', agent: fresh }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    fresh.destroy();
  }
}

/** Ends the current worker thread as a crash would. */
async function killWorker(h: Harness): Promise<void> {
  const internals = h.handOff as unknown as { worker: { terminate(): Promise<number> } };
  await internals.worker.terminate();
}

void t.test('records come back from the worker encoded, masked and complete', async (t) => {
  const h = await start(t);
  const body = Buffer.from('{"user":"ann","password":"hunter2"}');
  const answer = await post(h, '/login?x=1', body);
  t.equal(answer.text, sha(body));
  h.agent.destroy();
  await new Promise((r) => setTimeout(r, 100));
  t.ok(await h.handOff.flush(5000), 'flushed');
  const login = h.records.find((r) => r.path === '/login?x=1');
  t.ok(login, 'the request became a record');
  t.equal(login?.method, 'POST');
  t.equal(login?.status_code, 200);
  t.notMatch(Buffer.from(login?.request?.body ?? []).toString(), /hunter2/, 'masked in the worker');
  t.equal(h.stats.records.emitted, 1, 'the worker counts mirrored');
  t.equal(h.stats.outbound.connectionsByProtocol.http, 1);
});

/** A framing with a bug: it throws on the connection's `nth` chunk (followed whole or split), counting its calls. */
function faultyFraming(nth: number): { framingFor: () => StreamFraming; calls: () => number } {
  let calls = 0;
  const framing: StreamFraming = {
    advance() {
      if (++calls === nth) throw new RangeError('framing bug');
      return true;
    },
    split(_client, chunk, runs) {
      if (++calls === nth) throw new RangeError('framing bug');
      runs.length = 0;
      runs.push(0, chunk.length);
      return chunk.length;
    },
  };
  return { framingFor: () => framing, calls: () => calls };
}

void t.test('a framing that throws on the forwarding thread: forwarding goes on, the connection is captured without it, the fault counted', async (t) => {
  const faulty = faultyFraming(2);
  const h = await start(t, { framingFor: faulty.framingFor });
  const bodies = [0, 1, 2, 3].map((i) => randomBytes(300 + i));
  for (const [i, body] of bodies.entries()) {
    const answer = await post(h, `/framed/${i}`, body);
    t.equal(answer.text, sha(body), `request ${i} answered with the hash of what was sent`);
  }
  h.agent.destroy();
  await new Promise((r) => setTimeout(r, 100));
  t.ok(await h.handOff.flush(5000), 'flushed');
  t.equal(h.handOff.stats().framingFaults, 1, 'one fault, counted');
  t.equal(faulty.calls(), 2, 'the framing is not called again once it threw');
  t.equal(h.stats.parserErrors.exception, 1, 'counted with the parser exceptions, after the worker counters were mirrored');
  t.same(
    h.records.map((r) => r.path).sort(),
    bodies.map((_, i) => `/framed/${i}`),
    'every call still a record: chunks within the budgets are copied whole',
  );
});

void t.test('a framing that throws while splitting a chunk over the budget: the chunk is skipped, forwarding goes on', async (t) => {
  const faulty = faultyFraming(2);
  const h = await start(t, { connectionBytes: 1024, framingFor: faulty.framingFor });
  const release = h.handOff.stallForTest();
  const small = randomBytes(100);
  t.equal((await post(h, '/before', small)).text, sha(small), 'a small request, copied');
  const big = randomBytes(8 * 1024);
  t.equal((await post(h, '/over', big)).text, sha(big), 'a request over the connection budget, answered');
  release();
  h.agent.destroy();
  await new Promise((r) => setTimeout(r, 100));
  t.ok(await h.handOff.flush(5000), 'flushed');
  t.equal(h.handOff.stats().framingFaults, 1, 'the fault counted');
  t.ok(h.handOff.stats().skippedBytes.connection_budget > 0, 'the chunk over the budget skipped and counted');
  t.equal(faulty.calls(), 2, 'not called again');
});

void t.test('a stalled worker: 10 000 requests answered byte-exact, captures cut at the budget and counted, memory bounded', async (t) => {
  const sidecarBytes = 256 * 1024;
  const connectionBytes = 64 * 1024;
  const h = await start(t, { sidecarBytes, connectionBytes });
  const release = h.handOff.stallForTest();
  const before = process.memoryUsage().arrayBuffers;
  let maxHeld = 0;
  let wrong = 0;
  const total = 10_000;
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const body = randomBytes(200 + (i % 300));
      const answer = await post(h, `/item/${i}`, body);
      if (answer.status !== 200 || answer.text !== sha(body)) wrong++;
      maxHeld = Math.max(maxHeld, h.handOff.stats().inFlightBytes);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const grown = process.memoryUsage().arrayBuffers - before;
  t.equal(wrong, 0, 'every request answered with the hash of exactly what was sent');
  t.ok(maxHeld <= sidecarBytes, `bytes held for capture stayed within the sidecar budget (max ${maxHeld})`);
  t.ok(grown < 16 * 1024 * 1024, `array buffers grew by ${(grown / 1048576).toFixed(1)} MiB, not with the requests`);
  const skipped = h.handOff.stats().skippedBytes;
  t.ok(skipped.connection_budget + skipped.sidecar_budget > 0, `bytes over the budgets skipped and counted: ${JSON.stringify(skipped)}`);

  release();
  h.agent.destroy();
  await new Promise((r) => setTimeout(r, 200));
  t.ok(await h.handOff.flush(10_000), 'the worker caught up');
  const cut = h.stats.captureOverflow;
  t.ok((cut.connection_budget ?? 0) + (cut.sidecar_budget ?? 0) >= 1, `captures cut where a skip fell outside a body, counted: ${JSON.stringify(cut)}`);
  const overflowed = h.records.filter((r) => r.error === 'capture_overflow');
  t.ok(overflowed.length >= 1, `the cut shows on records (${overflowed.length} capture_overflow)`);
  t.ok(h.records.length < total, 'requests after a cut are not captured');
  t.equal(h.handOff.stats().inFlightBytes, 0, 'nothing held once the worker caught up');
});

void t.test('a worker that dies is replaced; its captures are counted as cut and new connections are captured', async (t) => {
  const h = await start(t);
  // A connection open in the worker when it dies.
  const open = await post(h, '/before', Buffer.from('a'));
  t.equal(open.status, 200);
  await new Promise((r) => setTimeout(r, 100));
  t.ok(await h.handOff.flush(5000));
  const emittedBefore = h.stats.records.emitted;
  t.ok(emittedBefore >= 1, 'the first worker made the record');
  await killWorker(h);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(h.handOff.stats().workerRestarts, 1, 'a new worker');
  t.ok((h.stats.captureOverflow.worker_failed ?? 0) >= 1, 'the open capture counted as cut');
  h.agent.destroy();
  t.equal(await getOnNewConnection(h, '/after'), 200, 'forwarding never stopped');
  await new Promise((r) => setTimeout(r, 100));
  t.ok(await h.handOff.flush(5000));
  t.ok(h.records.some((r) => r.path === '/after'), 'the new worker captures');
  t.equal(h.stats.records.emitted, emittedBefore + 1, 'the counts carry over the restart, never going back');
  t.equal(h.stats.outbound.connectionsByProtocol.http, 2, 'connections by protocol too');
});

void t.test('100 000 pipelined requests with no responses: forwarded whole, the backlog cut at its bound and counted, memory bounded', async (t) => {
  // An app that reads everything and never answers.
  let appBytes = 0;
  const sink = createNetServer((socket) => {
    socket.on('data', (c: Buffer) => (appBytes += c.length));
    socket.on('error', () => undefined);
  });
  sink.listen(0, '127.0.0.1');
  await once(sink, 'listening');
  const sinkPort = (sink.address() as AddressInfo).port;
  const stats = createSidecarStats();
  const records: Decoded[] = [];
  const clock = createEpochClock();
  const handOff = recordingHandOff(clock, stats, records);
  await handOff.ready();
  const proxy = loopbackProxy({ clock, stats, capture: handOff, targetPort: sinkPort });
  const { outbound } = await proxy.listen();
  t.teardown(async () => {
    await proxy.stopAccepting();
    await proxy.drain(0);
    await handOff.close(2000);
    sink.close();
  });
  const rssBefore = process.memoryUsage().rss;
  const one = Buffer.from('GET /pipelined HTTP/1.1\r\nHost: app\r\n\r\n');
  const total = 100_000;
  const client = connect({ host: '127.0.0.1', port: outbound.port });
  await once(client, 'connect');
  // In slices of 1000 requests, as a client writing as fast as the socket takes them.
  for (let i = 0; i < total; i += 1000) {
    if (!client.write(Buffer.concat(Array.from({ length: 1000 }, () => one)))) await once(client, 'drain');
  }
  const expected = one.length * total;
  const deadline = Date.now() + 30_000;
  while (appBytes < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(appBytes, expected, 'every byte of every request reached the app');
  t.ok(await handOff.flush(10_000), 'the worker caught up');
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  t.equal(stats.captureOverflow.pending_exchanges, 1, 'the backlog cut once, counted');
  const cut = records.filter((r) => r.error === 'capture_overflow');
  t.equal(cut.length, 128, 'the requests awaiting responses became capture_overflow records');
  t.ok(records.length <= 128, 'nothing after the cut is parsed');
  t.ok(rssGrowth < 96 * 1024 * 1024, `RSS grew by ${(rssGrowth / 1048576).toFixed(1)} MiB for 100 000 requests`);
  client.destroy();
});

function shipperSettings(port: number): SidecarShipperSettings {
  return {
    collectorAddr: `127.0.0.1:${port}`,
    sidecar: { pod: 'web', namespace: 'shop', pod_ip: '127.0.0.1', node: 'n1', service_account: 'web', sidecar_version: 'test' },
    tls: { mode: 'off', serverName: 'meshtap-collector' },
  };
}

/** The hook calls replayed on the forwarding thread, summed. */
function sums(recorded: ShipperDeltas[]): { offered: number; shipped: number; batches: number; acks: number; connects: number } {
  const total = { offered: 0, shipped: 0, batches: 0, acks: 0, connects: 0 };
  for (const d of recorded) {
    total.offered += d.offered;
    total.shipped += d.shipped;
    total.batches += d.batches.length / 2;
    total.acks += d.acks.length;
    total.connects += d.connects;
  }
  return total;
}

void t.test('with a collector the worker ships the records itself; counts and metrics are mirrored to the forwarding thread', async (t) => {
  const collector = await startTestCollector();
  t.teardown(() => collector.close({ force: true }));
  const remote = new RemoteShipper(shipperSettings(collector.grpcPort));
  const replayed: ShipperDeltas[] = [];
  const recorder = createShipperMetricsRecorder(() => replayed.push(recorder.take()!));
  remote.connect({ metrics: recorder.metrics });
  const h = await start(t, { shipper: remote });
  for (let i = 0; i < 3; i++) t.equal((await post(h, `/order/${i}`, Buffer.from(`{"n":${i},"token":"abc"}`))).status, 200);
  // A record built on the forwarding thread (as DNS records are) takes the same way out.
  const dnsLike = fullRecord(7);
  t.ok(remote.offer(dnsLike), 'an encoded record handed to the worker');
  h.agent.destroy();
  await waitFor('every record stored', async () => remote.stats().shipped === 4 && (await collector.store.get(dnsLike.id)) !== undefined);
  const stored = await collector.store.list({ limit: 10 });
  t.same(stored.map((r) => r.path).filter((p) => p?.startsWith('/order/')).sort(), ['/order/0', '/order/1', '/order/2'], 'the captured calls reached the collector');
  t.equal(h.records.length, 0, 'no record came back to the forwarding thread');
  t.ok(await h.handOff.flush(5000));
  t.equal(h.stats.records.emitted, 3, 'records emitted: mirrored');
  t.equal(h.stats.records.offered, 4, 'records offered (captured and handed): counted in the worker, mirrored');
  const s = remote.stats();
  t.match(s, { offered: 4, shipped: 4, droppedTotal: 0, connected: true, queueRecords: 0 }, 'the shipper stats as the worker reported them');
  const replay = sums(replayed);
  t.match(replay, { offered: 4, shipped: 4, connects: 1 }, 'the hooks replayed on this thread');
  t.ok(replay.batches >= 1 && replay.acks === replay.batches, `batches sent and acknowledged: ${replay.batches}`);
  const final = await remote.close({ drainMs: 2000 });
  t.match(final, { closed: true, shipped: 4, droppedTotal: 0 }, 'close drains through the worker');
  t.notOk(remote.offerEncoded(new Uint8Array([1])), 'closed: refused');
  t.equal(remote.stats().dropped.shutdown, 1, 'and counted');
});

void t.test('a worker that dies with records queued counts them as worker_failed; the next worker ships', async (t) => {
  // A port with nothing behind it yet: the shipper queues and retries.
  const probe = createNetServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, 'close');
  const remote = new RemoteShipper(shipperSettings(port));
  const h = await start(t, { shipper: remote });
  for (let i = 0; i < 5; i++) t.equal((await post(h, `/queued/${i}`, Buffer.from('x'))).status, 200);
  h.agent.destroy();
  await waitFor('five records queued in the worker', () => remote.stats().queueRecords === 5);
  t.equal(remote.stats().connected, false);
  await killWorker(h);
  await waitFor('a new worker', () => h.handOff.stats().workerRestarts === 1);
  t.match(remote.stats(), { offered: 5, queueRecords: 0, dropped: { worker_failed: 5 }, droppedTotal: 5 }, 'the lost queue counted, totals kept');

  const collector = await startTestCollector({ grpcPort: port });
  t.teardown(() => collector.close({ force: true }));
  t.equal(await getOnNewConnection(h, '/after'), 200);
  await waitFor('the new worker ships', () => remote.stats().shipped === 1);
  const stored = await collector.store.list({ limit: 10 });
  t.same(stored.map((r) => r.path), ['/after'], 'the record captured after the restart reached the collector');
  t.match(remote.stats(), { offered: 6, shipped: 1, dropped: { worker_failed: 5 } });
});

void t.test('a stalled worker and an upload past the connection budget: the response is still captured and paired', async (t) => {
  // The upload fills its direction's budget; the answer travels the other way and is copied,
  // so the call keeps its status instead of being cut as capture_overflow.
  const connectionBytes = 64 * 1024;
  const h = await start(t, { connectionBytes });
  const release = h.handOff.stallForTest();
  const body = randomBytes(1024 * 1024);
  const answer = await post(h, '/upload', body);
  t.equal(answer.text, sha(body), 'the app got exactly what was sent');
  const skipped = h.handOff.stats().skippedBytes;
  t.ok(skipped.connection_budget > 0, `the upload's bytes past the budget were skipped: ${JSON.stringify(skipped)}`);
  release();
  h.agent.destroy();
  await new Promise((r) => setTimeout(r, 200));
  t.ok(await h.handOff.flush(10_000), 'the worker caught up');
  const upload = h.records.find((r) => r.path === '/upload');
  t.ok(upload, 'the upload became a record');
  t.equal(upload?.status_code, 200, `its response is paired (error ${upload?.error ?? 'none'})`);
  t.equal(upload?.error, undefined, 'no error');
  t.equal(upload?.request?.body_size, String(body.length), 'the true size is kept');
  t.same(h.stats.captureOverflow, {}, 'no capture was cut');
});

/** A POST on an HTTP/2 session: the status and the answer (the hash of the body). */
function h2post(session: ClientHttp2Session, path: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/octet-stream' });
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, text: Buffer.concat(chunks).toString() }));
    req.on('error', reject);
    req.end(body);
  });
}

void t.test('HTTP/2: a stalled worker skips only DATA payloads, so the connection stays captured after the gap', async (t) => {
  // Bodies past the budget are skipped, header blocks still copied: HPACK stays in step, every
  // call of the stalled phase keeps its headers and status (its body cut), and the calls after
  // it on the same connection are captured whole. Skipping whole chunks lost the HPACK state
  // and stopped capturing the connection for good.
  const app = createH2Server();
  app.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(sha(Buffer.concat(chunks)));
    });
  });
  const h = await start(t, { connectionBytes: 16 * 1024, app });
  const session = connectH2(`http://127.0.0.1:${h.port}`);
  t.teardown(() => session.destroy());
  const first = await h2post(session, '/first', randomBytes(100));
  t.equal(first.status, 200);
  await new Promise((r) => setTimeout(r, 150));
  t.ok(await h.handOff.flush(5000), 'the first call captured');

  const release = h.handOff.stallForTest();
  let wrong = 0;
  const stalled = 40;
  await Promise.all(
    Array.from({ length: stalled }, async (_, i) => {
      const body = randomBytes(8 * 1024);
      const answer = await h2post(session, `/stalled/${i}`, body);
      if (answer.status !== 200 || answer.text !== sha(body)) wrong++;
    }),
  );
  t.equal(wrong, 0, 'every call answered with the hash of exactly what was sent');
  const skipped = h.handOff.stats().skippedBytes;
  t.ok(skipped.connection_budget > 100 * 1024, `DATA payloads past the budget skipped and counted: ${JSON.stringify(skipped)}`);
  release();
  await new Promise((r) => setTimeout(r, 200));
  t.ok(await h.handOff.flush(10_000), 'the worker caught up');

  for (let i = 0; i < 3; i++) t.equal((await h2post(session, `/after/${i}`, Buffer.from(`after ${i}`))).status, 200);
  await new Promise((r) => setTimeout(r, 200));
  t.ok(await h.handOff.flush(5000), 'flushed');
  t.same(h.stats.captureOverflow, {}, 'no capture was cut');
  const during = h.records.filter((r) => r.path?.startsWith('/stalled/'));
  t.equal(during.length, stalled, 'every call made while the worker stalled is a record');
  t.ok(
    during.every((r) => r.status_code === 200 && r.error === undefined && r.request?.body_size === String(8 * 1024)),
    'each with its status and the true size of its body',
  );
  t.ok(during.some((r) => r.request?.truncated === true), 'skipped bodies are marked cut');
  const after = h.records.filter((r) => r.path?.startsWith('/after/'));
  t.equal(after.length, 3, 'the calls after the gap on the same connection are captured');
  t.ok(
    after.every((r) => r.status_code === 200 && r.request?.truncated !== true && Buffer.from(r.request?.body ?? []).toString().startsWith('after')),
    'whole, with their bodies',
  );
});

/** The statement a database record's request holds ('' when its body is not a statement). */
const query = (r: Decoded): string => {
  try {
    return String(JSON.parse(Buffer.from(r.request?.body ?? []).toString()).query ?? '');
  } catch {
    return ''; // a login's body is not JSON
  }
};

/** A database client's calls for `checkDatabaseGap`. */
interface DatabaseCalls {
  /** A call of about 8 KiB of rows (10 of 800 bytes) through a prepared statement; false if its rows were wrong. */
  rows(i: number): Promise<boolean>;
  /** A small call after the gap; false if its answer was wrong. */
  small(i: number): Promise<boolean>;
  /** The records of `rows` calls (not of a statement's preparation) and of `small` calls. */
  isRows(r: Decoded): boolean;
  isSmall(r: Decoded): boolean;
  /** The request header that names the prepared statement. */
  statementHeader: string;
}

/**
 * One call, then 40 with the worker stalled behind a 16 KiB connection budget, then 3 more:
 * every call is answered; the rows past the budget are skipped and counted; the stalled calls are
 * records with their statements and true row counts, the skipped rows noted; the calls after
 * the gap on the same connection are whole; nothing is cut. The must-see bytes of the 40 (packet
 * headers, descriptions, completions) fit in what the budget has left after the first.
 */
async function checkDatabaseGap(t: Test, h: Harness, db: DatabaseCalls): Promise<void> {
  t.ok(await db.small(-1), 'the first call answered');
  await new Promise((r) => setTimeout(r, 150));
  t.ok(await h.handOff.flush(5000), 'the first call captured');

  const release = h.handOff.stallForTest();
  const stalled = 40;
  let wrong = 0;
  for (let i = 0; i < stalled; i++) if (!(await db.rows(i))) wrong++;
  t.equal(wrong, 0, 'every call answered with exactly its rows');
  const skipped = h.handOff.stats().skippedBytes;
  t.ok(skipped.connection_budget > 100 * 1024, `rows past the budget skipped and counted: ${JSON.stringify(skipped)}`);
  release();
  await new Promise((r) => setTimeout(r, 200));
  t.ok(await h.handOff.flush(10_000), 'the worker caught up');

  for (let i = 0; i < 3; i++) t.ok(await db.small(i), `call ${i} after the gap answered`);
  await new Promise((r) => setTimeout(r, 200));
  t.ok(await h.handOff.flush(5000), 'flushed');
  t.same(h.stats.captureOverflow, {}, 'no capture was cut');
  const during = h.records.filter((r) => db.isRows(r));
  t.equal(during.length, stalled, 'every call made while the worker stalled is a record');
  t.ok(
    during.every((r) => r.error === undefined && r.response?.headers?.rows === '10' && r.request?.headers?.[db.statementHeader] !== undefined),
    'each with its statement and its true row count',
  );
  t.ok(
    during.some((r) => r.notes?.some((n) => /bytes not captured in \d+ rows? \(capture fell behind forwarding\)/.test(n))),
    'skipped rows are noted',
  );
  const after = h.records.filter((r) => db.isSmall(r));
  t.equal(after.length, 4, 'the first call and the calls after the gap on the same connection are captured');
  t.ok(
    after.every((r) => r.error === undefined && r.response?.headers?.rows === '1' && !(r.notes ?? []).some((n) => n.includes('not captured'))),
    'whole',
  );
}

void t.test('PostgreSQL: a stalled worker skips only rows, so a pooled connection stays captured after the gap', async (t) => {
  // A pool keeps its connections for hours. Skipping whole chunks lost the message framing at
  // the first gap outside a row and stopped capturing the connection for good; with message
  // boundaries followed, only DataRow contents are skipped and the connection stays in step.
  const h = await start(t, { connectionBytes: 16 * 1024, appPort: await startPostgres(t) });
  const client = new pg.Client({ host: '127.0.0.1', port: h.port, user: 'postgres', password: PG_PASSWORD, database: 'postgres', ssl: false });
  await client.connect();
  t.teardown(() => client.end());
  await checkDatabaseGap(t, h, {
    async rows(i) {
      const pad = String(i % 10).repeat(800);
      const result = await client.query({ name: 'rows', text: 'SELECT g AS id, repeat($1, 800) AS pad FROM generate_series(1, 10) AS g', values: [String(i % 10)] });
      return result.rows.length === 10 && result.rows.every((r: { id: number; pad: string }, k: number) => r.id === k + 1 && r.pad === pad);
    },
    async small(i) {
      const result = await client.query('SELECT $1::int AS small', [i]);
      return result.rows.length === 1 && result.rows[0].small === i;
    },
    isRows: (r) => r.protocol === 'postgres' && query(r).includes('generate_series'),
    isSmall: (r) => query(r).startsWith('SELECT $1::int AS small'),
    statementHeader: 'statement',
  });
});

void t.test('MySQL: a stalled worker skips only rows, so a pooled connection stays captured after the gap', async (t) => {
  // The same with MySQL: a gap outside a row or a command's payload lost the framing and
  // stopped capturing the connection for good; with the answers followed, only row contents
  // past their first byte are skipped.
  const h = await start(t, { connectionBytes: 16 * 1024, appPort: await startMariadb(t) });
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: h.port, user: 'app', password: MYSQL_PASSWORD, database: 'shop' });
  t.teardown(() => conn.end());
  await checkDatabaseGap(t, h, {
    async rows(i) {
      const pad = String(i % 10).repeat(800);
      const [rows] = await conn.execute('SELECT seq AS id, REPEAT(?, 800) AS pad FROM seq_1_to_10', [String(i % 10)]);
      const got = rows as Array<{ id: number; pad: string }>;
      return got.length === 10 && got.every((r, k) => Number(r.id) === k + 1 && r.pad === pad);
    },
    async small(i) {
      const [rows] = await conn.execute('SELECT ? + 0 AS small', [i]);
      const got = rows as Array<{ small: number }>;
      return got.length === 1 && Number(got[0].small) === i;
    },
    // Executes only: each statement's PREPARE is a record of its own.
    isRows: (r) => r.protocol === 'mysql' && r.method === 'SELECT' && query(r).includes('seq_1_to_10'),
    isSmall: (r) => r.method === 'SELECT' && query(r).startsWith('SELECT ? + 0 AS small'),
    statementHeader: 'statement_id',
  });
});

void t.test('a record\'s times are when forwarding read the bytes (seenAt, before the write), not when the hand-off was called', async (t) => {
  const stats = createSidecarStats();
  const records: Decoded[] = [];
  const clock = createEpochClock();
  const handOff = recordingHandOff(clock, stats, records);
  t.teardown(() => handOff.close(2000));
  await handOff.ready();
  const capture = handOff.open({ connectionId: 'seen-at', observer: 'outbound', client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 8080 }, mesh: false }, stats.outbound);
  const requestSeen = performance.now() - 40;
  const responseSeen = performance.now() - 20;
  capture.clientData(Buffer.from('GET /seen-at HTTP/1.1\r\nhost: web\r\ncontent-length: 0\r\n\r\n'), requestSeen);
  capture.serverData(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), responseSeen);
  capture.close('fin');
  await waitFor('the record', () => records.length === 1, 10_000);
  // The times performance.now() gave, on the sidecar's clock.
  const zero = epochAtPerformanceZero(clock);
  const offMs = (ns: string, seen: number): number => Number(BigInt(ns) - zero - BigInt(Math.round(seen * 1e6))) / 1e6;
  const start = offMs(records[0].start, requestSeen);
  const end = offMs(records[0].end, responseSeen);
  t.equal(records[0].path, '/seen-at');
  t.ok(Math.abs(start) < 1, `starts when the request was read (off by ${start.toFixed(3)} ms), not 40 ms later`);
  t.ok(Math.abs(end) < 1, `ends when the response was read (off by ${end.toFixed(3)} ms)`);
});
