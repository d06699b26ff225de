import t from 'tap';
import { InventoryIndex } from '../../../../lib/kube/inventory/index.ts';
import { trimObject, type KubePod } from '../../../../lib/kube/inventory/kube-objects.ts';
import { LISTED_AT, SECOND, fixtureItem, loadList, ns, seededIndex } from './fixtures.ts';

type Json = Record<string, any>;

const MINUTE = 60n * SECOND;

/** A running pod on one IP, shaped like the API's. */
function pod(name: string, uid: string, ip: string | undefined, startTime: string, extra: { labels?: Record<string, string>; namespace?: string; phase?: string; owner?: Json } = {}): KubePod {
  const p: Json = {
    metadata: {
      name,
      namespace: extra.namespace ?? 'shop',
      uid,
      resourceVersion: '1',
      creationTimestamp: startTime,
      labels: extra.labels ?? { app: name },
      ...(extra.owner ? { ownerReferences: [extra.owner] } : {}),
    },
    spec: { nodeName: 'node-a', serviceAccountName: 'default', containers: [{ name: 'app' }] },
    status: { phase: extra.phase ?? 'Running', startTime },
  };
  if (ip) {
    p.status.podIP = ip;
    p.status.podIPs = [{ ip }];
  }
  return p as KubePod;
}

void t.test('owner chains name the workload', async (t) => {
  const index = seededIndex();
  const at = LISTED_AT;
  const cases: [string, string, string, string][] = [
    ['10.244.1.5', 'frontend-7d9f8b6c5d-x2x4q', 'frontend', 'Deployment'],
    ['10.244.2.7', 'payment-5c8d7f9b4-abcde', 'payment', 'Deployment'],
    ['10.244.1.9', 'redis-0', 'redis', 'StatefulSet'],
    ['10.244.1.12', 'debug', 'debug', 'Pod'],
    ['10.244.2.30', 'migrate-db-q8w2e', 'migrate-db', 'Job'],
    // Its ReplicaSet is not in the inventory: the pod-template-hash says which Deployment made it.
    ['10.244.2.31', 'checkout-6f7b9c8d4-p9q8r', 'checkout', 'Deployment'],
  ];
  for (const [ip, name, workload, kind] of cases) {
    const info = index.lookupIp(ip, at);
    t.equal(info?.name, name, `${ip} is ${name}`);
    t.equal(info?.workload, workload, `${name} belongs to ${workload}`);
    t.equal(info?.workloadKind, kind, `${workload} is a ${kind}`);
  }
  const frontend = index.lookupIp('10.244.1.5', at)!;
  t.equal(frontend.namespace, 'shop');
  t.equal(frontend.node, 'node-a');
  t.equal(frontend.serviceAccount, 'frontend');
  t.equal(frontend.labels.team, 'web');
  t.same(frontend.ips, ['10.244.1.5']);
  t.equal(frontend.deleted, false);

  // The Job of a CronJob: finished long ago, but a record from while it ran still names it.
  const report = index.lookupIp('10.244.2.20', ns('2025-05-01T10:00:20Z'));
  t.equal(report?.name, 'report-28391040-k7h2p');
  t.equal(report?.workload, 'report');
  t.equal(report?.workloadKind, 'CronJob');
  t.equal(index.lookupIp('10.244.2.20', LISTED_AT), undefined, 'a finished pod no longer holds its IP');

  t.equal(index.lookupIp('192.168.1.10', at), undefined, 'a hostNetwork pod is not found by the node IP');
  t.equal(index.lookupNode('192.168.1.10')?.name, 'node-a');
  t.equal(index.lookupNode('192.168.1.11')?.labels['topology.kubernetes.io/zone'], 'zone-2');
  t.equal(index.lookupIp('10.244.9.9', at), undefined, 'unknown IPs stay unknown');
  t.equal(index.lookupPod('shop', 'cache-warmer', at)?.workloadKind, 'Pod', 'a pending pod is known by name');
  t.same(index.lookupPod('shop', 'cache-warmer', at)?.ips, [], 'but has no IP yet');
});

