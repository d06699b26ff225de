/** Strict peers travel from the injector's status annotation, through the inventory, to the membership feed. */
import t from 'tap';
import { buildMembership } from '../../controller/membership/build.ts';
import { injectedStrict } from '../../lib/kube/inventory/object-views.ts';
import { createInventoryIndex } from '../../lib/kube/inventory/index.ts';

void t.test('the status annotation says whether the sidecar is strict', async (t) => {
  t.ok(injectedStrict('{"version":"0.1.0","mtlsMode":"strict"}'));
  t.notOk(injectedStrict('{"version":"0.1.0","mtlsMode":"permissive"}'));
  t.notOk(injectedStrict('{"version":"0.1.0"}'), 'an older injector: not strict');
  t.notOk(injectedStrict('not json'));
  t.notOk(injectedStrict(undefined));
});

void t.test('the inventory marks a strict pod, and the feed lists it strict', async (t) => {
  const index = createInventoryIndex();
  const pod = (name: string, ip: string, mode: string) => ({
    metadata: { name, namespace: 'bank', uid: `uid-${name}`, annotations: { 'meshtap.io/status': JSON.stringify({ version: '0.1.0', mtlsMode: mode }) } },
    spec: { serviceAccountName: 'ledger', containers: [{ name: 'app' }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  });
  index.apply('pods', pod('ledger-1', '10.244.0.8', 'strict'), 1n);
  index.apply('pods', pod('ledger-2', '10.244.0.9', 'permissive'), 1n);
  t.equal(index.lookupIp('10.244.0.8', 2n)?.strictMtls, true);
  t.equal(index.lookupIp('10.244.0.9', 2n)?.strictMtls, undefined);
  const built = buildMembership(
    {
      pods: [
        { name: 'ledger-1', namespace: 'bank', ips: ['10.244.0.8'], serviceAccount: 'ledger', injected: true, strict: true },
        { name: 'ledger-2', namespace: 'bank', ips: ['10.244.0.9'], serviceAccount: 'ledger', injected: true },
      ],
      services: [],
    },
    { trustDomain: 'cluster.local' },
  );
  const byPod = Object.fromEntries(built.content.workloads.map((w) => [w.pod, w.strict === true]));
  t.same(byPod, { 'ledger-1': true, 'ledger-2': false });
});
