import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import t from 'tap';
import { isMeshtapError } from '../../../../lib/errors.ts';
import { resolveKubeInventoryOptions } from '../../../../lib/kube/inventory/config.ts';
import { COL_ERR_INVENTORY_CONFIG, COL_ERR_INVENTORY_KUBECONFIG } from '../../../../lib/kube/inventory/errors.ts';
import { INVENTORY_RESOURCES, type InventoryResource } from '../../../../lib/kube/inventory/inventory.ts';
import { createKubeInventory, loadKubeConfig, type KubeInventory } from '../../../../lib/kube/inventory/kube.ts';
import type { KubeInventoryOptions } from '../../../../lib/kube/inventory/config.ts';
import { FakeApiServer } from './fake-apiserver.ts';
import { PATHS, fixtureItem, loadList, ns, waitFor } from './fixtures.ts';
import { createSinkLogger } from '../../../../lib/log.ts';

type Json = Record<string, any>;

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function kubeConfigFor(server: FakeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'reader', token: 'test-token' }],
    contexts: [{ name: 'local', cluster: 'local', user: 'reader' }],
    currentContext: 'local',
  });
  return kc;
}

interface Setup {
  server: FakeApiServer;
  inventory: KubeInventory;
  registry: Registry;
  metric(name: string, resource: InventoryResource): Promise<number | undefined>;
}

async function setup(t: { teardown: (fn: () => unknown) => void }, options: KubeInventoryOptions = {}, before?: (server: FakeApiServer) => void): Promise<Setup> {
  const server = new FakeApiServer();
  for (const resource of INVENTORY_RESOURCES) server.seed(PATHS[resource], loadList(resource));
  before?.(server);
  await server.start();
  const registry = new Registry();
  const inventory = createKubeInventory({ restartInitialMs: 50, restartMaxMs: 400, listPageSize: 4, ...options }, { kubeConfig: kubeConfigFor(server), registry, random: () => 0 });
  t.teardown(async () => {
    await inventory.stop();
    await server.close();
  });
  const metric = async (name: string, resource: InventoryResource) => {
    const m = await registry.getSingleMetric(name)?.get();
    return m?.values.find((v) => v.labels.resource === resource)?.value;
  };
  return { server, inventory, registry, metric };
}

void t.test('lists every resource page by page, then watches from the list’s version', async (t) => {
  const { server, inventory, metric } = await setup(t);
  await inventory.start();
  t.ok(await inventory.waitForSync(1000), 'synced after start');
  const stats = inventory.stats();
  for (const resource of INVENTORY_RESOURCES) t.equal(stats.resources?.[resource]?.synced, true, `${resource} synced`);
  t.same(stats.objects, { pods: 9, services: 5, endpointslices: 5, replicasets: 3, jobs: 2, nodes: 2, namespaces: 4 });

  const podLists = server.lists(PATHS.pods);
  t.equal(podLists.length, 3, 'nine pods in pages of four');
  t.equal(podLists[0].params.limit, '4');
  t.notOk(podLists[0].params.continue, 'the first page starts the snapshot');
  t.ok(podLists[1].params.continue && podLists[2].params.continue, 'the next pages continue it');

  for (const resource of INVENTORY_RESOURCES) {
    const watches = server.watches(PATHS[resource]);
    t.equal(watches.length, 1, `one watch of ${resource}`);
    t.equal(watches[0]?.params.resourceVersion, '1000', `${resource} watched from the list’s resourceVersion`);
    t.equal(watches[0]?.params.allowWatchBookmarks, 'true', 'bookmarks asked for');
  }

  const at = ns('2025-05-01T12:00:00Z');
  const frontend = inventory.lookupIp('10.244.1.5', at);
  t.equal(frontend?.workload, 'frontend');
  t.equal(frontend?.workloadKind, 'Deployment', 'through the listed ReplicaSet');
  t.equal(inventory.lookupIp('10.244.2.20', ns('2025-05-01T10:00:20Z'))?.workloadKind, 'CronJob', 'through the listed Job');
  t.equal(inventory.lookupService('10.96.0.20', 8080, at)?.service.name, 'payment');
  t.equal(inventory.lookupService('10.244.1.12', 9000, at)?.service.name, 'legacy');
  t.same(inventory.servicesForPod(frontend!), ['frontend']);
  t.equal(inventory.lookupNode('192.168.1.11')?.name, 'node-b');
  t.equal(inventory.namespaceLabels('shop')?.['meshtap.io/inject'], 'enabled');

  t.equal(await metric('meshtap_inventory_objects', 'pods'), 9);
  t.equal(await metric('meshtap_inventory_objects', 'endpointslices'), 5);
  t.equal(await metric('meshtap_inventory_synced', 'jobs'), 1);
  t.equal(await metric('meshtap_inventory_restarts_total', 'pods'), 0);
  const last = await metric('meshtap_inventory_last_event_seconds', 'nodes');
  t.ok(last !== undefined && Math.abs(last - Date.now() / 1000) < 10, 'last event is recent');
});