void t.test('owners that arrive after their pods update the workload', async (t) => {
  const index = new InventoryIndex();
  const job = fixtureItem('jobs', 'report-28391040');
  const p = fixtureItem('pods', 'report-28391040-k7h2p');
  index.apply('pods', p, LISTED_AT);
  const before = index.lookupPod('shop', 'report-28391040-k7h2p', LISTED_AT);
  t.equal(before?.workload, 'report-28391040');
  t.equal(before?.workloadKind, 'Job', 'the Job alone is all the pod says');
  index.apply('jobs', job, LISTED_AT);
  const after = index.lookupPod('shop', 'report-28391040-k7h2p', LISTED_AT);
  t.equal(after?.workload, 'report');
  t.equal(after?.workloadKind, 'CronJob');
  index.remove('jobs', job, LISTED_AT);
  t.equal(index.lookupPod('shop', 'report-28391040-k7h2p', LISTED_AT)?.workloadKind, 'Job', 'forgotten with its Job');

  // A ReplicaSet owned by something other than a Deployment (an operator's own kind).
  const rs = { metadata: { name: 'canary-5f6d7c8b9', namespace: 'shop', uid: 'rs-1', ownerReferences: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'canary', uid: 'ro-1', controller: true }] } };
  index.apply('replicasets', rs, LISTED_AT);
  index.apply('pods', pod('canary-5f6d7c8b9-aaaaa', 'p-c', '10.244.3.3', '2025-05-01T11:00:00Z', { owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'canary-5f6d7c8b9', uid: 'rs-1', controller: true } }), LISTED_AT);
  const canary = index.lookupIp('10.244.3.3', LISTED_AT);
  t.equal(canary?.workload, 'canary');
  t.equal(canary?.workloadKind, 'Rollout');

  // Owner references that are not the controller do not make a workload.
  index.apply('pods', pod('adopted', 'p-o', '10.244.3.4', '2025-05-01T11:00:00Z', { owner: { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'cm' } }), LISTED_AT);
  t.equal(index.lookupIp('10.244.3.4', LISTED_AT)?.workloadKind, 'Pod');
});

void t.test('IP reuse: each record resolves to the pod that had the IP when it started', async (t) => {
  const index = new InventoryIndex({ historyRetentionMs: 10 * 60_000, lookupGraceMs: 2_000 });
  const ip = '10.244.1.50';
  const aStart = ns('2025-05-01T11:00:00Z');
  index.applyPod(pod('old', 'uid-a', ip, '2025-05-01T11:00:00Z'), aStart + 2n * SECOND);
  const aDeleted = aStart + 5n * MINUTE;
  index.deletePod(pod('old', 'uid-a', ip, '2025-05-01T11:00:00Z'), aDeleted);
  const bStart = aDeleted + 10n * SECOND;
  index.applyPod(pod('new', 'uid-b', ip, new Date(Number(bStart / 1_000_000n)).toISOString()), bStart + SECOND);

  t.equal(index.lookupIp(ip, aStart + MINUTE)?.name, 'old', 'a record from the old pod');
  t.equal(index.lookupIp(ip, aDeleted - SECOND)?.name, 'old', 'just before the old pod was seen deleted');
  t.equal(index.lookupIp(ip, aStart + MINUTE)?.deleted, true, 'answered from history');
  t.equal(index.lookupIp(ip, bStart + SECOND)?.name, 'new', 'a record from the new pod');
  t.equal(index.lookupIp(ip, bStart + 30n * MINUTE)?.name, 'new', 'the new pod still holds it');
  t.equal(index.lookupIp(ip, aStart - 10n * SECOND), undefined, 'before anyone held it');
  t.equal(index.lookupIp(ip, aStart - SECOND)?.name, 'old', 'within the grace before the first holder');
  t.equal(index.lookupPod('shop', 'old', aStart + MINUTE)?.name, 'old', 'the deleted pod by name, within retention');

  // Past the retention the old holding is forgotten; the new pod must not inherit its records.
  index.prune(aDeleted + 11n * MINUTE);
  t.equal(index.lookupIp(ip, aStart + MINUTE), undefined, 'old records no longer resolve, and not to the new pod');
  t.equal(index.lookupIp(ip, bStart + SECOND)?.name, 'new');
  t.equal(index.lookupPod('shop', 'old', aStart + MINUTE), undefined, 'the tombstone is gone');
  t.equal(index.stats().tombstones, 0);
});

