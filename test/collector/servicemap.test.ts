/** The service map: pure computation on a crafted dataset, and the endpoint over HTTP. */
import t from 'tap';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCollector } from '../../collector/collector.ts';
import { buildServiceMap, isErrorCall, nodeFor, percentile } from '../../collector/servicemap.ts';
import type { CallRecord } from '../../record/record.ts';
import { callRecord } from './helpers.ts';

const fe = { workload: 'frontend', namespace: 'shop', workload_kind: 'Deployment', pod: 'frontend-1' };
const pay = { workload: 'payment', namespace: 'shop', workload_kind: 'Deployment', pod: 'payment-1' };
const auth = { workload: 'auth', namespace: 'shop', workload_kind: 'StatefulSet' };

/**
 * frontend → payment: 10 meshed calls seen by both sidecars (latency 1..10 ms outbound, inbound
 * slightly less), 2 of them 5xx. An unmeshed client 10.1.2.3 → payment: 4 calls seen inbound only,
 * one a reset. frontend → auth: 3 gRPC calls, one grpc_status 14, outbound only.
 */
function dataset(): CallRecord[] {
  const out: CallRecord[] = [];
  for (let i = 1; i <= 10; i++) {
    const common = { connectionId: `m-${i}`, ordinal: 0, at: i * 1000, method: 'POST', path: '/pay', status: i > 8 ? 503 : 200, mesh: true };
    out.push(callRecord({ ...common, id: `o-${i}`, observer: 'outbound', elapsedMs: i, src: fe, dst: pay }));
    out.push(callRecord({ ...common, id: `i-${i}`, observer: 'inbound', elapsedMs: i - 0.5, src: { ip: '10.244.0.5' }, dst: pay }));
  }
  for (let i = 1; i <= 4; i++) {
    out.push(
      callRecord({ id: `u-${i}`, observer: 'inbound', connectionId: `u-${i}`, at: i * 1000, elapsedMs: 20 * i, src: { ip: '10.1.2.3', namespace: 'legacy' }, dst: pay, status: 200, error: i === 4 ? 'reset' : undefined }),
    );
  }
  for (let i = 1; i <= 3; i++) {
    out.push(callRecord({ id: `g-${i}`, protocol: 'grpc', connectionId: 'g', ordinal: i, at: i * 1000, elapsedMs: 2, src: fe, dst: auth, grpcStatus: i === 2 ? 14 : 0 }));
  }
  return out;
}

void t.test('buildServiceMap: one count per call, rates, errors, percentiles', async (t) => {
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
  t.equal(percentile([7], 99), 7);
  t.equal(percentile([], 50), 0);

  const since = 1_764_000_000_000_000_000n;
  const map = buildServiceMap(dataset(), { since, until: since + 20_000_000_000n });
  t.same(map.nodes, [
    { id: 'legacy/ip/10.1.2.3', namespace: 'legacy', workload: '10.1.2.3', kind: 'External' },
    { id: 'shop/auth', namespace: 'shop', workload: 'auth', kind: 'StatefulSet' },
    { id: 'shop/frontend', namespace: 'shop', workload: 'frontend', kind: 'Deployment' },
    { id: 'shop/payment', namespace: 'shop', workload: 'payment', kind: 'Deployment' },
  ]);
  // The original fields, exactly; the newer per-edge numbers have tests of their own.
  const base = ({ source, target, protocols, requests, rate_per_s, errors, error_rate, p50_ms, p99_ms }: (typeof map.edges)[number]) => ({
    source,
    target,
    protocols,
    requests,
    rate_per_s,
    errors,
    error_rate,
    p50_ms,
    p99_ms,
  });
  t.same(map.edges.map(base), [
    { source: 'legacy/ip/10.1.2.3', target: 'shop/payment', protocols: ['http'], requests: 4, rate_per_s: 0.2, errors: 1, error_rate: 0.25, p50_ms: 40, p99_ms: 80 },
    { source: 'shop/frontend', target: 'shop/auth', protocols: ['grpc'], requests: 3, rate_per_s: 0.15, errors: 1, error_rate: 0.333, p50_ms: 2, p99_ms: 2 },
    { source: 'shop/frontend', target: 'shop/payment', protocols: ['http'], requests: 10, rate_per_s: 0.5, errors: 2, error_rate: 0.2, p50_ms: 5, p99_ms: 10 },
  ]);
  t.equal(map.truncated, false);

  // Without the outbound side, the inbound records count (named by what is known of the caller).
  const inboundOnly = buildServiceMap(dataset().filter((r) => !r.id.startsWith('o-')), { since, until: since + 20_000_000_000n });
  const edge = inboundOnly.edges.find((e) => e.target === 'shop/payment' && e.source === 'ip/10.244.0.5');
  t.match(edge, { requests: 10, errors: 2, p50_ms: 4.5 });
});

