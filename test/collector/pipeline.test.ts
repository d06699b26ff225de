/**
 * The whole collector pipeline over real sockets: a sidecar's shipper sends bare IP records over
 * gRPC; the collector names both ends from a file inventory (Kubernetes object JSON), stores
 * them, and exports spans to an OTLP receiver built on the official protos and entries to a
 * Loki push receiver decoding Loki's own proto.
 */
import t from 'tap';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockOtlpServer } from '@elastic/mockotlpserver';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCollector } from '../../collector/collector.ts';
import { createShipper } from '../../sidecar/shipper/create-shipper.ts';
import type { CallRecord } from '../../record/record.ts';
import { startLokiReceiver } from './loki/loki-receiver.ts';
import { waitFor } from './helpers.ts';
import { createSinkLogger } from '../../lib/log.ts';

const T0 = 1_764_000_000_123_456_789n;
const FRONTEND_IP = '10.244.0.21';
const PAYMENT_IP = '10.244.0.22';

function pod(name: string, ip: string, deployment: string, sa: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      labels: { app: deployment, 'pod-template-hash': '5d4f8' },
      annotations: { 'meshtap.io/status': '{"version":"0.1.0"}' },
      creationTimestamp: '2025-11-24T10:00:00Z',
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${deployment}-5d4f8`, uid: `rs-${deployment}`, controller: true }],
    },
    spec: { nodeName: 'lab', serviceAccountName: sa, containers: [{ name: deployment, image: 'demo' }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], startTime: '2025-11-24T10:00:00Z' },
  };
}

function replicaSet(deployment: string): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${deployment}-5d4f8`,
      namespace: 'shop',
      uid: `rs-${deployment}`,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, uid: `dep-${deployment}`, controller: true }],
    },
  };
}

const inventoryList = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', uid: 'ns-shop', labels: { 'meshtap.io/inject': 'enabled' } } },
    pod('frontend-5d4f8-abcde', FRONTEND_IP, 'frontend', 'frontend'),
    pod('payment-5d4f8-fghij', PAYMENT_IP, 'payment', 'payment'),
    replicaSet('frontend'),
    replicaSet('payment'),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'payment', namespace: 'shop', uid: 'svc-payment', creationTimestamp: '2025-11-24T09:00:00Z' },
      spec: { clusterIP: '10.96.0.30', clusterIPs: ['10.96.0.30'], selector: { app: 'payment' }, ports: [{ port: 8080, targetPort: 8080, protocol: 'TCP' }], type: 'ClusterIP' },
    },
  ],
};

function call(id: string, observer: 'outbound' | 'inbound', status: number): CallRecord {
  const body = (s: string) => new TextEncoder().encode(s);
  return {
    id,
    protocol: 'http',
    observer,
    connection_id: 'c0ffee0000000001',
    ordinal: 0,
    start: T0,
    request_end: T0 + 1_000_000n,
    response_start: T0 + 4_000_000n,
    end: T0 + 5_000_000n,
    elapsed_us: 5000,
    src: { ip: FRONTEND_IP, port: 41000 },
    dst: observer === 'outbound' ? { ip: '10.96.0.30', port: 8080 } : { ip: PAYMENT_IP, port: 8080 },
    tls: { mesh: false },
    method: 'POST',
    path: '/charge/12345',
    authority: 'payment.shop:8080',
    status_code: status,
    request: { headers: { 'content-type': 'application/json' }, body: body('{"order":"order-42"}'), body_size: 20, truncated: false, content_type: 'application/json' },
    response: { headers: { 'content-type': 'application/json' }, body: body('{"error":"declined"}'), body_size: 20, truncated: false, content_type: 'application/json' },
    bytes_in: 120,
    bytes_out: 140,
    redacted: [],
    sensitive: [],
  };
}

