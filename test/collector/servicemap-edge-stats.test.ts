/** The service map's per-edge numbers beyond counts and latency, from records carrying the newer fields. */
import t from 'tap';
import { buildServiceMap, HOT_REPLICA_FACTOR } from '../../collector/servicemap.ts';
import type { CallRecord } from '../../record/record.ts';
import { callRecord } from './helpers.ts';

const fe = { workload: 'frontend', namespace: 'shop', workload_kind: 'Deployment', pod: 'frontend-1', node: 'lab' };
const svc = { ip: '10.96.0.16', namespace: 'shop', service: 'payment' };
const payPod = (pod: string, node: string) => ({ workload: 'payment', namespace: 'shop', workload_kind: 'Deployment', pod, node, service: 'payment' });

/**
 * frontend → payment through the service VIP, 20 meshed calls on 5 connections of 4 exchanges.
 * Replica payment-a (node lab) answers 14, payment-b (node lab-2) 6. Calls 1–2 are retries,
 * 3 a timeout, 4 a client timeout, 5–7 answered 429; the first call of each connection carries
 * its connect time (1..5 ms); connection 5 ended with a reset by the server on its last call,
 * connection 4 with a reset by the client.
 */
function dataset(): CallRecord[] {
  const out: CallRecord[] = [];
  for (let i = 1; i <= 20; i++) {
    const conn = Math.ceil(i / 4);
    const ordinal = (i - 1) % 4;
    const replica = i <= 14 ? payPod('payment-a', 'lab') : payPod('payment-b', 'lab-2');
    const status = i >= 5 && i <= 7 ? 429 : 200;
    const common = { connectionId: `c-${conn}`, ordinal, at: i * 100, elapsedMs: 2, mesh: true, status };
    const o = callRecord({ ...common, id: `o-${i}`, observer: 'outbound', src: fe, dst: svc, error: i === 3 ? 'timeout' : i === 4 ? 'client_timeout' : undefined });
    o.connection = { exchanges: ordinal + 1 };
    if (ordinal === 0) o.connection.connect_us = conn * 1000;
    if (conn === 5 && ordinal === 3) o.connection.reset_by = 'server';
    if (conn === 4 && ordinal === 3) o.connection.reset_by = 'client';
    if (i <= 2) o.attempt = 2;
    out.push(o);
    out.push(callRecord({ ...common, id: `i-${i}`, observer: 'inbound', src: { ip: '10.244.0.5' }, dst: replica }));
  }
  return out;
}

const window = { since: 0n, until: 10n ** 12n };

void t.test('per-edge retries, timeouts, 429s, connect times, resets, reuse', async (t) => {
  const map = buildServiceMap(dataset(), window);
  t.equal(map.edges.length, 1);
  const e = map.edges[0];
  t.match(e, { source: 'shop/frontend', target: 'shop/payment', requests: 20 });
  t.match(e, { retries: 2, retry_rate: 0.1, timeouts: 2, timeout_rate: 0.1, throttled: 3, throttled_rate: 0.15 });
  t.match(e, { connects: 5, connect_p50_ms: 3, connect_p99_ms: 5 });
  t.match(e, { resets_by_client: 1, resets_by_server: 1 });
  t.match(e, { connections: 5, exchanges_per_connection: 4 });
  // The API reads newest first: the same records in that order give the same reuse. Adding each
  // call to the running max counted the window's calls on top of the sidecar's count (7 here).
  t.match(buildServiceMap(dataset().reverse(), window).edges[0], { connections: 5, exchanges_per_connection: 4 }, 'newest first');
});

void t.test('reuse: a long-lived connection counts its sidecar\'s total once, whatever the window holds of it', async (t) => {
  // Calls 4781-4785 of one connection in the window, newest first: the connection carried 4785.
  const records: CallRecord[] = [];
  for (let n = 4785; n > 4780; n--) {
    const o = callRecord({ connectionId: 'long', ordinal: n - 1, at: n, elapsedMs: 1, mesh: true, status: 200, id: `o-${n}`, observer: 'outbound', src: fe, dst: svc });
    o.connection = { exchanges: n };
    records.push(o);
  }
  t.match(buildServiceMap(records, window).edges[0], { requests: 5, connections: 1, exchanges_per_connection: 4785 });
  // Without the sidecar's count (older records), the calls seen are the count.
  for (const r of records) delete r.connection;
  t.match(buildServiceMap(records, window).edges[0], { connections: 1, exchanges_per_connection: 5 });
});

