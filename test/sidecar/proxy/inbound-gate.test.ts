/**
 * The inbound gate's timing rules: what the client sent decides, so the app speaking first
 * (an HTTP/2 server's SETTINGS, a greeting) cannot force a half-arrived ClientHello into
 * plaintext; a client that has sent nothing is taken as plaintext when the app speaks first,
 * unless it is a meshed pod whose hello is on its way. And the hook that says which clients
 * those are, from the membership feed.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import type { MembershipLookup } from '../../../sidecar/membership/lookup.ts';
import { createSidecarStats } from '../../../sidecar/stats.ts';
import { decideInbound as policyDecide } from '../../../sidecar/mtls/inbound-policy.ts';
import type { MtlsHooks } from '../../../sidecar/mtls/plans.ts';
import { createMtlsHooks } from '../../../sidecar/mtls/policy.ts';
import { MAX_HELD_BYTES, decideInbound } from '../../../sidecar/proxy/inbound-gate.ts';

/** The first bytes a real Node TLS client sends, offering the mesh protocol. */
async function meshHello(): Promise<Buffer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); })));
  const client = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ALPNProtocols: ['meshtap/1'], rejectUnauthorized: false });
  client.on('error', () => undefined);
  const bytes = await got;
  client.destroy();
  server.close();
  return bytes;
}

const config = { mode: 'permissive' as const, probePorts: [8080], hostIp: '10.0.0.1' };
const hooks = (mode: 'permissive' | 'strict' = 'permissive'): MtlsHooks =>
  ({
    inbound: {
      decide: (f) => policyDecide({ ...config, mode }, { bytes: f.bytes, serverFirst: f.serverFirst, hasIdentity: true, srcIp: f.srcIp, dstPort: f.dst.port }),
      expectsHello: () => false,
      terminator: () => undefined,
    },
    outbound: () => undefined,
    count: () => undefined,
  }) as MtlsHooks;
const state = { clientEnded: false, serverFirst: false, awaitingHello: false, srcIp: '10.0.0.9', dst: { ip: '10.0.0.2', port: 50051 } };

void t.test('a ClientHello that has only begun is waited for, whatever the app sends meanwhile', async (t) => {
  const hello = await meshHello();
  t.ok(hello.length > 1000, `a real hello (${hello.length} bytes) is more than one small segment`);
  const mtls = hooks();
  for (const n of [1, 5, 700, hello.length - 1]) {
    const part = hello.subarray(0, n);
    t.same(decideInbound(mtls, part, { ...state, serverFirst: true }), { kind: 'need-more' }, `${n} bytes, the app spoke first: still waiting`);
    t.same(decideInbound(mtls, part, state), { kind: 'need-more' }, `${n} bytes: waiting`);
  }
  t.same(decideInbound(mtls, hello, { ...state, serverFirst: true }), { kind: 'mesh' }, 'the whole hello: mesh, the app having spoken or not');
  // What forces a decision on a partial hello: the client's end, or more bytes than any hello.
  t.same(decideInbound(mtls, hello.subarray(0, 700), { ...state, clientEnded: true }), { kind: 'plaintext', probe: false });
  const huge = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]), Buffer.alloc(MAX_HELD_BYTES)]);
  t.same(decideInbound(mtls, huge, state), { kind: 'plaintext', probe: false });
});

void t.test('a client that has sent nothing: plaintext when the app speaks first, unless a meshed pod\'s hello is awaited', async (t) => {
  const mtls = hooks();
  const empty = Buffer.alloc(0);
  t.same(decideInbound(mtls, empty, state), { kind: 'need-more' }, 'nobody has spoken');
  t.same(decideInbound(mtls, empty, { ...state, serverFirst: true }), { kind: 'plaintext', probe: false }, 'a server-first protocol: its client waits for the greeting');
  t.same(decideInbound(mtls, empty, { ...state, serverFirst: true, awaitingHello: true }), { kind: 'need-more' }, 'a meshed pod: its sidecar\'s hello is on its way');
  t.same(decideInbound(hooks('strict'), empty, { ...state, serverFirst: true }), { kind: 'refuse', reason: 'strict_plaintext_refused' });
  t.same(decideInbound(mtls, empty, { ...state, clientEnded: true, awaitingHello: true }), { kind: 'plaintext', probe: false }, 'the client ended: nothing more will come');
});

void t.test('strict: a probe\'s request line is read to its end even when the app speaks first', async (t) => {
  const probed: MtlsHooks = {
    ...hooks('strict'),
    inbound: {
      ...hooks('strict').inbound,
      decide: (f) => policyDecide({ ...config, mode: 'strict', probePaths: { 8080: ['/healthz'] } }, { bytes: f.bytes, serverFirst: f.serverFirst, hasIdentity: true, srcIp: f.srcIp, dstPort: f.dst.port }),
    },
  };
  const node = { ...state, srcIp: '10.0.0.1', dst: { ip: '10.0.0.2', port: 8080 } };
  t.same(decideInbound(probed, Buffer.from('GET /hea'), { ...node, serverFirst: true }), { kind: 'need-more' }, 'half a line: waiting (it was refused)');
  t.same(decideInbound(probed, Buffer.from('GET /healthz HTTP/1.1\r\n'), { ...node, serverFirst: true }), { kind: 'plaintext', probe: true });
  t.same(decideInbound(probed, Buffer.from('GET /hea'), { ...node, clientEnded: true }), { kind: 'refuse', reason: 'strict_probe_path_refused' }, 'a line that never ends is refused');
});

void t.test('expectsHello: a meshed pod\'s address, nothing else', async (t) => {
  const pod: MembershipLookup = { meshed: true, via: 'pod', identity: 'spiffe://cluster.local/ns/a/sa/b', identities: ['spiffe://cluster.local/ns/a/sa/b'], endpointIp: '10.0.0.9', namespace: 'a', pod: 'p', strict: false };
  const lookup = (ip: string): MembershipLookup => (ip === '10.0.0.9' ? pod : ip === '10.96.0.1' ? { ...pod, via: 'service', service: 's' } as MembershipLookup : { meshed: false, reason: 'not-meshed' });
  const make = (l: typeof lookup | undefined) => createMtlsHooks({ config, identity: () => undefined, lookup: l, stats: createSidecarStats(), log: { warn: () => undefined } });
  t.equal(make(lookup).inbound.expectsHello('10.0.0.9'), true);
  t.equal(make(lookup).inbound.expectsHello('::ffff:10.0.0.9'), true, 'seen through a dual-stack socket');
  t.equal(make(lookup).inbound.expectsHello('10.0.0.7'), false, 'an unmeshed pod');
  t.equal(make(lookup).inbound.expectsHello('10.96.0.1'), false, 'a service address is never a client');
  t.equal(make(undefined).inbound.expectsHello('10.0.0.9'), false, 'no membership feed: nothing is known to be meshed');
});
