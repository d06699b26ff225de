import t from 'tap';
import { IDENTITY_MISMATCH_LABEL, IP_POD_LABEL, enrichRecord, parseSpiffeId } from '../../collector/enrich.ts';
import { InventoryIndex } from '../../lib/kube/inventory/index.ts';
import type { InventoryLookup } from '../../lib/kube/inventory/inventory.ts';
import type { CallRecord, Endpoint } from '../../record/record.ts';
import { LISTED_AT, SECOND, fixtureItem, seededIndex } from '../lib/kube/inventory/fixtures.ts';

const FRONTEND_POD = 'frontend-7d9f8b6c5d-x2x4q';
const PAYMENT_POD = 'payment-5c8d7f9b4-abcde';

/** A record as a sidecar ships it: its own end carries pod, namespace and node; the peer only ip:port. */
function record(observer: 'outbound' | 'inbound', src: Endpoint, dst: Endpoint, start = LISTED_AT): CallRecord {
  return {
    id: 'c1-o0',
    protocol: 'http',
    observer,
    connection_id: 'c1',
    ordinal: 0,
    start,
    end: start + 1_000_000n,
    elapsed_us: 1000,
    src,
    dst,
    tls: { mesh: true },
    method: 'POST',
    path: '/pay',
    status_code: 200,
    bytes_in: 10,
    bytes_out: 20,
    redacted: [],
    sensitive: [],
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

void t.test('outbound to a service VIP: the caller fully named, the callee by its service', async (t) => {
  const index = seededIndex();
  const input = deepFreeze(
    record('outbound', { ip: '10.244.1.5', port: 40312, pod: FRONTEND_POD, namespace: 'shop', node: 'node-a' }, { ip: '10.96.0.20', port: 8080 }),
  );
  const out = enrichRecord(input, index);
  t.same(out.src, {
    ip: '10.244.1.5',
    port: 40312,
    pod: FRONTEND_POD,
    namespace: 'shop',
    node: 'node-a',
    workload: 'frontend',
    workload_kind: 'Deployment',
    service: 'frontend',
    labels: { app: 'frontend', version: 'v1' },
  });
  t.same(
    out.dst,
    { ip: '10.96.0.20', port: 8080, service: 'payment', namespace: 'shop', workload: 'payment', workload_kind: 'Deployment' },
    'a VIP is no pod; the one workload behind the service answered',
  );
  t.equal(out.method, 'POST', 'the rest of the record is kept');
  t.not(out, input, 'a new record');
});

void t.test('inbound at the backend: the peer named by its IP, the local end by the sidecar’s pod', async (t) => {
  const index = seededIndex();
  const out = enrichRecord(record('inbound', { ip: '10.244.1.5', port: 40312 }, { ip: '10.244.2.7', port: 8443, pod: PAYMENT_POD, namespace: 'shop' }), index);
  t.same(out.src, {
    ip: '10.244.1.5',
    port: 40312,
    pod: FRONTEND_POD,
    namespace: 'shop',
    workload: 'frontend',
    workload_kind: 'Deployment',
    node: 'node-a',
    service: 'frontend',
    labels: { app: 'frontend', version: 'v1' },
  });
  t.same(out.dst, {
    ip: '10.244.2.7',
    port: 8443,
    pod: PAYMENT_POD,
    namespace: 'shop',
    workload: 'payment',
    workload_kind: 'Deployment',
    node: 'node-b',
    service: 'payment',
    labels: { version: 'v2', 'app.kubernetes.io/name': 'payment', 'app.kubernetes.io/part-of': 'shop' },
  });
});

void t.test('other ends: StatefulSet, Job of a CronJob, bare pod, selectorless service, node address, loopback', async (t) => {
  const index = seededIndex();
  const redis = enrichRecord(record('outbound', { ip: '10.244.2.31', port: 5000, pod: 'checkout-6f7b9c8d4-p9q8r', namespace: 'shop' }, { ip: '10.244.1.9', port: 6379 }), index);
  t.equal(redis.dst.pod, 'redis-0');
  t.equal(redis.dst.workload, 'redis');
  t.equal(redis.dst.workload_kind, 'StatefulSet');
  t.equal(redis.dst.service, 'redis', 'headless service, through its EndpointSlice');
  t.equal(redis.src.workload, 'checkout');
  t.equal(redis.src.service, undefined, 'no service for checkout');
  t.same(redis.src.labels, { 'app.kubernetes.io/name': 'checkout' });

  const report = enrichRecord(record('inbound', { ip: '10.244.2.20', port: 5000 }, { ip: '10.244.2.7', port: 8443 }, LISTED_AT - 2n * 3600n * SECOND + 20n * SECOND), index);
  t.equal(report.src.pod, 'report-28391040-k7h2p', 'a record from while the job ran');
  t.equal(report.src.workload, 'report');
  t.equal(report.src.workload_kind, 'CronJob');

  const legacy = enrichRecord(record('outbound', { ip: '10.244.1.5', port: 1, pod: FRONTEND_POD, namespace: 'shop' }, { ip: '10.244.1.12', port: 9000 }), index);
  t.equal(legacy.dst.pod, 'debug');
  t.equal(legacy.dst.namespace, 'default');
  t.equal(legacy.dst.workload_kind, 'Pod');
  t.equal(legacy.dst.service, 'legacy');
  t.equal(legacy.dst.labels, undefined, 'no meaningful labels on the debug pod');

  const probe = enrichRecord(record('inbound', { ip: '192.168.1.10', port: 51000 }, { ip: '10.244.2.7', port: 8443, pod: PAYMENT_POD, namespace: 'shop' }), index);
  t.same(probe.src, { ip: '192.168.1.10', port: 51000, node: 'node-a' }, 'a kubelet probe comes from the node');

  const local = enrichRecord(record('outbound', { ip: '127.0.0.1', port: 40000, pod: PAYMENT_POD, namespace: 'shop' }, { ip: '127.0.0.1', port: 9102 }), index);
  t.equal(local.src.workload, 'payment', 'a loopback call is named from the sidecar’s pod');
  t.same(local.dst, { ip: '127.0.0.1', port: 9102 }, 'the unnamed loopback peer stays unnamed');
});

void t.test('unknown addresses stay unnamed; fields already there are kept', async (t) => {
  const index = seededIndex();
  const input = record('outbound', { ip: '10.1.2.3', port: 1 }, { ip: '203.0.113.9', port: 443 });
  const out = enrichRecord(input, index);
  t.same(out.src, { ip: '10.1.2.3', port: 1 });
  t.same(out.dst, { ip: '203.0.113.9', port: 443 });

  const preset = enrichRecord(record('inbound', { ip: '10.244.1.5', port: 2, service: 'frontend-public', workload: 'set-by-sidecar', labels: { app: 'mine' } }, { ip: '10.1.2.3', port: 1 }), index);
  t.equal(preset.src.service, 'frontend-public');
  t.equal(preset.src.workload, 'set-by-sidecar');
  t.equal(preset.src.pod, FRONTEND_POD, 'missing fields still filled');
  t.same(preset.src.labels, { app: 'mine', version: 'v1' });
});

void t.test('the pod that had the IP when the call started', async (t) => {
  const index = new InventoryIndex({ lookupGraceMs: 0 });
  const first = fixtureItem('pods', 'debug');
  index.apply('pods', first, LISTED_AT);
  index.remove('pods', first, LISTED_AT + 60n * SECOND);
  const second = fixtureItem('pods', 'debug');
  second.metadata.name = 'debug-again';
  second.metadata.uid = 'uid-again';
  second.status.startTime = new Date(Number((LISTED_AT + 70n * SECOND) / 1_000_000n)).toISOString();
  index.apply('pods', second, LISTED_AT + 71n * SECOND);
  const call = (start: bigint) => enrichRecord(record('inbound', { ip: '10.244.1.12', port: 3 }, { ip: '10.1.1.1', port: 80 }, start), index).src.pod;
  t.equal(call(LISTED_AT + 30n * SECOND), 'debug');
  t.equal(call(LISTED_AT + 65n * SECOND), undefined, 'nobody held it');
  t.equal(call(LISTED_AT + 80n * SECOND), 'debug-again');
});

void t.test('an mTLS identity wins over the IP lookup', async (t) => {
  const index = seededIndex();
  const inbound = (identity: string, ip = '10.244.1.5') =>
    enrichRecord(record('inbound', { ip, port: 4, identity }, { ip: '10.244.2.7', port: 8443, pod: PAYMENT_POD, namespace: 'shop' }), index).src;

  const agreeing = inbound('spiffe://cluster.local/ns/shop/sa/frontend');
  t.equal(agreeing.pod, FRONTEND_POD);
  t.equal(agreeing.labels?.[IDENTITY_MISMATCH_LABEL], undefined, 'no flag when they agree');

  const otherNamespace = inbound('spiffe://cluster.local/ns/billing/sa/api');
  t.equal(otherNamespace.namespace, 'billing', 'the identity’s namespace');
  t.equal(otherNamespace.pod, undefined, 'the IP’s pod is not trusted');
  t.equal(otherNamespace.workload, undefined);
  t.equal(otherNamespace.service, undefined);
  t.equal(otherNamespace.labels?.[IDENTITY_MISMATCH_LABEL], 'namespace,service_account');
  t.equal(otherNamespace.labels?.[IP_POD_LABEL], `shop/${FRONTEND_POD}`);

  const otherAccount = inbound('spiffe://cluster.local/ns/shop/sa/payment');
  t.equal(otherAccount.namespace, 'shop');
  t.equal(otherAccount.pod, undefined);
  t.equal(otherAccount.labels?.[IDENTITY_MISMATCH_LABEL], 'service_account');

  const unknownIp = inbound('spiffe://cluster.local/ns/billing/sa/api', '10.9.9.9');
  t.same(unknownIp, { ip: '10.9.9.9', port: 4, identity: 'spiffe://cluster.local/ns/billing/sa/api', namespace: 'billing' }, 'an unknown IP: the identity alone, no flag');

  const notSpiffe = inbound('CN=frontend');
  t.equal(notSpiffe.pod, FRONTEND_POD, 'an identity that is not a SPIFFE id does not override');

  // The callee of an outbound call, addressed by VIP, authenticated as a workload of another namespace.
  const vip = enrichRecord(record('outbound', { ip: '10.244.1.5', port: 5, pod: FRONTEND_POD, namespace: 'shop' }, { ip: '10.96.0.20', port: 8080, identity: 'spiffe://cluster.local/ns/billing/sa/api' }), index).dst;
  t.equal(vip.service, 'payment', 'the service that was addressed');
  t.equal(vip.namespace, 'billing', 'the namespace that answered');
  t.equal(vip.labels?.[IDENTITY_MISMATCH_LABEL], 'namespace');
  const vipOk = enrichRecord(record('outbound', { ip: '10.244.1.5', port: 5, pod: FRONTEND_POD, namespace: 'shop' }, { ip: '10.96.0.20', port: 8080, identity: 'spiffe://cluster.local/ns/shop/sa/payment' }), index).dst;
  t.same(vipOk, {
    ip: '10.96.0.20',
    port: 8080,
    identity: 'spiffe://cluster.local/ns/shop/sa/payment',
    namespace: 'shop',
    service: 'payment',
    workload: 'payment',
    workload_kind: 'Deployment',
  });
});

void t.test('label choice is configurable', async (t) => {
  const out = enrichRecord(record('inbound', { ip: '10.244.1.5', port: 4 }, { ip: '10.1.1.1', port: 1 }), seededIndex(), { labelKeys: ['team'] });
  t.same(out.src.labels, { team: 'web' });
});

void t.test('never throws', async (t) => {
  const broken: InventoryLookup = {
    lookupIp() {
      throw new Error('boom');
    },
    lookupPod() {
      throw new Error('boom');
    },
    lookupService() {
      throw new Error('boom');
    },
    lookupNode() {
      throw new Error('boom');
    },
    serviceWorkload() {
      throw new Error('boom');
    },
    servicesForPod() {
      throw new Error('boom');
    },
    namespaceLabels() {
      throw new Error('boom');
    },
    stats() {
      throw new Error('boom');
    },
  };
  const input = record('inbound', { ip: '10.244.1.5', port: 4 }, { ip: '10.244.2.7', port: 8443, pod: PAYMENT_POD, namespace: 'shop' });
  let out: CallRecord | undefined;
  t.doesNotThrow(() => (out = enrichRecord(input, broken)));
  t.same(out?.src, input.src, 'ends left as they came');
  t.same(out?.dst, input.dst);
  const garbage = { ...input, src: undefined } as unknown as CallRecord;
  t.doesNotThrow(() => enrichRecord(garbage, seededIndex()));
});

void t.test('SPIFFE ids', async (t) => {
  t.same(parseSpiffeId('spiffe://cluster.local/ns/shop/sa/frontend'), { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'frontend' });
  t.equal(parseSpiffeId('spiffe://cluster.local/ns/shop'), undefined);
  t.equal(parseSpiffeId('spiffe://cluster.local/ns/shop/sa/a/extra'), undefined);
  t.equal(parseSpiffeId('https://cluster.local/ns/shop/sa/a'), undefined);
  t.equal(parseSpiffeId(undefined), undefined);
});

void t.test('a VIP is named by its workload only when one workload is behind the service', async (t) => {
  const index = seededIndex();
  const toPayment = (identity?: string): Endpoint =>
    enrichRecord(record('outbound', { ip: '10.244.1.5', port: 5, pod: FRONTEND_POD, namespace: 'shop' }, { ip: '10.96.0.20', port: 8080, ...(identity ? { identity } : {}) }), index).dst;
  t.match(toPayment(), { service: 'payment', workload: 'payment', workload_kind: 'Deployment' });
  t.equal(toPayment().pod, undefined, 'which replica answered is not known from the caller\'s side');
  const other = toPayment('spiffe://cluster.local/ns/shop/sa/other');
  t.equal(other.workload, undefined, 'not when the certificate says another service account answered');
  t.equal(other.service, 'payment');

  // A canary of another workload joins the service: which one answered is no longer known.
  const slice = fixtureItem('endpointslices', 'payment-h7f9d');
  slice.endpoints.push({ addresses: ['10.244.2.31'], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: 'shop', name: 'checkout-6f7b9c8d4-p9q8r' } });
  index.apply('endpointslices', slice, LISTED_AT + SECOND);
  const mixed = toPayment();
  t.equal(mixed.workload, undefined, 'two workloads behind the service: none named');
  t.equal(mixed.service, 'payment', 'the service still is');

  // Back to one workload.
  slice.endpoints.pop();
  index.apply('endpointslices', slice, LISTED_AT + 2n * SECOND);
  t.equal(toPayment().workload, 'payment', 'named again once the slice changes back');
});

void t.test('serviceWorkload: pods of one workload, else nothing', async (t) => {
  const index = seededIndex();
  t.same(index.serviceWorkload('shop', 'payment', LISTED_AT), { workload: 'payment', workloadKind: 'Deployment', serviceAccount: 'payment' });
  t.same(index.serviceWorkload('shop', 'redis', LISTED_AT), { workload: 'redis', workloadKind: 'StatefulSet', serviceAccount: 'default' });
  t.equal(index.serviceWorkload('default', 'kubernetes', LISTED_AT), undefined, 'endpoints that are no pod');
  t.equal(index.serviceWorkload('shop', 'nothing-here', LISTED_AT), undefined, 'an unknown service');
  t.equal(index.serviceWorkload('default', 'payment', LISTED_AT), undefined, 'a service of that name in another namespace');
});
