import t from 'tap';
import { buildMembershipTable, feedUsable, normalizeIp, resolveMembership, type FeedState } from '../../../sidecar/membership/lookup.ts';
import type { MembershipSnapshotMessage } from '../../../record/membership-proto.ts';

const id = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

const snapshot: MembershipSnapshotMessage = {
  version: 7,
  trust_domain: 'cluster.local',
  generated_unix_ms: 1,
  workloads: [
    { ip: '10.244.0.5', namespace: 'shop', pod: 'frontend-1', service_account: 'frontend', identity: id('shop', 'frontend') },
    { ip: '10.244.0.7', namespace: 'shop', pod: 'payment-1', service_account: 'payment', identity: id('shop', 'payment') },
    { ip: '10.244.0.8', namespace: 'shop', pod: 'payment-2', service_account: 'payment', identity: id('shop', 'payment') },
    { ip: '10.244.0.9', namespace: 'shop', pod: 'catalog-1', service_account: 'catalog', identity: id('shop', 'catalog') },
    { ip: '10.244.0.10', namespace: 'shop', pod: 'catalog-2', service_account: 'catalog-v2', identity: id('shop', 'catalog-v2') },
  ],
  services: [
    {
      namespace: 'shop',
      name: 'payment',
      vip: '10.96.0.20',
      ports: [
        { port: 80, target_port: 8080, protocol: 'TCP', name: 'http' },
        { port: 53, target_port: 5353, protocol: 'UDP', name: 'dns' },
      ],
      endpoints: [
        { ip: '10.244.0.7', port: 8080 },
        { ip: '10.244.0.8', port: 8080 },
        { ip: '10.244.0.99', port: 5353 },
      ],
    },
    {
      namespace: 'shop',
      name: 'catalog',
      vip: '10.96.0.30',
      ports: [{ port: 9000, target_port: 0, protocol: 'TCP', name: 'grpc' }],
      endpoints: [
        { ip: '10.244.0.10', port: 9001 },
        { ip: '10.244.0.9', port: 9000 },
      ],
    },
    {
      namespace: 'shop',
      name: 'mixed',
      vip: '10.96.0.40',
      ports: [{ port: 80, target_port: 8080, protocol: 'TCP', name: '' }],
      endpoints: [
        { ip: '10.244.0.7', port: 8080 },
        { ip: '10.244.0.50', port: 8080 },
      ],
    },
    { namespace: 'shop', name: 'empty', vip: '10.96.0.50', ports: [{ port: 80, target_port: 80, protocol: 'TCP', name: '' }], endpoints: [] },
  ],
};

void t.test('a meshed pod IP answers its identity, at any port', async (t) => {
  const table = buildMembershipTable(snapshot);
  t.equal(table.version, 7);
  t.equal(table.workloads, 5);
  t.equal(table.services, 4);
  const r = table.lookup('10.244.0.5', 8080);
  t.same(r, { meshed: true, via: 'pod', identity: id('shop', 'frontend'), identities: [id('shop', 'frontend')], endpointIp: '10.244.0.5', namespace: 'shop', pod: 'frontend-1', strict: false });
  t.same(table.lookup('10.244.0.5', 1), r, 'the port does not matter for a pod');
  t.same(table.lookup('::ffff:10.244.0.5', 8080), r, 'IPv4-mapped addresses are the IPv4 address');
});

void t.test('a service VIP:port is meshed when all its endpoints are, with every identity', async (t) => {
  const table = buildMembershipTable(snapshot);
  t.same(table.lookup('10.96.0.20', 80), { meshed: true, via: 'service', identity: id('shop', 'payment'), identities: [id('shop', 'payment')], namespace: 'shop', service: 'payment', strict: false });
  const catalog = table.lookup('10.96.0.30', 9000);
  t.ok(catalog.meshed, 'target port unknown (0): every endpoint counts');
  if (catalog.meshed) {
    t.same(catalog.identities, [id('shop', 'catalog'), id('shop', 'catalog-v2')], 'two service accounts, sorted');
    t.notOk('identity' in catalog && catalog.identity, 'no single identity when the endpoints disagree');
  }
});