void t.test('a new pod claiming an IP before the old one is seen deleted closes the old holding', async (t) => {
  const index = new InventoryIndex({ lookupGraceMs: 0 });
  const ip = '10.244.1.60';
  index.applyPod(pod('a', 'uid-a', ip, '2025-05-01T11:00:00Z'), ns('2025-05-01T11:00:01Z'));
  // The delete event of `a` comes after `b` already has the IP (events of different pods race).
  index.applyPod(pod('b', 'uid-b', ip, '2025-05-01T11:10:00Z'), ns('2025-05-01T11:10:02Z'));
  index.deletePod(pod('a', 'uid-a', ip, '2025-05-01T11:00:00Z'), ns('2025-05-01T11:10:05Z'));
  t.equal(index.lookupIp(ip, ns('2025-05-01T11:09:59Z'))?.name, 'a');
  t.equal(index.lookupIp(ip, ns('2025-05-01T11:10:00Z'))?.name, 'b', 'from b’s start the IP is b’s');
  t.equal(index.lookupIp(ip, ns('2025-05-01T11:10:04Z'))?.name, 'b', 'the late delete of a does not take it back');
});

void t.test('churn: IP changes, a pod of the same name replaced, pending → running → finished', async (t) => {
  const index = new InventoryIndex({ lookupGraceMs: 0 });
  const t0 = ns('2025-05-01T11:00:00Z');

  // Pending without IP, then running with one: the IP counts from the pod's start.
  const pending = pod('web-1', 'uid-w', undefined, '2025-05-01T11:00:00Z', { phase: 'Pending' });
  index.applyPod(pending, t0 + SECOND);
  t.equal(index.lookupPod('shop', 'web-1', t0)?.phase, 'Pending');
  index.applyPod(pod('web-1', 'uid-w', '10.244.1.70', '2025-05-01T11:00:00Z'), t0 + 4n * SECOND);
  t.equal(index.lookupIp('10.244.1.70', t0 + 2n * SECOND)?.name, 'web-1', 'traffic before the IP event arrived');

  // The pod moves to another IP.
  index.applyPod(pod('web-1', 'uid-w', '10.244.1.71', '2025-05-01T11:00:00Z'), t0 + MINUTE);
  t.equal(index.lookupIp('10.244.1.70', t0 + 30n * SECOND)?.name, 'web-1', 'the old IP, while it had it');
  t.equal(index.lookupIp('10.244.1.70', t0 + 2n * MINUTE), undefined, 'the old IP, after');
  t.equal(index.lookupIp('10.244.1.71', t0 + 2n * MINUTE)?.name, 'web-1', 'the new IP');

  // A StatefulSet pod recreated under the same name while the informer was away: the relist
  // shows the name with a new uid and no delete event for the old one.
  const sts = { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'ss', controller: true };
  index.applyPod(pod('db-0', 'uid-db-old', '10.244.1.80', '2025-05-01T11:00:00Z', { owner: sts }), t0 + SECOND);
  index.applyPod(pod('db-0', 'uid-db-new', '10.244.1.81', '2025-05-01T11:20:00Z', { owner: sts }), t0 + 21n * MINUTE);
  t.equal(index.lookupIp('10.244.1.80', t0 + 22n * MINUTE), undefined, 'the old incarnation is gone');
  t.equal(index.lookupIp('10.244.1.80', t0 + 5n * MINUTE)?.uid, 'uid-db-old', 'but answers for its time');
  t.equal(index.lookupPod('shop', 'db-0', t0 + 5n * MINUTE)?.uid, 'uid-db-old', 'by name, at an old time');
  t.equal(index.lookupPod('shop', 'db-0', t0 + 22n * MINUTE)?.uid, 'uid-db-new', 'by name, now');
  t.equal(index.counts().pods, 2, 'web-1 and the new db-0 are live');

  // Finished: the IP is released the moment the pod is seen finished.
  const done = pod('web-1', 'uid-w', '10.244.1.71', '2025-05-01T11:00:00Z', { phase: 'Succeeded' });
  index.applyPod(done, t0 + 30n * MINUTE);
  t.equal(index.lookupIp('10.244.1.71', t0 + 29n * MINUTE)?.name, 'web-1');
  t.equal(index.lookupIp('10.244.1.71', t0 + 31n * MINUTE), undefined);
  index.applyPod(pod('other', 'uid-o', '10.244.1.71', '2025-05-01T11:31:00Z'), t0 + 32n * MINUTE);
  t.equal(index.lookupIp('10.244.1.71', t0 + 29n * MINUTE)?.name, 'web-1', 'history kept when the IP is reused');
  t.equal(index.lookupIp('10.244.1.71', t0 + 31n * MINUTE + 30n * SECOND)?.name, 'other');
});

