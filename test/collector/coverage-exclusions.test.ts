/**
 * Coverage's exclusions come from the inventory: an injected pod's `meshtap.io/exclude-*`
 * annotations survive the inventory's trimming, a workload's pods are merged, and a workload
 * with no injected pod known stays "unknown".
 */
import t from 'tap';
import { exclusionsFromInventory } from '../../collector/coverage-exclusions.ts';
import { createInventoryIndex } from '../../lib/kube/inventory/index.ts';
import type { KubePod } from '../../lib/kube/inventory/kube-objects.ts';
import { captureExclusions } from '../../lib/kube/inventory/capture-exclusions.ts';

function pod(name: string, uid: string, ip: string, annotations: Record<string, string>): KubePod {
  return {
    metadata: {
      name,
      namespace: 'shop',
      uid,
      resourceVersion: '1',
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { app: 'payment' },
      annotations: { 'unrelated.example/big': 'x'.repeat(1000), ...annotations },
    },
    spec: { nodeName: 'node-a', containers: [{ name: 'app' }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], startTime: '2026-01-01T00:00:00Z' },
  } as unknown as KubePod;
}

void t.test('exclusions of injected pods, merged per workload', async (t) => {
  const index = createInventoryIndex();
  const now = 2_000_000_000_000_000_000n;
  const injected = { 'meshtap.io/status': '{"version":"1"}' };
  index.applyPod(pod('payment', 'u1', '10.244.0.7', { ...injected, 'meshtap.io/exclude-inbound-ports': '9090, 9091', 'meshtap.io/exclude-outbound-cidrs': '10.0.0.0/8' }), now);
  index.applyPod(pod('payment-2', 'u2', '10.244.0.8', { ...injected, 'meshtap.io/exclude-outbound-ports': '5432,bogus' }), now);
  index.applyPod(pod('legacy', 'u3', '10.244.0.9', { 'meshtap.io/exclude-inbound-ports': '80' }), now);

  const p = index.lookupIp('10.244.0.7', now);
  t.same(p?.captureExclusions, { inbound_ports: [9090, 9091], outbound_ports: [], outbound_cidrs: ['10.0.0.0/8'] }, 'kept through the trimming');
  t.equal(index.lookupIp('10.244.0.9', now)?.captureExclusions, undefined, 'a pod without a sidecar has none to report');

  const lookup = exclusionsFromInventory(index)!;
  t.same(lookup('shop', 'payment'), { inbound_ports: [9090, 9091], outbound_ports: [], outbound_cidrs: ['10.0.0.0/8'] }, 'the pod named payment (an unowned pod is its own workload)');
  t.same(lookup('shop', 'payment-2'), { inbound_ports: [], outbound_ports: [5432], outbound_cidrs: [] }, 'a bad token is left out');
  t.equal(lookup('shop', 'legacy'), undefined, 'no injected pod: unknown');
  t.equal(lookup('shop', 'nothing'), undefined, 'no pod at all: unknown');
  t.equal(exclusionsFromInventory({}), undefined, 'an inventory that cannot list pods gives no lookup');
});

void t.test('annotation parsing', async (t) => {
  t.same(captureExclusions(undefined), { inbound_ports: [], outbound_ports: [], outbound_cidrs: [] });
  t.same(captureExclusions({ 'meshtap.io/exclude-outbound-cidrs': ' fd00::/8 ,not-a-cidr, 192.168.0.0/16' }).outbound_cidrs, ['fd00::/8', '192.168.0.0/16']);
  t.same(captureExclusions({ 'meshtap.io/exclude-inbound-ports': '0,65536,22' }).inbound_ports, [22]);
});
