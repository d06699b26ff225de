/** Coverage: the pure aggregation, its sentences, and GET /api/coverage over HTTP with real ingest rejects. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCollector } from '../../collector/collector.ts';
import { buildCoverage, type Coverage } from '../../collector/coverage.ts';
import { recordToProto, type ShipAckMessage } from '../../record/codec.ts';
import type { CallRecord } from '../../record/record.ts';
import { fullRecord } from '../proto/record-fixtures.ts';
import { callRecord, shipClient, waitFor } from './helpers.ts';

const fe = { workload: 'frontend', namespace: 'shop', workload_kind: 'Deployment', pod: 'frontend-1' };
const pay = { workload: 'payment', namespace: 'shop', workload_kind: 'Deployment', pod: 'payment-1' };
const db = { workload: 'db', namespace: 'shop', workload_kind: 'StatefulSet', pod: 'db-0' };
const noDrops = { records_rejected: {}, batches_rejected: {}, streams_refused: 0, records_duplicate: 0 };

/**
 * payment answers 8 calls: 6 meshed from frontend (both sidecars recorded them; one with a
 * truncated response body, one cut by capture_overflow), 2 from an unmeshed legacy client
 * (inbound only, no mesh TLS). payment calls db: 3 opaque TCP connections to an unmeshed
 * server (outbound only), 1 app-TLS call to an external API.
 */
function dataset(): CallRecord[] {
  const out: CallRecord[] = [];
  for (let i = 1; i <= 6; i++) {
    const common = { connectionId: `m-${i}`, at: i, mesh: true, status: 200, responseBody: 'ok' };
    const o = callRecord({ ...common, id: `o-${i}`, observer: 'outbound', src: fe, dst: pay, error: i === 6 ? 'capture_overflow' : undefined });
    if (i === 5) o.response!.truncated = true;
    out.push(o, callRecord({ ...common, id: `i-${i}`, observer: 'inbound', src: { ip: '10.244.0.5' }, dst: pay }));
  }
  for (let i = 1; i <= 2; i++) out.push(callRecord({ id: `u-${i}`, observer: 'inbound', connectionId: `u-${i}`, at: 10 + i, src: { ip: '10.1.2.3', namespace: 'legacy' }, dst: pay, status: 200 }));
  for (let i = 1; i <= 3; i++) out.push(callRecord({ id: `t-${i}`, protocol: 'tcp', observer: 'outbound', connectionId: `t-${i}`, at: 20 + i, src: pay, dst: db }));
  const tls = callRecord({ id: 'x', protocol: 'tls', observer: 'outbound', connectionId: 'x', at: 30, src: pay, dst: { ip: '203.0.113.7' } });
  tls.tls = { mesh: false, app_tls: { sni: 'api.example.com', version: 'TLSv1.3' } };
  out.push(tls);
  return out;
}

void t.test('buildCoverage: per workload and per edge, each call counted once per side', async (t) => {
  const c = buildCoverage(dataset(), { since: 0n, until: 10n ** 12n, collector: noDrops });
  const w = new Map(c.workloads.map((x) => [x.id, x]));
  t.same([...w.keys()], ['ip/203.0.113.7', 'legacy/ip/10.1.2.3', 'shop/db', 'shop/frontend', 'shop/payment']);
  const payment = w.get('shop/payment')!;
  t.same(payment.inbound, { calls: 8, parsed: { http: 8 }, opaque: 0, app_tls: 0, unmeshed_peer: 2, unobserved_here: 0, plaintext_meshed: 0, capture_overflow: 1, truncated_bodies: 1 });
  t.same(payment.outbound, { calls: 4, parsed: {}, opaque: 3, app_tls: 1, unmeshed_peer: 4, unobserved_here: 0, plaintext_meshed: 0, capture_overflow: 0, truncated_bodies: 0 });
  t.same(w.get('shop/frontend')!.outbound, { calls: 6, parsed: { http: 6 }, opaque: 0, app_tls: 0, unmeshed_peer: 0, unobserved_here: 0, plaintext_meshed: 0, capture_overflow: 1, truncated_bodies: 1 });
  t.match(w.get('shop/db')!.inbound, { calls: 3, opaque: 3, unmeshed_peer: 0, unobserved_here: 3 }, 'db has no sidecar: only its callers saw these');
  t.match(w.get('legacy/ip/10.1.2.3')!.outbound, { calls: 2, unmeshed_peer: 0, unobserved_here: 2 });
  t.same(payment.excluded, { known: false });

  const edges = new Map(c.edges.map((e) => [`${e.source} -> ${e.target}`, e]));
  t.same([...edges.keys()], ['legacy/ip/10.1.2.3 -> shop/payment', 'shop/frontend -> shop/payment', 'shop/payment -> ip/203.0.113.7', 'shop/payment -> shop/db']);
  t.match(edges.get('legacy/ip/10.1.2.3 -> shop/payment'), { calls: 2, unmeshed_peer: 2 });
  t.match(edges.get('shop/frontend -> shop/payment'), { calls: 6, unmeshed_peer: 0, capture_overflow: 1, truncated_bodies: 1 });
  t.match(edges.get('shop/payment -> shop/db'), { calls: 3, opaque: 3, unmeshed_peer: 3 });
});