void t.test('watch events: added, modified, deleted, bookmarks', async (t) => {
  const { server, inventory, metric } = await setup(t);
  await inventory.start();
  const before = nowNs();

  // ADDED: a new pod of an existing Deployment.
  const added = fixtureItem('pods', 'frontend-7d9f8b6c5d-x2x4q');
  added.metadata.name = 'frontend-7d9f8b6c5d-zz9yy';
  added.metadata.uid = 'added-pod-uid';
  added.status.podIP = '10.244.1.77';
  added.status.podIPs = [{ ip: '10.244.1.77' }];
  added.status.startTime = new Date().toISOString();
  server.add(PATHS.pods, added);
  await waitFor('the added pod', () => inventory.lookupIp('10.244.1.77', nowNs()) !== undefined);
  t.equal(inventory.lookupIp('10.244.1.77', nowNs())?.workload, 'frontend');
  t.equal(inventory.stats().objects.pods, 10);

  // MODIFIED: the payment pod is relabelled out of its service and its slice drops it.
  const payment = fixtureItem('pods', 'payment-5c8d7f9b4-abcde');
  payment.metadata.labels = { 'app.kubernetes.io/name': 'payment-debug' };
  server.modify(PATHS.pods, payment);
  const slice = fixtureItem('endpointslices', 'payment-h7f9d');
  slice.endpoints = [];
  server.modify(PATHS.endpointslices, slice);
  await waitFor('the relabelled pod', () => inventory.lookupIp('10.244.2.7', nowNs())?.labels['app.kubernetes.io/name'] === 'payment-debug');
  await waitFor('the emptied slice', () => inventory.servicesForPod(inventory.lookupIp('10.244.2.7', nowNs())!).length === 0);
  t.equal(inventory.lookupService('10.244.2.7', 8443, nowNs()), undefined, 'no longer a backend');

  // DELETED: gone now, still known for records from before.
  server.remove(PATHS.pods, 'default', 'debug');
  await waitFor('the deleted pod', () => inventory.lookupIp('10.244.1.12', nowNs() + 10n * 1_000_000_000n) === undefined);
  const past = inventory.lookupIp('10.244.1.12', before);
  t.equal(past?.name, 'debug', 'a record from before the delete still names it');
  t.equal(past?.deleted, true);
  t.equal(inventory.stats().objects.pods, 9);

  // A service created while watched.
  server.add(PATHS.services, { metadata: { name: 'orders', namespace: 'shop', uid: 'svc-orders', creationTimestamp: new Date().toISOString() }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.50', clusterIPs: ['10.96.0.50'], selector: { app: 'orders' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } });
  await waitFor('the new service', () => inventory.lookupService('10.96.0.50', 80, nowNs())?.service.name === 'orders');

  // BOOKMARK: no object changes, but the resource is known to be fresh, and the next watch resumes from it.
  const lastBefore = (await metric('meshtap_inventory_last_event_seconds', 'namespaces'))!;
  await new Promise((r) => setTimeout(r, 30));
  const bookmarkRv = server.bookmark(PATHS.namespaces);
  await waitFor('the bookmark', async () => (await metric('meshtap_inventory_last_event_seconds', 'namespaces'))! > lastBefore);
  t.equal(inventory.stats().objects.namespaces, 4, 'a bookmark changes nothing');
  server.dropWatches(PATHS.namespaces);
  await waitFor('the namespaces watch again', () => server.watches(PATHS.namespaces).length === 2 && server.watcherCount(PATHS.namespaces) === 1);
  t.equal(server.watches(PATHS.namespaces)[1].params.resourceVersion, String(bookmarkRv), 'resumed from the bookmark’s version');
  t.equal(server.lists(PATHS.namespaces).length, 1, 'without relisting');
});

void t.test('410 Gone: the informer relists and the index matches the server again', async (t) => {
  const { server, inventory, metric } = await setup(t);
  await inventory.start();
  const before = nowNs();
  const listsBefore = server.lists(PATHS.pods).length;

  // While the watch history is lost, redis-0 is deleted and a new pod appears: no event says so.
  const fresh = fixtureItem('pods', 'debug');
  fresh.metadata.name = 'debug-2';
  fresh.metadata.uid = 'debug-2-uid';
  fresh.status.podIP = '10.244.1.99';
  fresh.status.podIPs = [{ ip: '10.244.1.99' }];
  fresh.status.startTime = new Date().toISOString();
  server.silently(PATHS.pods, (items) => {
    items.delete('shop/redis-0');
    items.set('default/debug-2', fresh);
  });
  server.compact(PATHS.pods);

  await waitFor('the relist', () => server.lists(PATHS.pods).length > listsBefore);
  await waitFor('the new pod', () => inventory.lookupIp('10.244.1.99', nowNs()) !== undefined);
  t.equal(inventory.lookupIp('10.244.1.99', nowNs())?.name, 'debug-2');
  t.equal(inventory.lookupPod('shop', 'redis-0', nowNs() + 10n * 1_000_000_000n)?.deleted, true, 'the vanished pod is deleted');
  t.equal(inventory.lookupIp('10.244.1.9', nowNs() + 10n * 1_000_000_000n), undefined, 'and no longer holds its IP');
  t.equal(inventory.lookupIp('10.244.1.9', before)?.name, 'redis-0', 'but still answers for earlier records');
  t.equal(inventory.stats().objects.pods, 9);
  await waitFor('the watch after the relist', () => server.watcherCount(PATHS.pods) === 1);
  const watches = server.watches(PATHS.pods);
  t.equal(watches.at(-1)?.params.resourceVersion, String(server.resourceVersion), 'watching from the relist’s version');
  t.equal(await metric('meshtap_inventory_restarts_total', 'pods'), 0, '410 is handled by the informer, not a failure');
});

void t.test('a dropped watch connection: the informer comes back and misses nothing', async (t) => {
  const { server, inventory, metric } = await setup(t);
  await inventory.start();
  const listsBefore = server.lists(PATHS.services).length;
  server.dropWatches(PATHS.services);
  // Changes right after the drop are replayed from the event log when the informer watches again.
  const legacy = fixtureItem('services', 'legacy');
  server.remove(PATHS.services, 'default', 'legacy');
  server.add(PATHS.services, { ...legacy, metadata: { ...legacy.metadata, name: 'legacy-v2', uid: 'legacy-v2-uid', creationTimestamp: new Date().toISOString() }, spec: { ...legacy.spec, clusterIP: '10.96.0.41', clusterIPs: ['10.96.0.41'] } });

  await waitFor('the new service', () => inventory.lookupService('10.96.0.41', 9000, nowNs())?.service.name === 'legacy-v2');
  await waitFor('the old service gone', () => inventory.lookupService('10.96.0.40', 9000, nowNs() + 10n * 1_000_000_000n) === undefined);
  t.equal(inventory.stats().objects.services, 5);
  t.ok(server.watches(PATHS.services).length >= 2, 'watched again');
  t.equal(server.watches(PATHS.services)[1].params.resourceVersion, '1000', 'from where it was');
  t.equal(server.lists(PATHS.services).length, listsBefore, 'no relist was needed');
  t.equal(await metric('meshtap_inventory_restarts_total', 'services'), 1, 'the broken connection counted as a restart');
  t.equal(inventory.stats().resources?.services?.restarts, 1);
});

void t.test('500 on list: restarts with growing backoff until the list succeeds', async (t) => {
  const { server, inventory, metric } = await setup(t, { restartInitialMs: 80, restartMaxMs: 1000 }, (s) => s.failLists(PATHS.services, 3));
  await inventory.start();
  t.equal(inventory.stats().resources?.services?.synced, false, 'start() returned after the first, failed attempt');
  t.equal(inventory.stats().resources?.pods?.synced, true, 'the other resources do not wait');
  t.equal(await metric('meshtap_inventory_synced', 'services'), 0);
  t.ok(await inventory.waitForSync(5000), 'synced eventually');
  const lists = server.lists(PATHS.services);
  t.same(lists.map((l) => l.status).slice(0, 4), [500, 500, 500, 200]);
  const gaps = [lists[1].at - lists[0].at, lists[2].at - lists[1].at, lists[3].at - lists[2].at];
  t.ok(gaps[0] >= 70, `first retry waits the initial backoff (${gaps[0]} ms)`);
  t.ok(gaps[1] >= 150, `then twice that (${gaps[1]} ms)`);
  t.ok(gaps[2] >= 300, `then twice again (${gaps[2]} ms)`);
  t.equal(await metric('meshtap_inventory_restarts_total', 'services'), 3);
  t.equal(await metric('meshtap_inventory_synced', 'services'), 1);
  t.equal(inventory.lookupService('10.96.0.10', 80, nowNs())?.service.name, 'frontend');
  await waitFor('the services watch', () => server.watcherCount(PATHS.services) === 1);
});

void t.test('an API server that is down at start, then comes up', async (t) => {
  const server = new FakeApiServer();
  for (const resource of INVENTORY_RESOURCES) server.seed(PATHS[resource], loadList(resource));
  await server.start();
  const kc = kubeConfigFor(server);
  await server.close();
  const inventory = createKubeInventory({ resources: ['pods'], restartInitialMs: 20, restartMaxMs: 50 }, { kubeConfig: kc });
  t.teardown(() => inventory.stop());
  await inventory.start();
  t.equal(inventory.stats().resources?.pods?.synced, false);
  await waitFor('a few restarts', () => (inventory.stats().resources?.pods?.restarts ?? 0) >= 2);
  t.equal(await inventory.waitForSync(50), false, 'waitForSync gives up after its timeout');
});

void t.test('stop: watches closed, no restarts, no requests afterwards', async (t) => {
  const { server, inventory } = await setup(t, { resources: ['pods', 'services'] });
  await inventory.start();
  t.equal(server.requests.filter((r) => r.path === PATHS.nodes).length, 0, 'unlisted resources are not watched');
  await inventory.stop();
  await waitFor('watches closed', () => server.watcherCount(PATHS.pods) === 0 && server.watcherCount(PATHS.services) === 0);
  const seen = server.requests.length;
  server.failLists(PATHS.pods, 1);
  server.compact(PATHS.pods);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(server.requests.length, seen, 'nothing contacted after stop');
  t.equal(inventory.stats().resources?.pods?.restarts, 0);
  await inventory.stop();
  t.pass('stop twice is fine');
});

void t.test('configuration', async (t) => {
  t.throws(() => createKubeInventory({ restartInitialMs: -1 }), { code: COL_ERR_INVENTORY_CONFIG, message: /restartInitialMs/ });
  t.throws(() => resolveKubeInventoryOptions({ context: 'x' }), { code: COL_ERR_INVENTORY_CONFIG, message: /context needs kubeconfig/ });
  t.throws(() => resolveKubeInventoryOptions({ resources: ['pods', 'secrets' as InventoryResource] }), { code: COL_ERR_INVENTORY_CONFIG, message: /resources/ });
  t.throws(() => resolveKubeInventoryOptions({ unknownKey: 1 } as KubeInventoryOptions), { code: COL_ERR_INVENTORY_CONFIG, message: /unknownKey/ });
  const config = resolveKubeInventoryOptions({});
  t.ok(Object.isFrozen(config));
  t.same(config.resources, INVENTORY_RESOURCES);
  t.throws(() => loadKubeConfig(config, {}), { code: COL_ERR_INVENTORY_KUBECONFIG, message: /not running in a cluster/ });
  t.throws(() => loadKubeConfig(resolveKubeInventoryOptions({ kubeconfig: join(t.testdirName, 'missing') }), {}), { code: COL_ERR_INVENTORY_KUBECONFIG });
  const err = (() => {
    try {
      loadKubeConfig(config, {});
    } catch (e) {
      return e;
    }
  })();
  t.ok(isMeshtapError(err, COL_ERR_INVENTORY_KUBECONFIG), 'a MeshtapError with its code');
});

void t.test('a kubeconfig file pointing at the server', async (t) => {
  const server = new FakeApiServer();
  for (const resource of INVENTORY_RESOURCES) server.seed(PATHS[resource], loadList(resource));
  await server.start();
  const dir = t.testdir();
  const file = join(dir, 'config');
  const doc: Json = {
    apiVersion: 'v1',
    kind: 'Config',
    // The client refuses plain HTTP unless TLS verification is explicitly off.
    clusters: [{ name: 'local', cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'reader', user: { token: 'file-token' } }],
    contexts: [
      { name: 'other', context: { cluster: 'local', user: 'reader', namespace: 'x' } },
      { name: 'local', context: { cluster: 'local', user: 'reader' } },
    ],
    'current-context': 'other',
  };
  writeFileSync(file, JSON.stringify(doc));
  const inventory = createKubeInventory({ kubeconfig: file, context: 'local', resources: ['nodes'] }, { log: createSinkLogger((level, msg, fields) => t.comment(level, msg, JSON.stringify(fields))) });
  t.teardown(async () => {
    await inventory.stop();
    await server.close();
  });
  await inventory.start();
  t.equal(inventory.lookupNode('192.168.1.10')?.name, 'node-a');
  t.equal(server.lists(PATHS.nodes)[0]?.params.limit, '500', 'default page size');
});
