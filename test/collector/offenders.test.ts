/** Worst offenders: clients and edges ranked by retry, timeout and 429 rates; the API route behind auth. */
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { AccessControl } from '../../collector/auth/access.ts';
import { buildHttpApp } from '../../collector/http-server.ts';
import { createMemoryStore } from '../../collector/memory-store.ts';
import { createCollectorMetrics } from '../../collector/metrics.ts';
import { buildOffenders, rankOffenders } from '../../collector/offenders.ts';
import { createRetryTracker } from '../../collector/retries.ts';
import { createSqliteStore } from '../../collector/store/sqlite-store.ts';
import { createSinkLogger } from '../../lib/log.ts';
import type { CallRecord } from '../../record/record.ts';
import { callRecord, T0_NS } from './helpers.ts';

const shop = (workload: string) => ({ namespace: 'shop', workload });

/**
 * frontend → payment: 4 calls, the 2nd a retry of the 1st (503), one client_timeout, one 429.
 * gateway → catalog: 4 clean calls, each seen by both sidecars (counted once).
 * An unmeshed caller with a timeout; a Redis call (never counted).
 */
function dataset(): CallRecord[] {
  const retries = createRetryTracker();
  let n = 0;
  const call = (spec: Omit<Parameters<typeof callRecord>[0], 'id'> & { id?: string }) => callRecord({ id: `o${n++}`, method: 'POST', path: '/x', ...spec });
  const out: CallRecord[] = [
    call({ at: 0, src: shop('frontend'), dst: shop('payment'), path: '/charge', status: 503 }),
    call({ at: 100, src: shop('frontend'), dst: shop('payment'), path: '/charge', status: 200 }),
    call({ at: 200, src: shop('frontend'), dst: shop('payment'), path: '/refund', error: 'client_timeout' }),
    call({ at: 300, src: shop('frontend'), dst: shop('payment'), path: '/quote', status: 429 }),
    call({ at: 400, src: { ip: '10.1.1.1', port: 5555 }, dst: shop('payment'), path: '/slow', error: 'timeout' }),
    call({ at: 500, protocol: 'redis', method: 'GET', src: shop('frontend'), dst: shop('cache'), error: 'timeout' }),
  ];
  for (let i = 0; i < 4; i++) {
    for (const observer of ['outbound', 'inbound'] as const) {
      out.push(callRecord({ id: `cat-${i}-${observer}`, observer, connectionId: 'cat', ordinal: i, at: 600 + i * 10, method: 'GET', path: `/item/${i}`, status: 200, src: shop('gateway'), dst: shop('catalog') }));
    }
  }
  return out.map((r) => retries.mark(r));
}

void t.test('clients and edges: rates per call counted once, worst first', async (t) => {
  const result = buildOffenders(dataset(), { limit: 10 });
  t.equal(result.calls, 9, 'Redis left out, each meshed catalog call counted once');
  t.same(
    result.clients.map((c) => [c.name, c.calls, c.retries, c.timeouts, c.rate_limited]),
    [
      ['10.1.1.1', 1, 0, 1, 0],
      ['shop/frontend', 4, 1, 1, 1],
    ],
    'gateway made no trouble and is left out; the address-only caller has the worst rate',
  );
  const frontend = result.clients[1];
  t.same({ retry: frontend.retry_rate, timeout: frontend.timeout_rate, limited: frontend.rate_limited_rate, score: frontend.score }, { retry: 0.25, timeout: 0.25, limited: 0.25, score: 0.25 });
  t.same(
    result.edges.map((e) => e.name),
    ['10.1.1.1 → shop/payment', 'shop/frontend → shop/payment'],
  );
  t.same(buildOffenders(dataset(), { limit: 1 }).edges.length, 1, 'limit');
  const byRetry = buildOffenders(dataset(), { limit: 10, by: 'retry' });
  t.same(byRetry.clients.map((c) => c.name), ['shop/frontend'], 'ranked by retry rate: only clients that retried');
  t.same(rankOffenders([]), []);
});

