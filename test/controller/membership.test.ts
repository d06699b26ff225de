import t from 'tap';
import { InventoryIndex } from '../../lib/kube/inventory/index.ts';
import { trimObject } from '../../lib/kube/inventory/kube-objects.ts';
import type { InventoryResource } from '../../lib/kube/inventory/inventory.ts';
import { buildMembership, isMeshedPod, type MembershipInput, type MembershipPodInput } from '../../controller/membership/build.ts';
import { createClusterSource, membershipInputFromIndex } from '../../controller/membership/cluster-source.ts';
import { createMembershipHub, type PublishedSnapshot } from '../../controller/membership/hub.ts';
import { createListeners, type MembershipSource } from '../../controller/membership/source.ts';
import { buildMembershipTable } from '../../sidecar/membership/lookup.ts';
import { decodeMembershipSnapshot } from '../../record/membership-wire.ts';
import { LISTED_AT, loadList } from '../lib/kube/inventory/fixtures.ts';

type Json = Record<string, any>;
const TD = { trustDomain: 'cluster.local' };
const pod = (over: Partial<MembershipPodInput> = {}): MembershipPodInput => ({
  name: 'web-1',
  namespace: 'shop',
  ips: ['10.244.0.5'],
  serviceAccount: 'web',
  phase: 'Running',
  injected: true,
  ...over,
});

void t.test('a pod is meshed when injected, Pending or Running, with an IP, not hostNetwork', async (t) => {
  t.equal(isMeshedPod(pod()), true);
  t.equal(isMeshedPod(pod({ injected: false })), false, 'no meshtap.io/status');
  t.equal(isMeshedPod(pod({ phase: 'Pending' })), true, 'still starting: its inbound already goes to its sidecar');
  t.equal(isMeshedPod(pod({ phase: 'Pending', ips: [] })), false, 'not scheduled yet: no IP');
  t.equal(isMeshedPod(pod({ phase: 'Succeeded' })), false);
  t.equal(isMeshedPod(pod({ phase: 'Failed' })), false);
  t.equal(isMeshedPod(pod({ phase: 'Unknown' })), false);
  t.equal(isMeshedPod(pod({ ips: [] })), false, 'no IP yet');
  t.equal(isMeshedPod(pod({ hostNetwork: true })), false);
  t.equal(isMeshedPod(pod({ phase: undefined })), true, 'the lab file has no phases');
});

void t.test('workloads: one per IP, identity from namespace and service account', async (t) => {
  const { content, skipped } = buildMembership(
    {
      pods: [
        pod({ name: 'b', ips: ['10.244.0.9', 'fd00::9'] }),
        pod({ name: 'a', ips: ['10.244.0.5'], serviceAccount: undefined }),
        pod({ name: 'c', ips: ['10.244.0.6'], injected: false }),
        pod({ name: 'bad', namespace: 'Not_A_Namespace', ips: ['10.244.0.7'] }),
      ],
      services: [],
    },
    TD,
  );
  t.same(content.workloads, [
    { ip: '10.244.0.5', namespace: 'shop', pod: 'a', service_account: 'default', identity: 'spiffe://cluster.local/ns/shop/sa/default' },
    { ip: '10.244.0.9', namespace: 'shop', pod: 'b', service_account: 'web', identity: 'spiffe://cluster.local/ns/shop/sa/web' },
    { ip: 'fd00::9', namespace: 'shop', pod: 'b', service_account: 'web', identity: 'spiffe://cluster.local/ns/shop/sa/web' },
  ]);
  t.equal(content.trust_domain, 'cluster.local');
  t.equal(skipped.length, 1);
  t.equal(skipped[0].pod, 'Not_A_Namespace/bad');
});

void t.test('services: one per VIP, headless left out, named target ports resolved from endpoints', async (t) => {
  const { content } = buildMembership(
    {
      pods: [],
      services: [
        {
          name: 'api',
          namespace: 'shop',
          vips: ['10.96.0.5', 'fd00:96::5'],
          ports: [
            { port: 80, targetPort: 'http', name: 'web' },
            { port: 443, name: 'tls' },
            { port: 53, targetPort: 5353, protocol: 'udp', name: 'dns' },
          ],
          endpoints: [
            { ip: '10.244.0.9', port: 8080, portName: 'web' },
            { ip: '10.244.0.9', port: 8080, portName: 'web' },
            { ip: '10.244.0.8', port: 8080, portName: 'web' },
          ],
        },
        { name: 'headless', namespace: 'shop', vips: [], ports: [{ port: 80 }], endpoints: [{ ip: '10.244.0.9', port: 80 }] },
      ],
    },
    TD,
  );
  t.equal(content.services.length, 2, 'two VIPs, no headless');
  t.same(content.services.map((s) => s.vip), ['10.96.0.5', 'fd00:96::5']);
  t.same(content.services[0].ports, [
    { port: 53, target_port: 5353, protocol: 'UDP', name: 'dns' },
    { port: 80, target_port: 8080, protocol: 'TCP', name: 'web' },
    { port: 443, target_port: 443, protocol: 'TCP', name: 'tls' },
  ]);
  t.same(content.services[0].endpoints, [{ ip: '10.244.0.8', port: 8080 }, { ip: '10.244.0.9', port: 8080 }], 'deduplicated and sorted');
});