for (const store of ['sqlite', 'memory'] as const) {
  void t.test(`GET /api/servicemap (${store} store)`, async (t) => {
    const collector = await startCollector(resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0, store }));
    t.teardown(() => collector.close({ force: true }));
    // Shift the dataset to now so the default window (15 min) holds it, plus an old call outside it.
    const now = BigInt(Date.now()) * 1_000_000n;
    const shift = now - 30_000_000_000n - 1_764_000_000_000_000_000n;
    const records = dataset().map((r) => ({ ...r, start: r.start + shift, end: r.end + shift }));
    records.push({ ...callRecord({ id: 'old', src: fe, dst: { workload: 'ancient', namespace: 'shop' } }), start: now - 3_600_000_000_000n });
    await collector.store.add(records);
    const res = await fetch(`http://127.0.0.1:${collector.httpPort}/api/servicemap`);
    t.equal(res.status, 200);
    const body = (await res.json()) as { since: string; until: string; nodes: { id: string }[]; edges: { source: string; target: string; requests: number; rate_per_s: number; p99_ms: number }[] };
    t.same(body.nodes.map((n) => n.id), ['legacy/ip/10.1.2.3', 'shop/auth', 'shop/frontend', 'shop/payment'], 'the old call is outside the window');
    const fp = body.edges.find((e) => e.source === 'shop/frontend' && e.target === 'shop/payment')!;
    t.match(fp, { requests: 10, p99_ms: 10 });
    t.ok(Math.abs(fp.rate_per_s - 10 / 900) < 0.001, `rate over the 15 min window (${fp.rate_per_s})`);
    t.equal(BigInt(body.until) - BigInt(body.since), 900_000_000_000n);

    const wide = (await (await fetch(`http://127.0.0.1:${collector.httpPort}/api/servicemap?since=2h`)).json()) as { nodes: { id: string }[] };
    t.ok(wide.nodes.some((n) => n.id === 'shop/ancient'), 'since widens the window');
    t.equal((await fetch(`http://127.0.0.1:${collector.httpPort}/api/servicemap?since=soon`)).status, 400);
    // A fixed window in the past: only the old call, rates over that window.
    const oldStart = now - 3_600_000_000_000n;
    const past = (await (await fetch(`http://127.0.0.1:${collector.httpPort}/api/servicemap?since=${oldStart - 60_000_000_000n}&until=${oldStart + 60_000_000_000n}`)).json()) as typeof body;
    t.same(past.edges.map((e) => `${e.source} -> ${e.target} x${e.requests}`), ['shop/frontend -> shop/ancient x1'], 'until closes the window');
    t.equal(past.until, String(oldStart + 60_000_000_000n));
    // The store holds nothing older than that call: the rate is over the minute from it to until.
    t.ok(Math.abs(past.edges[0].rate_per_s - 1 / 60) < 0.001, `rate over the minute held (${past.edges[0].rate_per_s})`);
    const upTo = (await (await fetch(`http://127.0.0.1:${collector.httpPort}/api/servicemap?until=${oldStart + 1n}`)).json()) as typeof body;
    t.equal(BigInt(upTo.until) - BigInt(upTo.since), 900_000_000_000n, 'until alone: the 15 minutes before it');
    t.same(upTo.edges.map((e) => e.target), ['shop/ancient']);
    const cov = (await (await fetch(`http://127.0.0.1:${collector.httpPort}/api/coverage?since=${oldStart - 1n}&until=${oldStart + 1n}`)).json()) as { edges: { source: string; target: string; calls: number }[] };
    t.same(cov.edges.map((e) => `${e.target} ${e.calls}`), ['shop/ancient 1'], 'coverage takes until too');
    const future = (await (await fetch(`http://127.0.0.1:${collector.httpPort}/api/servicemap?until=${now + 3_600_000_000_000n}`)).json()) as typeof body;
    t.ok(BigInt(future.until) <= BigInt(Date.now()) * 1_000_000n, 'an until in the future is now');
    t.equal((body as { rates_since?: string }).rates_since, undefined, 'the store holds the whole window: rates over all of it');
  });

  void t.test(`GET /api/servicemap (${store} store): a collector holding less than the window rates over what it holds`, async (t) => {
    const collector = await startCollector(resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0, store }));
    t.teardown(() => collector.close({ force: true }));
    // Only the last minute's calls (a lab started a minute ago): 10 frontend → payment calls.
    const now = BigInt(Date.now()) * 1_000_000n;
    const shift = now - 60_000_000_000n - 1_764_000_000_000_000_000n;
    await collector.store.add(dataset().map((r) => ({ ...r, start: r.start + shift, end: r.end + shift })));
    const oldest = (await collector.store.oldestStart!())!;
    for (const since of ['', '?since=24h']) {
      const body = (await (await fetch(`http://127.0.0.1:${collector.httpPort}/api/servicemap${since}`)).json()) as { since: string; until: string; rates_since?: string; edges: { source: string; target: string; rate_per_s: number }[] };
      t.equal(body.rates_since, String(oldest), `${since || 'default window'}: the rates start at the oldest stored call`);
      const fp = body.edges.find((e) => e.source === 'shop/frontend' && e.target === 'shop/payment')!;
      const span = Number(BigInt(body.until) - oldest) / 1e9;
      t.ok(Math.abs(fp.rate_per_s - 10 / span) < 0.01, `${fp.rate_per_s}/s over the ${span.toFixed(0)} s held, not ${(10 / (Number(BigInt(body.until) - BigInt(body.since)) / 1e9)).toFixed(4)}/s over the window`);
    }
  });
}

