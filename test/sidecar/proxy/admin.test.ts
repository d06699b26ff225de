import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { run as waitReadyRun, waitReady } from '../../../lib/wait-ready.ts';
import { createAdminServer, type AdminState } from '../../../sidecar/admin/server.ts';
import { createSidecarMetrics, createSidecarStats } from '../../../sidecar/metrics.ts';

async function startAdmin(t: { teardown(fn: () => unknown): void }, state: AdminState) {
  const stats = createSidecarStats();
  const registry = createSidecarMetrics({
    stats,
    shipper: () => ({ shipped: 7, dropped: { queue_full: 2 } }),
    draining: () => state.draining,
  });
  const admin = createAdminServer({ host: '127.0.0.1', port: 0, registry, state: () => state });
  const address = await admin.listen();
  t.teardown(() => admin.close());
  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`http://127.0.0.1:${address.port}${path}`, { method });
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
  };
  return { stats, get, port: address.port };
}

void t.test('/healthz and /ready follow the listeners and the drain', async (t) => {
  const state: AdminState = { listening: false, ready: false, draining: false };
  const { get } = await startAdmin(t, state);
  t.same([(await get('/healthz')).status, (await get('/ready')).status], [503, 503], 'nothing bound yet');
  Object.assign(state, { listening: true, ready: true });
  t.same([(await get('/healthz')).status, (await get('/ready')).status], [200, 200]);
  Object.assign(state, { listening: false, ready: false, draining: true });
  const ready = await get('/ready');
  t.same([(await get('/healthz')).status, ready.status, ready.body], [200, 503, 'draining\n']);
  t.equal((await get('/nope')).status, 404);
  t.equal((await get('/ready', 'POST')).status, 405);
});

void t.test('/metrics reads the counters at scrape time', async (t) => {
  const { get, stats } = await startAdmin(t, { listening: true, ready: true, draining: false });
  stats.outbound.connectionsByProtocol.http = 3;
  stats.outbound.active = 1;
  stats.inbound.bytesFromClient = 1234;
  stats.inbound.originalDstFailures.getsockopt = 1;
  stats.outbound.upstreamConnectFailures = 2;
  stats.parserErrors.exception = 4;
  stats.records.emitted = 10;
  stats.records.offered = 9;
  stats.records.dropped.no_collector = 1;
  const { status, body, type } = await get('/metrics');
  t.equal(status, 200);
  t.match(type, /text\/plain/);
  for (const line of [
    'meshtap_sidecar_connections_total{direction="outbound",protocol="http"} 3',
    'meshtap_sidecar_connections_active{direction="outbound"} 1',
    'meshtap_sidecar_bytes_total{direction="inbound",from="client"} 1234',
    'meshtap_sidecar_original_dst_failures_total{direction="inbound",reason="getsockopt"} 1',
    'meshtap_sidecar_upstream_connect_failures_total{direction="outbound"} 2',
    'meshtap_sidecar_parser_errors_total{kind="exception"} 4',
    'meshtap_sidecar_records_emitted_total 10',
    'meshtap_sidecar_records_offered_total 9',
    'meshtap_sidecar_records_shipped_total 7',
    'meshtap_sidecar_records_dropped_total{reason="no_collector"} 1',
    'meshtap_sidecar_records_dropped_total{reason="queue_full"} 2',
    'meshtap_sidecar_draining 0',
  ]) {
    t.ok(body.split('\n').includes(line), line);
  }
  t.match(body, /process_resident_memory_bytes/);
  stats.outbound.connectionsByProtocol.http = 5;
  t.ok((await get('/metrics')).body.includes('meshtap_sidecar_connections_total{direction="outbound",protocol="http"} 5'), 'fresh on every scrape');
});

function io(env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr, env }, out: () => out, err: () => err };
}

/** Writes `bytes` to the admin port and reads until the server closes. */
async function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(bytes);
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

void t.test('garbage on the admin port is answered 400, 431 too large, and counted by reason', async (t) => {
  const { get, port } = await startAdmin(t, { listening: true, ready: true, draining: false });
  const tls = await rawExchange(port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]));
  t.match(tls, /^HTTP\/1\.1 400 Bad Request\r\n/, 'a TLS hello is answered, not just closed');
  t.match(tls, /connection: close\r\n[\s\S]*\r\n\r\nbad request: the admin port serves GET \/healthz, \/ready and \/metrics\n$/);
  t.match(await rawExchange(port, 'SSH-2.0-OpenSSH_9.2\r\n'), /^HTTP\/1\.1 400 /, 'another protocol');
  const huge = await rawExchange(port, `GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.match(huge, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  const metrics = (await get('/metrics')).body;
  t.match(metrics, /^meshtap_sidecar_admin_bad_requests_total\{reason="malformed"\} 2$/m);
  t.match(metrics, /^meshtap_sidecar_admin_bad_requests_total\{reason="too_large"\} 1$/m);
  t.equal((await get('/healthz')).status, 200, 'still answering');
});

void t.test('wait-ready: exits 0 once /ready answers 200', async (t) => {
  let calls = 0;
  const server: Server = createServer((req, res) => {
    calls++;
    res.writeHead(req.url === '/ready' && calls >= 3 ? 200 : 503);
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const c = io();
  t.equal(await waitReadyRun(['--admin-port', String(port), '--timeout-seconds', '10'], c.io), 0);
  t.equal(calls, 3, 'polled until ready');
});

void t.test('wait-ready: exits 1 with a clear message on timeout', async (t) => {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  const c = io();
  const started = Date.now();
  t.equal(await waitReadyRun(['--admin-port', String(port), '--timeout-seconds', '0.5'], c.io), 1);
  t.ok(Date.now() - started < 3000);
  t.match(c.err(), new RegExp(`http://127\\.0\\.0\\.1:${port}/ready was not ready within 0\\.5 s \\(\\d+ attempts, last: connection refused\\)`));
  t.same(await waitReady({ host: '127.0.0.1', port, timeoutMs: 0 }), { ready: false, attempts: 1, last: 'connection refused' });
});

void t.test('wait-ready: usage errors', async (t) => {
  await t.rejects(waitReadyRun(['--timeout-seconds', 'soon'], io().io), { code: 'CLI_ERR_USAGE', message: /--timeout-seconds must be a number/ });
  await t.rejects(waitReadyRun(['--admin-port', 'x'], io().io), { code: 'CLI_ERR_USAGE' });
  await t.rejects(waitReadyRun(['--bogus'], io().io), { code: 'CLI_ERR_USAGE' });
  const c = io();
  t.equal(await waitReadyRun(['--help'], c.io), 0);
  t.match(c.out(), /usage: meshtap wait-ready/);
});