void t.test('records are named from the inventory, stored, and exported to OTLP and Loki', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshtap-pipeline-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const inventoryFile = join(dir, 'inventory.json');
  await writeFile(inventoryFile, JSON.stringify(inventoryList));

  const spans: any[] = [];
  const otlp = new MockOtlpServer({ logLevel: 'warn', services: ['grpc'], grpcHostname: '127.0.0.1', grpcPort: 0, onTrace: (r: unknown) => spans.push(r) });
  await otlp.start();
  t.teardown(() => otlp.close());
  const loki = await startLokiReceiver();
  t.teardown(() => loki.close());

  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.grpcUrl!.href.replace(/\/$/, ''),
    OTEL_BSP_SCHEDULE_DELAY: '50',
    MESHTAP_LOKI_URL: loki.url,
    MESHTAP_LOKI_BATCH_WAIT_MS: '50',
  };
  const config = resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'sqlite', inventoryFile });
  const collector = await startCollector(config, { env });
  t.teardown(() => collector.close({ force: true }));

  const shipper = createShipper({ collectorAddr: `127.0.0.1:${collector.grpcPort}`, batchLingerMs: 10 });
  t.ok(shipper.offer(call('rec-out', 'outbound', 502)));
  t.ok(shipper.offer(call('rec-in', 'inbound', 502)));
  await shipper.close({ drainMs: 5000 });

  const base = `http://127.0.0.1:${collector.httpPort}`;
  await waitFor('both records stored', async () => ((await (await fetch(`${base}/api/calls?limit=10`)).json()) as { calls: unknown[] }).calls.length === 2);
  const out = ((await (await fetch(`${base}/api/calls/rec-out`)).json()) as { call: any }).call;
  t.match(out.src, { ip: FRONTEND_IP, pod: 'frontend-5d4f8-abcde', namespace: 'shop', workload: 'frontend', workload_kind: 'Deployment', node: 'lab' });
  t.match(out.dst, { ip: '10.96.0.30', service: 'payment', namespace: 'shop' }, 'a service VIP is named as the service');
  const inbound = ((await (await fetch(`${base}/api/calls/rec-in`)).json()) as { call: any }).call;
  t.match(inbound.dst, { pod: 'payment-5d4f8-fghij', workload: 'payment', service: 'payment' });

  const filtered = (await (await fetch(`${base}/api/calls?filter=${encodeURIComponent('src.workload == "frontend" && dst.workload == "payment" && status_code >= 500')}`)).json()) as { calls: any[] };
  t.same(filtered.calls.map((c) => c.id), ['rec-in'], 'filters see the enriched names');

  await waitFor('two spans at the OTLP receiver', () => spans.flatMap((r) => r.resourceSpans ?? []).flatMap((rs: any) => rs.scopeSpans).flatMap((ss: any) => ss.spans).length >= 2);
  const services = spans
    .flatMap((r) => r.resourceSpans)
    .map((rs: any) => rs.resource.attributes.find((a: any) => a.key === 'service.name')?.value.stringValue)
    .sort();
  t.same(services, ['frontend', 'payment'], 'one resource per workload, named after it');

  await waitFor('two Loki entries', () => loki.entries().length >= 2);
  const workloads = loki.entries().map((e) => e.labels.workload).sort();
  t.same(workloads, ['frontend', 'payment'], 'Loki streams are labelled by the enriched workload');

  // The lab rewrites the file as pods come and go: a new pod is picked up without a restart.
  const next = structuredClone(inventoryList);
  next.items.push(pod('orders-5d4f8-klmno', '10.244.0.23', 'orders', 'orders') as never, replicaSet('orders') as never);
  await writeFile(`${inventoryFile}.tmp`, JSON.stringify(next));
  await rename(`${inventoryFile}.tmp`, inventoryFile);
  await waitFor('the new pod in the inventory', () => collector.inventory?.lookupIp('10.244.0.23', T0) !== undefined, 10_000);
  t.equal(collector.inventory?.lookupIp('10.244.0.23', T0)?.workload, 'orders');
});

void t.test('a broken inventory file keeps the last good state', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshtap-pipeline-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'inventory.json');
  await writeFile(file, JSON.stringify(inventoryList));
  const { createFileInventory } = await import('../../collector/inventory/file.ts');
  const warnings: string[] = [];
  const inv = createFileInventory({ path: file, log: createSinkLogger((_l, msg) => warnings.push(msg)) });
  await inv.start();
  t.teardown(() => inv.stop());
  t.equal(inv.lookupIp(FRONTEND_IP, T0)?.workload, 'frontend');
  await writeFile(file, '{"items": [ broken');
  await inv.reload();
  t.match(warnings.join('\n'), /invalid; keeping the last good state/);
  t.equal(inv.lookupIp(FRONTEND_IP, T0)?.workload, 'frontend', 'still named after a bad write');
  await writeFile(file, JSON.stringify({ kind: 'List', items: [] }));
  await inv.reload();
  t.equal(inv.lookupIp(FRONTEND_IP, BigInt(Date.now() + 3_600_000) * 1_000_000n)?.workload, undefined, 'removed pods are gone for later lookups');
  t.equal(inv.lookupIp(FRONTEND_IP, T0)?.workload, 'frontend', 'records from before the removal keep their names');
});

void t.test('an inventory path that is not a regular file is refused, not read without end; each problem is logged once', async (t) => {
  const { createFileInventory } = await import('../../collector/inventory/file.ts');
  const warnings: string[] = [];
  const details: unknown[] = [];
  const inv = createFileInventory({
    path: '/dev/zero',
    pollMs: 20,
    log: createSinkLogger((_l, msg, fields) => {
      warnings.push(msg);
      details.push((fields as { detail?: unknown } | undefined)?.detail);
    }),
  });
  const rss = process.memoryUsage().rss;
  await inv.start();
  t.teardown(() => inv.stop());
  await new Promise((r) => setTimeout(r, 300));
  t.same(warnings, ['inventory file unreadable; no names until it can be read (it is read again when it changes)'], 'once, though polled every 20 ms');
  t.same(details, ['not a regular file (a Kubernetes List in JSON is expected)']);
  t.ok(process.memoryUsage().rss - rss < 64 * 1024 * 1024, 'nothing was read from it');
  t.equal(inv.loads, 0);
});

void t.test('an inventory file missing at start: the warning says nothing is named yet, not that a last good state is kept', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshtap-pipeline-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'inventory.json');
  const { createFileInventory } = await import('../../collector/inventory/file.ts');
  const warnings: string[] = [];
  const inv = createFileInventory({ path: file, log: createSinkLogger((_l, msg) => warnings.push(msg)) });
  await inv.start();
  t.teardown(() => inv.stop());
  t.same(warnings, ['inventory file unreadable; no names until it can be read (it is read again when it changes)']);
  await writeFile(file, JSON.stringify(inventoryList));
  await inv.reload();
  t.equal(inv.lookupIp(FRONTEND_IP, T0)?.workload, 'frontend', 'named once the file appears');
});