void t.test('buildServiceMap: a call to a service VIP is drawn to the workload that answered it', async (t) => {
  const svc = { ip: '10.96.0.16', namespace: 'shop', service: 'payment' };
  const records = [
    callRecord({ id: 'o', observer: 'outbound', connectionId: 'vip-1', ordinal: 0, at: 1000, elapsedMs: 3, src: fe, dst: svc, status: 200, mesh: true }),
    callRecord({ id: 'i', observer: 'inbound', connectionId: 'vip-1', ordinal: 0, at: 1000, elapsedMs: 2, src: fe, dst: { ...pay, service: 'payment' }, status: 200, mesh: true }),
    // No twin (the callee is not meshed): the service is all that is known.
    callRecord({ id: 'o2', observer: 'outbound', connectionId: 'vip-2', ordinal: 0, at: 2000, elapsedMs: 3, src: fe, dst: { ip: '10.96.0.30', namespace: 'shop', service: 'legacy-db' }, status: 200 }),
  ];
  const map = buildServiceMap(
    records.map((r) => ({ ...r, src: r.src, dst: r.dst })),
    { since: 0n, until: 10n ** 12n },
  );
  t.same(
    map.edges.map((e) => `${e.source} -> ${e.target} x${e.requests}`),
    ['shop/frontend -> shop/payment x1', 'shop/frontend -> shop/service/legacy-db x1'],
  );
});

void t.test('buildServiceMap: WebSocket messages are counted apart, not as calls, and not in the latencies', async (t) => {
  const upgrade = callRecord({ id: 'up', observer: 'outbound', connectionId: 'ws-1', ordinal: 0, at: 1000, elapsedMs: 8, src: fe, dst: pay, method: 'GET', path: '/feed', status: 101 });
  const messages = Array.from({ length: 40 }, (_, i) =>
    callRecord({ id: `m${i}`, observer: 'outbound', protocol: 'ws', connectionId: 'ws-1', ordinal: i + 1, at: 1001 + i, elapsedMs: 0, src: fe, dst: pay, method: 'TEXT' }),
  );
  const marker = callRecord({ id: 'cut', observer: 'outbound', protocol: 'ws', connectionId: 'ws-1', ordinal: 41, at: 1100, elapsedMs: 0, src: fe, dst: pay, error: 'capture_overflow' });
  const map = buildServiceMap([upgrade, ...messages, marker], { since: 0n, until: 10n ** 19n });
  t.match(map.edges, [{ source: 'shop/frontend', target: 'shop/payment', protocols: ['http', 'ws'], requests: 1, messages: 41, errors: 0, p50_ms: 8, p99_ms: 8 }]);
  const onlyMessages = buildServiceMap(messages, { since: 0n, until: 10n ** 19n });
  t.match(onlyMessages.edges, [{ requests: 0, messages: 40, error_rate: 0, p50_ms: 0 }], 'an edge of messages alone (its upgrade outside the window)');
  t.equal(buildServiceMap([upgrade], { since: 0n, until: 10n ** 19n }).edges[0].messages, undefined, 'no messages: no field');
});