void t.test('the sentences say what is not seen, and exclusions when known', async (t) => {
  const exclusions = (ns: string, workload: string) => (ns === 'shop' && workload === 'payment' ? { inbound_ports: [9090], outbound_ports: [], outbound_cidrs: ['10.0.0.0/8'] } : undefined);
  const c = buildCoverage(dataset(), { since: 0n, until: 10n ** 12n, collector: noDrops, exclusions });
  const payment = c.workloads.find((w) => w.id === 'shop/payment')!;
  t.same(payment.excluded, { known: true, inbound_ports: [9090], outbound_ports: [], outbound_cidrs: ['10.0.0.0/8'] });
  const text = payment.summary.join('\n');
  t.match(text, '25% of inbound calls come from unmeshed peers — their client side is not observed: legacy/ip/10.1.2.3 (http, 2 calls).');
  t.match(text, '100% of outbound calls go to unmeshed servers — their server side is not observed: shop/db (tcp, 3 calls), ip/203.0.113.7 (tls, 1 call).', 'the busiest first');
  t.match(text, '25% of calls are opaque TCP');
  t.match(text, /8\.3% of calls use the application's own TLS/);
  t.match(text, '1 call lost part of its capture');
  t.match(text, '1 call had a body larger than the capture limit');
  t.match(text, 'Excluded from capture by configuration (never seen): inbound ports 9090; outbound CIDRs 10.0.0.0/8.');
  const fe = c.workloads.find((w) => w.id === 'shop/frontend')!;
  t.notMatch(fe.summary.join('\n'), /unmeshed/, 'frontend talks only to meshed peers');
  t.match(fe.summary.join('\n'), /Exclusions by configuration: unknown/);
  t.match(c.workloads.find((w) => w.id === 'ip/203.0.113.7')!.summary.join('\n'), /Not a meshed workload/);
  const db = c.workloads.find((w) => w.id === 'shop/db')!.summary.join('\n');
  t.match(db, '100% of inbound calls were recorded only by the caller\'s sidecar — this end has no meshtap sidecar');
  t.notMatch(db, /parsed in full/);
  // A workload with a sidecar (it recorded other calls) is not told it has none: a refused
  // connection to it was recorded only by its caller.
  const refused = callRecord({ id: 'r', observer: 'outbound', connectionId: 'r', at: 40, src: fe, dst: pay, error: 'upstream_unreachable' });
  const withRefused = buildCoverage([...dataset(), refused], { since: 0n, until: 10n ** 12n, collector: noDrops });
  const paymentText = withRefused.workloads.find((w) => w.id === 'shop/payment')!.summary.join('\n');
  t.match(paymentText, /of inbound calls were recorded only by the caller's sidecar — though this end has a meshtap sidecar \(it recorded other calls\)/);
  t.notMatch(paymentText, /this end has no meshtap sidecar/);

  // A connection opened in plaintext between two meshed workloads (before the caller's sidecar
  // knew the callee was meshed): both sidecars recorded each call, under different connection ids.
  const plaintext = [1, 2].flatMap((i) => [
    callRecord({ id: `po-${i}`, observer: 'outbound', connectionId: 'client-conn', ordinal: i, at: 50 + i, src: fe, dst: pay, status: 200 }),
    callRecord({ id: `pi-${i}`, observer: 'inbound', connectionId: 'server-conn', ordinal: i, at: 50 + i, src: fe, dst: pay, status: 200 }),
  ]);
  const unjoined = buildCoverage([...dataset(), ...plaintext], { since: 0n, until: 10n ** 12n, collector: noDrops });
  const paymentIn = unjoined.workloads.find((w) => w.id === 'shop/payment')!;
  t.match(paymentIn.inbound, { calls: 12, plaintext_meshed: 4, unmeshed_peer: 2 }, 'the plaintext pair is not an unmeshed peer; the legacy client still is');
  t.match(unjoined.workloads.find((w) => w.id === 'shop/frontend')!.outbound, { calls: 10, plaintext_meshed: 4, unmeshed_peer: 0, unobserved_here: 0 });
  t.match(unjoined.edges.find((e) => e.source === 'shop/frontend' && e.target === 'shop/payment'), { calls: 10, plaintext_meshed: 4, unmeshed_peer: 0 });
  const feText = unjoined.workloads.find((w) => w.id === 'shop/frontend')!.summary.join('\n');
  t.match(feText, /of calls crossed in plaintext between two meshed workloads, so each side's record stands alone/);
  t.notMatch(feText, /unmeshed servers|recorded only by the server's sidecar/, 'not told its peer is unmeshed or that records were dropped');

  const clean = buildCoverage(
    [callRecord({ id: 'a', observer: 'outbound', connectionId: 'a', mesh: true, src: fe, dst: pay }), callRecord({ id: 'b', observer: 'inbound', connectionId: 'a', mesh: true, src: fe, dst: pay })],
    { since: 0n, until: 1n, collector: noDrops },
  );
  t.match(clean.workloads.find((w) => w.id === 'shop/payment')!.summary[0], 'Every call in this window was parsed in full on both sides.');
});

void t.test('GET /api/coverage: the window, the workloads, the collector drops, and auth', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-coverage-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tokens'), 'secret-token-0123456789\n');
  const collector = await startCollector(resolveCollectorOptions({ auth: 'token', authTokenFile: join(dir, 'tokens'), host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'sqlite' }));
  t.teardown(() => collector.close({ force: true }));
  const now = BigInt(Date.now()) * 1_000_000n;
  const records = dataset().map((r) => ({ ...r, start: now - 60_000_000_000n + r.start - 1_764_000_000_000_000_000n, end: now - 60_000_000_000n + r.end - 1_764_000_000_000_000_000n }));
  await collector.store.add(records);

  // Two malformed records over real gRPC: the collector counts them by reason.
  const client = shipClient(`127.0.0.1:${collector.grpcPort}`);
  t.teardown(() => client.close());
  const call = client.Ship();
  const acks: ShipAckMessage[] = [];
  call.on('data', (a: ShipAckMessage) => acks.push(a));
  call.on('error', () => {});
  const sidecar = { pod: 'p', namespace: 'ns', pod_ip: '10.0.0.1', node: 'n', service_account: 'sa', sidecar_version: 'v' };
  call.write({ seq: '1', sidecar, records: [{ ...recordToProto(fullRecord(1)), id: '' }, { ...recordToProto(fullRecord(2)), observer: 'sideways' }] });
  await waitFor('ack', () => acks.length === 1);
  call.end();

  const url = `http://127.0.0.1:${collector.httpPort}/api/coverage`;
  t.equal((await fetch(url)).status, 401, 'call data needs credentials');
  const auth = { headers: { authorization: 'Bearer secret-token-0123456789' } };
  const res = await fetch(`${url}?since=10m`, auth);
  t.equal(res.status, 200);
  const body = (await res.json()) as Omit<Coverage, 'since' | 'until'> & { since: string; until: string };
  t.equal(BigInt(body.until) - BigInt(body.since), 600_000_000_000n);
  const payment = body.workloads.find((w) => w.id === 'shop/payment')!;
  t.match(payment, { inbound: { calls: 8, unmeshed_peer: 2 }, outbound: { opaque: 3, app_tls: 1 }, excluded: { known: false } });
  t.match(payment.summary[0], '25% of inbound calls come from unmeshed peers');
  t.equal(body.collector.records_rejected.missing_id, 1);
  t.equal(body.collector.records_rejected.bad_observer, 1);
  t.equal(body.collector.records_rejected.rate_limited, 0, 'every reason listed, zeros included');
  t.equal(body.collector.streams_refused, 0);
  t.equal(body.truncated, false);

  const narrow = (await (await fetch(`${url}?since=1s`, auth)).json()) as { workloads: unknown[] };
  t.same(narrow.workloads, [], 'a window before the calls holds none');
  t.equal((await fetch(`${url}?since=soon`, auth)).status, 400);
});

void t.test('the sentence names the three busiest unmeshed peers and counts the rest', async (t) => {
  const calls = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'].flatMap((ip, i) =>
    Array.from({ length: 5 - i }, (_, n) => callRecord({ id: `${ip}-${n}`, protocol: i === 0 ? 'dns' : 'tcp', observer: 'outbound', connectionId: `${ip}-${n}`, src: fe, dst: { ip } })),
  );
  const text = buildCoverage(calls, { since: 0n, until: 10n ** 12n, collector: noDrops }).workloads.find((w) => w.id === 'shop/frontend')!.summary.join('\n');
  t.match(text, '100% of outbound calls go to unmeshed servers — their server side is not observed: ip/10.0.0.1 (dns, 5 calls), ip/10.0.0.2 (tcp, 4 calls), ip/10.0.0.3 (tcp, 3 calls) and 2 others.');
});
