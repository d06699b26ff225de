import { KubeConfig } from '@kubernetes/client-node';
import t, { type Test } from 'tap';
import { createKubeInventory } from '../../lib/kube/inventory/kube.ts';
import {
  TRUST_BUNDLE_CONFIGMAP,
  createKubeConfigMapApi,
  createTrustBundlePublisher,
  namespaceViewFromInventory,
  planTrustBundleConfigMap,
} from '../../controller/trust-bundle-publisher.ts';
import { FakeKubeApi } from './fake-kube-api.ts';
import { until } from './helpers.ts';

const BUNDLE_1 = '-----BEGIN CERTIFICATE-----\nMIIBroot1\n-----END CERTIFICATE-----\n';
const BUNDLE_2 = `${BUNDLE_1}-----BEGIN CERTIFICATE-----\nMIIBroot2\n-----END CERTIFICATE-----\n`;

function kubeConfigFor(api: FakeKubeApi): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: api.url, skipTLSVerify: true }],
    users: [{ name: 'controller', token: 'test-token' }],
    contexts: [{ name: 'local', cluster: 'local', user: 'controller' }],
    currentContext: 'local',
  });
  return kc;
}

async function setup(t: Test, seed: (api: FakeKubeApi) => void) {
  const api = new FakeKubeApi();
  seed(api);
  await api.start();
  const kc = kubeConfigFor(api);
  const inventory = createKubeInventory({ resources: ['namespaces'], restartInitialMs: 20, restartMaxMs: 100 }, { kubeConfig: kc });
  const view = namespaceViewFromInventory(inventory, 20);
  const publisher = createTrustBundlePublisher({ api: createKubeConfigMapApi(kc), namespaces: view, bundle: BUNDLE_1, retryInitialMs: 20, retryMaxMs: 50 });
  t.teardown(async () => {
    await publisher.stop();
    view.stop();
    await inventory.stop();
    await api.close();
  });
  await inventory.start();
  publisher.start();
  return { api, publisher };
}

const data = (api: FakeKubeApi, ns: string) => api.configMaps.get(`${ns}/${TRUST_BUNDLE_CONFIGMAP}`)?.data;

void t.test('the plan: create when absent, nothing when equal, keep other keys when updating', async (t) => {
  t.match(planTrustBundleConfigMap('shop', undefined, 'B'), { action: 'created', body: { metadata: { name: 'meshtap-trust-bundle', namespace: 'shop' }, data: { 'ca.crt': 'B' } } });
  t.same(planTrustBundleConfigMap('shop', { data: { 'ca.crt': 'B' } }, 'B'), { action: 'unchanged' });
  const plan = planTrustBundleConfigMap('shop', { metadata: { name: 'meshtap-trust-bundle', resourceVersion: '7', labels: { team: 'x' } }, data: { 'ca.crt': 'A', extra: 'kept' } }, 'B');
  t.equal(plan.action, 'updated');
  t.same(plan.body?.data, { 'ca.crt': 'B', extra: 'kept' });
  t.equal(plan.body?.metadata?.resourceVersion, '7', 'the update is guarded by the version read');
  t.same(plan.body?.metadata?.labels, { team: 'x' });
});

void t.test('publishes in labelled namespaces only, follows labels and bundle changes, repairs stale copies', async (t) => {
  const { api, publisher } = await setup(t, (api) => {
    api.namespace('shop', { 'meshtap.io/inject': 'enabled' });
    api.namespace('billing', { 'meshtap.io/inject': 'enabled' });
    api.namespace('default');
    api.namespace('legacy', { 'meshtap.io/inject': 'disabled' });
    api.seedConfigMap('billing', TRUST_BUNDLE_CONFIGMAP, { 'ca.crt': 'an old root', 'note.txt': 'kept' }, { team: 'billing' });
  });
  await until(() => publisher.results().size === 2, 'both labelled namespaces');
  await publisher.idle();
  t.same(data(api, 'shop'), { 'ca.crt': BUNDLE_1 }, 'created in shop');
  t.same(api.configMaps.get(`shop/${TRUST_BUNDLE_CONFIGMAP}`)?.metadata.labels, { 'app.kubernetes.io/managed-by': 'meshtap-controller', 'app.kubernetes.io/part-of': 'meshtap' });
  t.same(data(api, 'billing'), { 'ca.crt': BUNDLE_1, 'note.txt': 'kept' }, 'a stale copy updated, other keys kept');
  t.same(api.configMaps.get(`billing/${TRUST_BUNDLE_CONFIGMAP}`)?.metadata.labels, { team: 'billing' });
  t.same(Object.fromEntries(publisher.results()), { shop: 'created', billing: 'updated' });
  t.notOk(data(api, 'default'), 'unlabelled namespace left alone');
  t.notOk(data(api, 'legacy'), 'namespace labelled otherwise left alone');
  t.notOk(api.calls.some((c) => c.path.includes('/namespaces/default/') || c.path.includes('/namespaces/legacy/')), 'not even read');

  // A namespace gets the label later: the watch brings it in.
  api.namespace('default', { 'meshtap.io/inject': 'enabled' });
  await until(() => data(api, 'default') !== undefined, 'the newly labelled namespace');
  t.same(data(api, 'default'), { 'ca.crt': BUNDLE_1 });

  // A brand-new labelled namespace, whose first create hits a transient error: retried.
  api.failNext('POST', 500);
  api.namespace('orders', { 'meshtap.io/inject': 'enabled' });
  await until(() => data(api, 'orders') !== undefined, 'the retried create');
  t.ok(api.calls.some((c) => c.method === 'POST' && c.path === '/api/v1/namespaces/orders/configmaps' && c.status === 500), 'the failure happened');

  // Root rotation: every labelled namespace gets the new bundle; a conflicting write is re-read and retried.
  await publisher.idle();
  const writesBefore = api.calls.filter((c) => c.method !== 'GET').length;
  api.failNext('PUT', 409);
  publisher.setBundle(BUNDLE_2);
  await until(() => ['shop', 'billing', 'default', 'orders'].every((ns) => data(api, ns)?.['ca.crt'] === BUNDLE_2), 'the new bundle everywhere');
  await publisher.idle();
  t.ok(api.calls.some((c) => c.method === 'PUT' && c.status === 409), 'a conflict was answered');
  t.notOk(data(api, 'legacy'));

  // Nothing differs: namespace events cause no writes.
  const writes = api.calls.filter((c) => c.method !== 'GET').length;
  t.ok(writes > writesBefore);
  api.namespace('shop', { 'meshtap.io/inject': 'enabled', team: 'shop' });
  await new Promise((r) => setTimeout(r, 150));
  await publisher.idle();
  t.equal(api.calls.filter((c) => c.method !== 'GET').length, writes, 'no write when nothing differs');
});