void t.test('isErrorCall: a capture problem on a call whose answer was seen is judged by that answer', async (t) => {
  t.equal(isErrorCall({ protocol: 'http', error: 'parse', status_code: 200 }), false, 'a 200 after a head over the parser\'s limit');
  t.equal(isErrorCall({ protocol: 'http', error: 'parse', status_code: 431 }), false, 'a 4xx is the client\'s');
  t.equal(isErrorCall({ protocol: 'http', error: 'parse', status_code: 502 }), true);
  t.equal(isErrorCall({ protocol: 'grpc', error: 'capture_overflow', grpc_status: 0 }), false);
  t.equal(isErrorCall({ protocol: 'grpc', error: 'capture_overflow', grpc_status: 14 }), true);
  t.equal(isErrorCall({ protocol: 'http', error: 'parse' }), true, 'no answer seen: an error');
  t.equal(isErrorCall({ protocol: 'http', error: 'reset', status_code: 200 }), true, 'a reset mid-response is one whatever the status');
});

void t.test('isErrorCall: an opaque TCP connection its client reset (a tcpSocket probe) is not the callee\'s error', async (t) => {
  t.equal(isErrorCall({ protocol: 'tcp', error: 'reset', connection: { reset_by: 'client' } }), false);
  t.equal(isErrorCall({ protocol: 'tcp', error: 'reset', connection: { reset_by: 'server' } }), true, 'reset by the server is');
  t.equal(isErrorCall({ protocol: 'tcp', error: 'reset' }), true, 'who reset unknown: an error');
  t.equal(isErrorCall({ protocol: 'http', error: 'reset', connection: { reset_by: 'client' } }), true, 'an HTTP call cut by its client is still an error');
  t.equal(isErrorCall({ protocol: 'tcp', error: 'timeout', connection: { reset_by: 'client' } }), true);
  const probe = callRecord({ id: 'probe', protocol: 'tcp', observer: 'inbound', connectionId: 'p', src: { ip: '10.244.0.1' }, dst: pay, error: 'reset' });
  probe.connection = { reset_by: 'client', exchanges: 1 };
  const map = buildServiceMap([probe], { since: 0n, until: 10n ** 19n });
  t.equal(map.edges[0].errors, 0, 'the probe edge is not red');
});

void t.test('isErrorCall: gRPC statuses of the server\'s failure are errors, answers about the request are not (as HTTP 5xx and 4xx)', async (t) => {
  const names = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];
  const errors = names.filter((_, code) => isErrorCall({ protocol: 'grpc', grpc_status: code }));
  t.same(errors, ['UNKNOWN', 'DEADLINE_EXCEEDED', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS']);
  t.equal(isErrorCall({ protocol: 'grpc', grpc_status: 5, error: 'reset' }), true, 'a failed exchange is an error whatever its status');
});

void t.test('nodeFor: an endpoint without a namespace has an id without a leading slash', async (t) => {
  t.equal(nodeFor({ service: 'payment', ip: '10.96.0.9' }).id, 'service/payment');
  t.equal(nodeFor({ pod: 'db-0', ip: '10.1.0.9' }).id, 'pod/db-0');
  t.equal(nodeFor({ workload: 'loadgen', ip: '10.1.0.8' }).id, 'loadgen');
  t.equal(nodeFor({ ip: '1.2.3.4' }).id, 'ip/1.2.3.4');
  t.equal(nodeFor({ service: 'payment', namespace: 'shop', ip: '10.96.0.9' }).id, 'shop/service/payment');
  t.equal(nodeFor({ workload: 'frontend', namespace: 'shop', ip: '10.1.0.2' }).id, 'shop/frontend');
});

void t.test('buildServiceMap: calls from a node address (kubelet probes) come from the node', async (t) => {
  const map = buildServiceMap([callRecord({ id: 'p', observer: 'inbound', connectionId: 'probe', at: 1000, elapsedMs: 1, src: { ip: '10.244.0.1', node: 'lab' }, dst: pay, status: 200 })], {
    since: 0n,
    until: 10n ** 12n,
  });
  t.same(map.edges.map((e) => `${e.source} -> ${e.target}`), ['node/lab -> shop/payment']);
  t.match(map.nodes.find((n) => n.id === 'node/lab'), { kind: 'Node', workload: 'lab' });
});