void t.test('the build does not depend on input order', async (t) => {
  const input: MembershipInput = {
    pods: [pod({ name: 'a', ips: ['10.0.0.2'] }), pod({ name: 'b', ips: ['10.0.0.1'] })],
    services: [
      { name: 'y', namespace: 'n', vips: ['10.96.0.2'], ports: [{ port: 2 }, { port: 1 }], endpoints: [{ ip: '10.0.0.2', port: 2 }, { ip: '10.0.0.1', port: 1 }] },
      { name: 'x', namespace: 'n', vips: ['10.96.0.1'], ports: [{ port: 1 }], endpoints: [] },
    ],
  };
  const reversed: MembershipInput = {
    pods: [...input.pods].reverse(),
    services: [...input.services].reverse().map((s) => ({ ...s, ports: [...s.ports].reverse(), endpoints: [...s.endpoints].reverse() })),
  };
  t.same(JSON.stringify(buildMembership(reversed, TD).content), JSON.stringify(buildMembership(input, TD).content));
});

function fixtureIndex(): InventoryIndex {
  const index = new InventoryIndex();
  for (const resource of ['pods', 'services', 'endpointslices'] as InventoryResource[]) {
    for (const item of loadList(resource).items as Json[]) index.apply(resource, trimObject(resource, item), LISTED_AT);
  }
  return index;
}

void t.test('from the cluster inventory: annotation kept through trimming, VIPs resolved through EndpointSlices', async (t) => {
  const raw = loadList('pods').items.find((p: Json) => p.metadata.name === 'payment-5c8d7f9b4-abcde');
  raw.metadata.annotations = { 'meshtap.io/status': '{}', 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"blob"}' };
  t.same((trimObject('pods', raw) as Json).metadata.annotations, { 'meshtap.io/status': '{}' }, 'only meshtap.io/status survives trimming');

  const index = fixtureIndex();
  const before = index.changeCount;
  const input = membershipInputFromIndex(index);
  const frontend = input.pods.find((p) => p.name.startsWith('frontend'));
  t.equal(frontend?.injected, true, 'the fixture frontend pod carries meshtap.io/status');
  t.equal(input.pods.find((p) => p.name.startsWith('payment'))?.injected, false);
  const { content } = buildMembership(input, TD);
  t.same(content.workloads.map((w) => `${w.ip} ${w.identity}`), ['10.244.1.5 spiffe://cluster.local/ns/shop/sa/frontend']);
  const payment = content.services.find((s) => s.name === 'payment');
  t.same(payment?.ports, [{ port: 8080, target_port: 8443, protocol: 'TCP', name: 'http' }], 'named targetPort "http" resolved through the slice');
  t.same(payment?.endpoints, [{ ip: '10.244.2.7', port: 8443 }]);
  t.notOk(content.services.some((s) => s.name === 'redis'), 'headless redis has no VIP');

  const table = buildMembershipTable({ version: 1, generated_unix_ms: 0, ...content });
  t.match(table.lookup('10.96.0.10', 80), { meshed: true, identities: ['spiffe://cluster.local/ns/shop/sa/frontend'] }, 'frontend VIP → meshed');
  t.match(table.lookup('10.96.0.20', 8080), { meshed: false, reason: 'service-not-meshed' }, 'payment has no sidecar');

  // Injecting payment (a new pod object with the annotation) changes the answer.
  raw.metadata.resourceVersion = '2';
  index.apply('pods', trimObject('pods', raw), LISTED_AT + 1n);
  t.ok(index.changeCount > before, 'the change counter moved');
  const after = buildMembership(membershipInputFromIndex(index), TD).content;
  t.equal(after.workloads.length, 2);
});