void t.test('anything doubtful is not meshed, with a reason', async (t) => {
  const table = buildMembershipTable(snapshot);
  t.same(table.lookup('10.96.0.40', 80), { meshed: false, reason: 'service-not-meshed' }, 'one endpoint without a sidecar');
  t.same(table.lookup('10.96.0.50', 80), { meshed: false, reason: 'service-no-endpoints' });
  t.same(table.lookup('10.96.0.20', 443), { meshed: false, reason: 'service-port-unknown' });
  t.same(table.lookup('10.96.0.20', 53), { meshed: false, reason: 'service-port-unknown' }, 'UDP ports are not TCP destinations');
  t.same(table.lookup('10.244.0.50', 8080), { meshed: false, reason: 'not-meshed' }, 'a pod without a sidecar');
  t.same(table.lookup('93.184.216.34', 443), { meshed: false, reason: 'not-meshed' }, 'outside the cluster');
});

void t.test('freshness: no snapshot or a feed down too long → passthrough', async (t) => {
  const table = buildMembershipTable(snapshot);
  const meshedPod = ['10.244.0.5', 80] as const;
  const none: FeedState = { table: undefined, connected: false, lastGoodAt: undefined };
  t.same(resolveMembership(none, ...meshedPod, 1000, 60_000), { meshed: false, reason: 'no-snapshot' });
  const live: FeedState = { table, connected: true, lastGoodAt: 0 };
  t.equal(resolveMembership(live, ...meshedPod, 10_000_000, 60_000).meshed, true, 'connected: fresh however old the snapshot');
  const down: FeedState = { table, connected: false, lastGoodAt: 1_000 };
  t.equal(resolveMembership(down, ...meshedPod, 61_000, 60_000).meshed, true, 'disconnected within the limit: last snapshot kept');
  t.same(resolveMembership(down, ...meshedPod, 61_001, 60_000), { meshed: false, reason: 'stale' }, 'past the limit: passthrough');
  t.equal(feedUsable(down, 61_001, 60_000), false);
  t.equal(feedUsable({ table, connected: false, lastGoodAt: undefined }, 0, 60_000), false);
});

void t.test('normalizeIp', async (t) => {
  t.equal(normalizeIp('::FFFF:10.0.0.1'), '10.0.0.1');
  t.equal(normalizeIp('fd00::1'), 'fd00::1');
  t.equal(normalizeIp('FD00::A'), 'fd00::a');
});

void t.test('a malformed snapshot does not throw: empty and duplicate entries are ignored', async (t) => {
  const table = buildMembershipTable({
    version: 1,
    trust_domain: 'td',
    generated_unix_ms: 0,
    workloads: [
      { ip: '', namespace: 'a', pod: 'p', service_account: 's', identity: 'x' },
      { ip: '10.0.0.1', namespace: 'a', pod: 'p', service_account: 's', identity: '' },
    ],
    services: [{ namespace: 'a', name: 's', vip: '', ports: [], endpoints: [] }],
  });
  t.equal(table.workloads, 0);
  t.equal(table.services, 0);
  t.same(table.lookup('10.0.0.1', 1), { meshed: false, reason: 'not-meshed' });
});

void t.test('a strict peer is marked strict, and a service with any strict endpoint is strict', async (t) => {
  const snapshot = {
    version: 1,
    trust_domain: 'cluster.local',
    generated_unix_ms: 0,
    workloads: [
      { ip: '10.244.0.8', namespace: 'bank', pod: 'ledger-1', service_account: 'ledger', identity: id('bank', 'ledger'), strict: true },
      { ip: '10.244.0.9', namespace: 'bank', pod: 'ledger-2', service_account: 'ledger', identity: id('bank', 'ledger') },
    ],
    services: [{ namespace: 'bank', name: 'ledger', vip: '10.96.0.80', ports: [{ port: 80, target_port: 8080, protocol: 'TCP', name: 'http' }], endpoints: [{ ip: '10.244.0.8', port: 8080 }, { ip: '10.244.0.9', port: 8080 }] }],
  };
  const table = buildMembershipTable(snapshot as never);
  t.match(table.lookup('10.244.0.8', 8080), { meshed: true, strict: true });
  t.match(table.lookup('10.244.0.9', 8080), { meshed: true, strict: false });
  t.match(table.lookup('10.96.0.80', 80), { meshed: true, via: 'service', strict: true }, 'one strict endpoint makes the service strict');
});