void t.test('services: selectors, EndpointSlices, ClusterIPs', async (t) => {
  const index = seededIndex();
  const at = LISTED_AT;
  const frontend = index.lookupIp('10.244.1.5', at)!;
  const payment = index.lookupIp('10.244.2.7', at)!;
  const debug = index.lookupIp('10.244.1.12', at)!;
  const checkout = index.lookupIp('10.244.2.31', at)!;
  t.same(index.servicesForPod(frontend), ['frontend']);
  t.same(index.servicesForPod(payment), ['payment']);
  t.same(index.servicesForPod(debug), ['legacy'], 'a selectorless service, known from its EndpointSlice only');
  t.same(index.servicesForPod(checkout), [], 'no service selects it');

  const vip = index.lookupService('10.96.0.20', 8080, at);
  t.equal(vip?.service.name, 'payment');
  t.equal(vip?.service.namespace, 'shop');
  t.equal(vip?.via, 'cluster-ip');
  t.equal(vip?.port?.name, 'http');
  t.equal(index.lookupService('10.96.0.20', 9999, at)?.port, undefined, 'the VIP names the service even on an unknown port');
  t.equal(index.lookupService('10.96.0.1', 443, at)?.service.name, 'kubernetes');

  const backend = index.lookupService('10.244.2.7', 8443, at);
  t.equal(backend?.service.name, 'payment', 'the pod IP and target port of a backend');
  t.equal(backend?.via, 'endpoint');
  t.equal(backend?.port?.port, 8080, 'the service port that forwards there');
  t.equal(index.lookupService('10.244.2.7', 9102, at), undefined, 'the metrics port is not behind the service');
  t.equal(index.lookupService('10.244.1.9', 6379, at)?.service.name, 'redis', 'headless');
  t.equal(index.lookupService('10.244.1.12', 9000, at)?.service.name, 'legacy', 'selectorless');
  t.equal(index.lookupService('192.168.1.5', 6443, at)?.service.name, 'kubernetes', 'the API server endpoint');
  t.equal(index.lookupService('10.244.9.9', 80, at), undefined);

  // Label change: the pod leaves the selector (the slice still lists it until the controller catches up).
  const relabelled = fixtureItem('pods', 'frontend-7d9f8b6c5d-x2x4q');
  relabelled.metadata.labels = { app: 'frontend-canary' };
  index.apply('pods', relabelled, at);
  const slices = loadList('endpointslices').items as Json[];
  const frontendSlice = slices.find((s) => s.metadata.name === 'frontend-k2j4x')!;
  t.same(index.servicesForPod(index.lookupIp('10.244.1.5', at)!), ['frontend'], 'still an endpoint');
  const emptied: Json = { ...frontendSlice, endpoints: [] };
  index.apply('endpointslices', emptied, at);
  t.same(index.servicesForPod(index.lookupIp('10.244.1.5', at)!), [], 'neither selected nor an endpoint');

  // A second service selecting the same pods.
  const services = loadList('services').items as Json[];
  const paymentSvc = services.find((s) => s.metadata.name === 'payment')!;
  const second: Json = { ...paymentSvc, metadata: { ...paymentSvc.metadata, name: 'payment-internal', uid: 'svc-pi' }, spec: { ...paymentSvc.spec, clusterIP: '10.96.0.21', clusterIPs: ['10.96.0.21'] } };
  index.apply('services', second, at);
  t.same(index.servicesForPod(payment), ['payment', 'payment-internal']);
  t.equal(index.lookupService('10.96.0.21', 8080, at)?.service.name, 'payment-internal');
});