void t.test('the cluster source waits for the first sync, then fires on index changes', async (t) => {
  const index = fixtureIndex();
  let synced = false;
  const inventory = {
    index,
    stats: () => ({ objects: index.counts(), addresses: 0, tombstones: 0, resources: { pods: { synced, restarts: 0 }, services: { synced, restarts: 0 }, endpointslices: { synced, restarts: 0 } } }),
  };
  const source = createClusterSource({ inventory, pollMs: 10 });
  let fired = 0;
  source.onChange(() => fired++);
  await source.start();
  t.teardown(() => source.stop());
  t.equal(source.read(), undefined, 'nothing before the informers synced');
  synced = true;
  await new Promise((r) => setTimeout(r, 40));
  t.equal(fired, 1, 'fired once synced');
  t.ok(source.read()?.pods.length);
  await new Promise((r) => setTimeout(r, 40));
  t.equal(fired, 1, 'no change, no signal');
  index.apply('namespaces', { metadata: { name: 'x' } }, LISTED_AT);
  await new Promise((r) => setTimeout(r, 40));
  t.equal(fired, 2, 'any index change signals');
});

function manualSource(initial?: MembershipInput): MembershipSource & { set(input: MembershipInput | undefined): void } {
  let state = initial;
  const listeners = createListeners();
  return {
    kind: 'test',
    async start() {},
    async stop() {},
    read: () => state,
    onChange: (fn) => listeners.add(fn),
    set(input) {
      state = input;
      listeners.fire();
    },
  };
}

void t.test('the hub debounces, numbers versions monotonically and skips equal builds', async (t) => {
  const source = manualSource();
  let now = 1_000;
  const hub = createMembershipHub({ source, trustDomain: 'cluster.local', debounceMs: 30, maxDelayMs: 100, clock: () => now });
  t.teardown(() => hub.close());
  const seen: PublishedSnapshot[] = [];
  hub.subscribe((p) => seen.push(p));
  await new Promise((r) => setTimeout(r, 60));
  t.equal(hub.current(), undefined, 'no snapshot while the source has nothing');

  const base: MembershipInput = { pods: [pod()], services: [] };
  source.set(base);
  source.set({ pods: [pod(), pod({ name: 'web-2', ips: ['10.244.0.6'] })], services: [] });
  await new Promise((r) => setTimeout(r, 80));
  t.equal(seen.length, 1, 'two quick changes, one snapshot');
  t.equal(seen[0].snapshot.version, 1_000, 'the first version is the clock');
  t.equal(seen[0].snapshot.workloads.length, 2);
  t.same(decodeMembershipSnapshot(seen[0].bytes).workloads.map((w) => w.pod), ['web-1', 'web-2'], 'encoded once, decodes to the same');

  source.set({ pods: [pod({ name: 'web-2', ips: ['10.244.0.6'] }), pod()], services: [] });
  await new Promise((r) => setTimeout(r, 80));
  t.equal(seen.length, 1, 'the same membership in another order publishes nothing');

  source.set(base);
  await new Promise((r) => setTimeout(r, 80));
  t.equal(seen.length, 2);
  t.equal(seen[1].snapshot.version, 1_001, 'previous + 1 when the clock has not moved past it');
  now = 5_000;
  source.set({ pods: [], services: [] });
  await new Promise((r) => setTimeout(r, 80));
  t.equal(seen[2].snapshot.version, 5_000, 'the clock when it is ahead');
  t.equal(hub.current()?.snapshot.version, 5_000);
});

void t.test('the hub publishes within maxDelayMs even while changes keep coming', async (t) => {
  const source = manualSource({ pods: [], services: [] });
  const hub = createMembershipHub({ source, trustDomain: 'cluster.local', debounceMs: 40, maxDelayMs: 120 });
  t.teardown(() => hub.close());
  await new Promise((r) => setTimeout(r, 60));
  const first = hub.current()?.snapshot.version;
  t.ok(first, 'initial snapshot');
  const started = Date.now();
  let i = 0;
  const churn = setInterval(() => source.set({ pods: [pod({ name: `p${i++}` })], services: [] }), 10);
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (hub.current()?.snapshot.version !== first || Date.now() - started > 1000) {
        clearInterval(check);
        resolve();
      }
    }, 5);
  });
  clearInterval(churn);
  t.not(hub.current()?.snapshot.version, first, 'published despite the churn');
  // Without the ceiling nothing would be published until the churn stops (after 1 s here).
  t.ok(Date.now() - started < 900, `within the ceiling, while the churn goes on (${Date.now() - started} ms)`);
});