void t.test('per-replica load of the callee, with the imbalance and the hot replica', async (t) => {
  const e = buildServiceMap(dataset(), window).edges[0];
  t.same(e.replicas, [
    { pod: 'payment-a', requests: 14, share: 0.7 },
    { pod: 'payment-b', requests: 6, share: 0.3 },
  ]);
  t.equal(e.replica_imbalance, 1.4, 'max share 0.7 over the even share 0.5');
  t.same(e.hot_replicas, [], `1.4 is under the hot factor ${HOT_REPLICA_FACTOR}`);

  // Three replicas, one taking 8 of 10: hot.
  const skewed = dataset()
    .filter((r) => Number(r.id.slice(2)) <= 10)
    .map((r) => {
      if (r.observer !== 'inbound') return r;
      const n = Number(r.id.slice(2));
      return { ...r, dst: { ...r.dst, ...payPod(n <= 8 ? 'payment-a' : n === 9 ? 'payment-b' : 'payment-c', 'lab') } };
    });
  const s = buildServiceMap(skewed, window).edges[0];
  t.equal(s.replicas.length, 3);
  t.equal(s.replica_imbalance, 2.4, '0.8 over 1/3');
  t.same(s.hot_replicas, ['payment-a']);
});

void t.test('cross-node calls: caller and answering replica on different nodes, both known', async (t) => {
  const e = buildServiceMap(dataset(), window).edges[0];
  t.equal(e.cross_node_calls, 6, 'the six answered by payment-b on lab-2');
  t.equal(e.cross_node, true);

  // Same node everywhere, or a node unknown on one side: not cross-node.
  const same = dataset().map((r) => (r.observer === 'inbound' ? { ...r, dst: { ...r.dst, node: 'lab' } } : r));
  t.equal(buildServiceMap(same, window).edges[0].cross_node, false);
  const unknown = dataset().map((r) => ({ ...r, src: { ...r.src, node: undefined } }));
  t.equal(buildServiceMap(unknown, window).edges[0].cross_node_calls, 0);
});

void t.test('without the newer fields an edge reads as zeros and one connection per call', async (t) => {
  const records = [1, 2, 3].map((i) => callRecord({ id: `x-${i}`, at: i, src: fe, dst: { workload: 'auth', namespace: 'shop' }, status: 200 }));
  const e = buildServiceMap(records, window).edges[0];
  t.match(e, { retries: 0, timeouts: 0, throttled: 0, connects: 0, resets_by_client: 0, resets_by_server: 0, connections: 3, exchanges_per_connection: 1 });
  t.notOk('connect_p50_ms' in e, 'no connect percentile without samples');
  t.same(e.replicas, []);
  t.equal(e.replica_imbalance, 0);
  t.equal(e.cross_node, false);
});

void t.test('where the time went per edge: the server side, the way there and back, the mesh handshake', async (t) => {
  const records: CallRecord[] = [];
  for (let i = 1; i <= 10; i++) {
    const common = { connectionId: `w-${i}`, ordinal: 0, at: i * 100, mesh: true, status: 200 };
    const o = callRecord({ ...common, id: `wo-${i}`, observer: 'outbound', src: fe, dst: svc, elapsedMs: 10 + i });
    o.connection = { tls_handshake_us: i * 1000 };
    records.push(o);
    // The server side took i ms: the rest (10 ms each) was the network and the two sidecars.
    records.push(callRecord({ ...common, id: `wi-${i}`, observer: 'inbound', src: { ip: '10.244.0.5' }, dst: payPod('payment-a', 'lab'), elapsedMs: i }));
  }
  const e = buildServiceMap(records, window).edges[0];
  t.equal(e.requests, 10);
  t.match(e, { server_p50_ms: 5, server_p99_ms: 10, network_p50_ms: 10, network_p99_ms: 10, tls_handshake_p50_ms: 5 });
  // A call only its client saw has no split.
  const solo = callRecord({ connectionId: 'w-solo', ordinal: 0, at: 5000, mesh: true, status: 200, id: 'wo-solo', observer: 'outbound', src: fe, dst: svc, elapsedMs: 500 });
  const none = buildServiceMap([solo], window).edges[0];
  t.notOk('server_p50_ms' in none || 'network_p50_ms' in none, 'no split when no call was seen by both sides');
});