void t.test('services without EndpointSlices: the selector and the named target port', async (t) => {
  const index = seededIndex({}, ['pods', 'services']);
  const at = LISTED_AT;
  const m = index.lookupService('10.244.2.7', 8443, at);
  t.equal(m?.service.name, 'payment', 'targetPort "http" is the pod’s port 8443');
  t.equal(m?.via, 'endpoint');
  t.equal(index.lookupService('10.244.1.5', 8080, at)?.service.name, 'frontend', 'numeric targetPort');
  t.equal(index.lookupService('10.244.1.5', 80, at), undefined, 'the service port is not the pod’s port');
  t.equal(index.lookupService('10.244.1.12', 9000, at), undefined, 'a selectorless service needs its slice');
});

void t.test('a service deleted and its VIP reused', async (t) => {
  const index = seededIndex();
  const services = loadList('services').items as Json[];
  const legacy = services.find((s) => s.metadata.name === 'legacy')!;
  const deletedAt = LISTED_AT + MINUTE;
  index.remove('services', legacy, deletedAt);
  t.equal(index.lookupService('10.96.0.40', 9000, LISTED_AT)?.service.name, 'legacy', 'a record from before the delete');
  t.equal(index.lookupService('10.96.0.40', 9000, deletedAt + MINUTE), undefined, 'after it, the VIP is unknown');
  const replacement = { metadata: { name: 'orders', namespace: 'shop', uid: 'svc-orders', creationTimestamp: new Date(Number((deletedAt + 2n * MINUTE) / 1_000_000n)).toISOString() }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.40', clusterIPs: ['10.96.0.40'], selector: { app: 'orders' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } };
  index.apply('services', replacement, deletedAt + 2n * MINUTE);
  t.equal(index.lookupService('10.96.0.40', 80, deletedAt + 3n * MINUTE)?.service.name, 'orders');
  t.equal(index.lookupService('10.96.0.40', 9000, LISTED_AT)?.service.name, 'legacy', 'old records keep the old service');
  t.equal(index.counts().services, 5);
});

void t.test('nodes, namespaces and counts', async (t) => {
  const index = seededIndex();
  t.equal(index.namespaceLabels('shop')?.['meshtap.io/inject'], 'enabled');
  t.equal(index.namespaceLabels('nope'), undefined);
  t.same(index.counts(), { pods: 9, services: 5, endpointslices: 5, replicasets: 3, jobs: 2, nodes: 2, namespaces: 4 });
  const stats = index.stats();
  t.equal(stats.addresses, 7 + 4, 'seven pod IPs (the finished job’s included, hostNetwork not) and four VIPs');
  t.equal(stats.tombstones, 0);

  const nodeA = fixtureItem('nodes', 'node-a');
  index.remove('nodes', nodeA, LISTED_AT);
  t.equal(index.lookupNode('192.168.1.10'), undefined);
  nodeA.status.addresses = [{ type: 'InternalIP', address: '192.168.1.20' }];
  index.apply('nodes', nodeA, LISTED_AT);
  t.equal(index.lookupNode('192.168.1.20')?.name, 'node-a');
  t.equal(index.lookupNode('192.168.1.10'), undefined, 'the old address is forgotten');
  index.remove('namespaces', fixtureItem('namespaces', 'shop'), LISTED_AT);
  t.equal(index.namespaceLabels('shop'), undefined);

  index.remove('pods', fixtureItem('pods', 'debug'), LISTED_AT + SECOND);
  t.equal(index.counts().pods, 8);
  t.equal(index.stats().tombstones, 1);
});

void t.test('objects with Date timestamps (typed list calls) index like string ones', async (t) => {
  const index = new InventoryIndex({ lookupGraceMs: 0 });
  const p = fixtureItem('pods', 'debug');
  p.status.startTime = new Date(p.status.startTime);
  p.metadata.creationTimestamp = new Date(p.metadata.creationTimestamp);
  index.apply('pods', p, LISTED_AT);
  t.equal(index.lookupIp('10.244.1.12', ns('2025-05-01T10:10:01Z'))?.name, 'debug');
  t.equal(index.lookupIp('10.244.1.12', ns('2025-05-01T10:09:59Z')), undefined, 'valid from its start time');
});

void t.test('history is pruned on the way as time passes', async (t) => {
  const index = new InventoryIndex({ historyRetentionMs: 60_000, lookupGraceMs: 0 });
  const t0 = ns('2025-05-01T11:00:00Z');
  for (let i = 0; i < 50; i++) {
    const p = pod(`job-${i}`, `uid-${i}`, `10.244.5.${i}`, '2025-05-01T11:00:00Z');
    index.apply('pods', p, t0 + BigInt(i) * SECOND);
    index.remove('pods', p, t0 + BigInt(i) * SECOND + SECOND);
  }
  index.apply('namespaces', { metadata: { name: 'x' } }, t0 + 10n * MINUTE);
  const stats = index.stats();
  t.equal(stats.tombstones, 0, 'deleted pods older than the retention are gone');
  t.equal(stats.addresses, 0, 'and their IP histories');
});

void t.test('trimmed objects keep everything the index reads', async (t) => {
  const full = seededIndex();
  const trimmed = new InventoryIndex();
  for (const resource of ['namespaces', 'nodes', 'pods', 'replicasets', 'jobs', 'services', 'endpointslices'] as const) {
    for (const item of loadList(resource).items as Json[]) trimmed.apply(resource, trimObject(resource, item), LISTED_AT);
  }
  const pod = trimObject('pods', fixtureItem('pods', 'frontend-7d9f8b6c5d-x2x4q')) as Json;
  t.equal(pod.metadata.managedFields, undefined, 'managedFields dropped');
  t.same(pod.metadata.annotations, { 'meshtap.io/status': '{"version":"0.1.0"}' }, 'annotations dropped, except meshtap.io/status');
  t.equal(pod.spec.volumes, undefined, 'volumes dropped');
  t.same(pod.spec.containers, [{ name: 'frontend', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }]);
  const dated = fixtureItem('pods', 'debug');
  dated.status.startTime = new Date(dated.status.startTime);
  t.equal((trimObject('pods', dated) as Json).status.startTime, '2025-05-01T10:10:00.000Z', 'Dates become strings');
  for (const [ip, port] of [['10.244.1.5', 8080], ['10.244.2.7', 8443], ['10.244.1.12', 9000], ['10.96.0.20', 8080], ['10.244.2.20', 0]] as const) {
    const at = ip === '10.244.2.20' ? ns('2025-05-01T10:00:10Z') : LISTED_AT;
    t.same(trimmed.lookupIp(ip, at), full.lookupIp(ip, at), `same pod for ${ip}`);
    t.same(trimmed.lookupService(ip, port, at), full.lookupService(ip, port, at), `same service for ${ip}:${port}`);
  }
  t.same(trimmed.lookupNode('192.168.1.10'), full.lookupNode('192.168.1.10'));
  t.same(trimmed.counts(), full.counts());
});
