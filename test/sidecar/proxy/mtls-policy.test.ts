/**
 * The pure parts of mTLS: recognising meshtap's ClientHello, the connection-id frame, the
 * inbound decision table and the renewal time.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { renewDelayMs } from '../../../sidecar/identity/renewal.ts';
import { classifyClientHello } from '../../../sidecar/mtls/client-hello-alpn.ts';
import { decodeConnectionIdFrame, encodeConnectionIdFrame } from '../../../sidecar/mtls/connection-id-frame.ts';
import { decideInbound } from '../../../sidecar/mtls/inbound-policy.ts';
import { spiffeIdFromSan } from '../../../sidecar/mtls/peer-identity.ts';

/** The first bytes a real Node TLS client sends with the given ALPN list. */
async function clientHello(alpn: string[] | undefined): Promise<Buffer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); })));
  const client = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ALPNProtocols: alpn, rejectUnauthorized: false });
  client.on('error', () => undefined);
  const bytes = await got;
  client.destroy();
  server.close();
  return bytes;
}

void t.test('ClientHello: meshtap ALPN, other ALPN, partial, not TLS', async (t) => {
  const mesh = await clientHello(['h2', 'meshtap/1']);
  const app = await clientHello(['h2', 'http/1.1']);
  const none = await clientHello(undefined);
  t.equal(classifyClientHello(mesh), 'mesh');
  t.equal(classifyClientHello(app), 'app-tls');
  t.equal(classifyClientHello(none), 'app-tls');
  for (const n of [1, 5, 40, mesh.length - 1]) t.equal(classifyClientHello(mesh.subarray(0, n)), 'need-more', `${n} bytes`);
  t.equal(classifyClientHello(Buffer.from('GET / HTTP/1.1\r\n')), 'not-tls');
});

void t.test('connection-id frame round trip, split, invalid', async (t) => {
  const frame = Buffer.concat([encodeConnectionIdFrame('0123456789abcdef'), Buffer.from('GET /')]);
  t.match(decodeConnectionIdFrame(frame), { kind: 'frame', id: '0123456789abcdef' });
  t.equal((decodeConnectionIdFrame(frame) as { rest: Buffer }).rest.toString(), 'GET /');
  t.same(decodeConnectionIdFrame(frame.subarray(0, 5)), { kind: 'need-more' });
  t.match(decodeConnectionIdFrame(Buffer.from([0])), { kind: 'invalid' });
  t.match(decodeConnectionIdFrame(Buffer.from([2, 0x20, 0x21])), { kind: 'invalid' });
  t.throws(() => encodeConnectionIdFrame('bad id'));
});

void t.test('inbound decisions by mode, probe rule and identity', async (t) => {
  const mesh = await clientHello(['meshtap/1']);
  const app = await clientHello(['h2']);
  const plain = Buffer.from('GET / HTTP/1.1\r\n');
  const facts = { serverFirst: false, hasIdentity: true, srcIp: '10.0.0.9', dstPort: 8080 };
  const permissive = { mode: 'permissive' as const, probePorts: [8080], hostIp: '10.0.0.1' };
  const strict = { ...permissive, mode: 'strict' as const };
  t.same(decideInbound(permissive, { ...facts, bytes: mesh }), { kind: 'mesh' });
  t.same(decideInbound(permissive, { ...facts, bytes: mesh, hasIdentity: false }), { kind: 'refuse', reason: 'mesh_without_identity' });
  t.same(decideInbound(permissive, { ...facts, bytes: app }), { kind: 'app-tls' });
  t.same(decideInbound(permissive, { ...facts, bytes: plain }), { kind: 'plaintext', probe: false });
  t.same(decideInbound(strict, { ...facts, bytes: plain }), { kind: 'refuse', reason: 'strict_plaintext_refused' });
  t.same(decideInbound(strict, { ...facts, bytes: app }), { kind: 'refuse', reason: 'strict_plaintext_refused' });
  t.same(decideInbound(strict, { ...facts, bytes: plain, srcIp: '10.0.0.1' }), { kind: 'plaintext', probe: true });
  t.same(decideInbound(strict, { ...facts, bytes: plain, srcIp: '10.0.0.1', dstPort: 9090 }), { kind: 'refuse', reason: 'strict_plaintext_refused' });
  t.same(decideInbound(strict, { ...facts, bytes: Buffer.alloc(0), serverFirst: true }), { kind: 'refuse', reason: 'strict_plaintext_refused' });
  t.same(decideInbound(permissive, { ...facts, bytes: mesh.subarray(0, 3) }), { kind: 'need-more' });
});

void t.test('strict: on a port probed over plain HTTP only the probes\' own requests pass', async (t) => {
  const node = { serverFirst: false, hasIdentity: true, srcIp: '10.0.0.1', dstPort: 8080 };
  const strict = { mode: 'strict' as const, probePorts: [8080, 9000], hostIp: '10.0.0.1', probePaths: { 8080: ['/healthz', '/ready'] } };
  const line = (text: string) => Buffer.from(text);
  t.same(decideInbound(strict, { ...node, bytes: line('GET /healthz HTTP/1.1\r\nHost: x\r\n') }), { kind: 'plaintext', probe: true });
  t.same(decideInbound(strict, { ...node, bytes: line('GET /ready?verbose=1 HTTP/1.1\r\n') }), { kind: 'plaintext', probe: true }, 'a query string is fine');
  t.same(decideInbound(strict, { ...node, bytes: line('HEAD /healthz HTTP/1.0\r\n') }), { kind: 'plaintext', probe: true });
  t.same(decideInbound(strict, { ...node, bytes: line('GET /admin/users HTTP/1.1\r\n') }), { kind: 'refuse', reason: 'strict_probe_path_refused' }, 'another path');
  t.same(decideInbound(strict, { ...node, bytes: line('POST /healthz HTTP/1.1\r\n') }), { kind: 'refuse', reason: 'strict_probe_path_refused' }, 'another method');
  t.same(decideInbound(strict, { ...node, bytes: line('GET /healthzz HTTP/1.1\r\n') }), { kind: 'refuse', reason: 'strict_probe_path_refused' }, 'exact paths only');
  t.same(decideInbound(strict, { ...node, bytes: line('GET /heal') }), { kind: 'need-more' }, 'waits for the end of the line');
  t.same(decideInbound(strict, { ...node, bytes: line('GET /heal'), serverFirst: true }), { kind: 'refuse', reason: 'strict_probe_path_refused' }, 'a line that never ends is refused');
  t.same(decideInbound(strict, { ...node, bytes: line('anything\r\n'), dstPort: 9000 }), { kind: 'plaintext', probe: true }, 'a tcpSocket-probed port stays port-only');
  t.same(decideInbound(strict, { ...node, bytes: line('GET /healthz HTTP/1.1\r\n'), srcIp: '10.0.0.9' }), { kind: 'refuse', reason: 'strict_plaintext_refused' }, 'not from the node');
});

void t.test('peer identity and renewal time', async (t) => {
  t.equal(spiffeIdFromSan('URI:spiffe://cluster.local/ns/a/sa/b'), 'spiffe://cluster.local/ns/a/sa/b');
  t.equal(spiffeIdFromSan('URI:spiffe://x/a, URI:spiffe://x/b'), undefined, 'two URIs: none');
  t.equal(spiffeIdFromSan('DNS:example.com'), undefined);
  t.equal(renewDelayMs(1_000, 21_000), 10_000, 'half of the remaining life');
  t.equal(renewDelayMs(1_000, 1_500), 1_000, 'never sooner than a second');
});