void t.test('a retry that ignored Retry-After is counted', async (t) => {
  const tracker = createRetryTracker();
  const limited = callRecord({ id: 'l1', at: 0, method: 'GET', path: '/r', status: 429, src: shop('bot'), dst: shop('api') });
  limited.response = { headers: { 'retry-after': '5' }, body: new Uint8Array(), body_size: 0, truncated: false };
  const again = callRecord({ id: 'l2', at: 10, method: 'GET', path: '/r', status: 200, src: shop('bot'), dst: shop('api') });
  const [row] = buildOffenders([tracker.mark(limited), tracker.mark(again)], { limit: 5 }).clients;
  t.match(row, { name: 'shop/bot', calls: 2, retries: 1, rate_limited: 1, retry_after_ignored: 1 });
});

void t.test('GET /api/offenders: window, limit, by; 401 without a token; bad queries are 400', async (t) => {
  const store = createMemoryStore({ maxRecords: 1000 });
  // Shift the dataset to "now" so the default 15-minute window holds it.
  const now = T0_NS + 3_600_000_000_000n;
  const shift = now - T0_NS - 60_000_000_000n;
  await store.add(dataset().map((r) => ({ ...r, start: r.start + shift, end: r.end + shift })));
  const access: AccessControl = {
    mode: 'token',
    authenticate: async (token) =>
      token === 'good'
        ? { ok: true, viewer: { name: 'all', all: true, prepare: async () => {}, sees: () => true } }
        : token === 'ops'
          ? { ok: true, viewer: { name: 'ops', all: false, prepare: async () => {}, sees: (s, d) => s === 'ops' || d === 'ops' } }
          : { ok: false, status: 401, message: 'no token' },
  };
  const app = buildHttpApp({ store, access, metrics: createCollectorMetrics(() => store.count()), log: createSinkLogger(() => {}), now: () => now });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const get = (q: string, token = 'good') => fetch(`${base}/api/offenders${q}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const refused = await get('', '');
  t.equal(refused.status, 401);
  t.match(await refused.json(), { error: { code: 'COL_ERR_UNAUTHENTICATED' } });
  const answer = await get('');
  t.equal(answer.status, 200);
  const body = (await answer.json()) as { calls: number; clients: { name: string }[]; edges: unknown[]; since: string; until: string };
  t.equal(body.calls, 9);
  t.same(body.clients.map((c) => c.name), ['10.1.1.1', 'shop/frontend']);
  t.equal(body.until, now.toString());
  const hidden = (await (await get('', 'ops')).json()) as { calls: number; clients: unknown[] };
  t.same([hidden.calls, hidden.clients], [0, []], 'a viewer limited to another namespace counts none of these calls');
  const byLimited = (await (await get('?by=rate_limited&limit=1')).json()) as { clients: { name: string }[] };
  t.same(byLimited.clients.map((c) => c.name), ['shop/frontend']);
  const recent = (await (await get('?since=30s')).json()) as { calls: number };
  t.equal(recent.calls, 0, 'a window that starts after the calls holds none');
  for (const [q, message] of [
    ['?limit=0', /limit must be an integer from 1 to 200/],
    ['?by=slowest', /by must be one of score, retry, timeout, rate_limited/],
    ['?since=tomorrow', /since must be/],
  ] as const) {
    const bad = await get(q);
    t.equal(bad.status, 400, q);
    t.match(((await bad.json()) as { error: { code: string; message: string } }).error, { code: 'COL_ERR_BAD_QUERY', message }, q);
  }
});

void t.test('the stores keep retry_after_honoured (collector-set, not in the proto)', async (t) => {
  const tracker = createRetryTracker();
  const limited = callRecord({ id: 's1', at: 0, method: 'GET', path: '/r', status: 503, src: shop('bot'), dst: shop('api') });
  limited.response = { headers: { 'retry-after': '1' }, body: new Uint8Array(), body_size: 0, truncated: false };
  tracker.mark(limited);
  const again = tracker.mark(callRecord({ id: 's2', at: 1500, method: 'GET', path: '/r', status: 200, src: shop('bot'), dst: shop('api') }));
  t.equal(again.retry_after_honoured, true, 'waited 1.5 s after a Retry-After of 1');
  for (const store of [createSqliteStore({ path: ':memory:', retentionIntervalMs: 0 }), createMemoryStore({ maxRecords: 10 })]) {
    await store.add([limited, again]);
    t.match(await store.get('s2'), { attempt: 2, first_attempt_id: 's1', retry_after_honoured: true });
    await store.close();
  }
});
