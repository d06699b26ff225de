/**
 * The trace waterfall in Debian's Chromium: sibling calls listed in the order their corrected
 * bars start (a callee's sidecar clock running behind does not move its call up the list), and
 * a label cut for room says all of itself on hover.
 */
import t from 'tap';
import { buildCallPair } from '../fixtures/dashboard/shop-calls.ts';
import { openBrowser, startDashboardBackend, type BrowserSession, type DashboardBackend } from './harness.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const baseNs = BigInt(Date.now()) * 1_000_000n - 5_000_000_000n;
const longPath = `/catalog/items/${'sku-'.repeat(40)}42`;
const call = (id: string, from: string, to: string, path: string, atMs: number, elapsedMs: number, connection: number) =>
  buildCallPair({ id, from, to, method: 'GET', path, status: 200, atMs, elapsedMs, traceId: TRACE_ID, parentSpanId: 'b7ad6b7169203331' }, baseNs, connection);

// gateway calls catalog at +5 ms, then auth at +10 ms; auth's sidecar clock runs 8 ms behind, so
// its record of the call says it began at +2.2 ms, before catalog's.
const root = call('root', 'frontend', 'gateway', '/api/checkout', 0, 100, 1);
const catalog = call('catalog', 'gateway', 'catalog', longPath, 5, 3, 2);
const auth = call('auth', 'gateway', 'auth', '/verify', 10, 20, 3);
const SKEW_NS = 8_000_000n;
for (const r of auth.filter((r) => r.observer === 'inbound')) {
  r.start -= SKEW_NS;
  r.end -= SKEW_NS;
  if (r.request_end !== undefined) r.request_end -= SKEW_NS;
  if (r.response_start !== undefined) r.response_start -= SKEW_NS;
}

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed([...root, ...catalog, ...auth]);
  session = await openBrowser({ width: 1280, height: 800 });
  await session.page.goto(`${backend.baseUrl}#/trace/${TRACE_ID}`);
  await session.page.locator('.wf-row[data-depth="1"]').first().waitFor();
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

void t.test('siblings in the order of their corrected starts, as their bars are drawn', async (t) => {
  const { page } = session;
  const rows = await page.locator('.wf-row[data-depth="1"]').evaluateAll((els) =>
    els.map((e) => ({ label: e.querySelector('.wf-call')?.textContent ?? '', left: Math.min(...[...e.querySelectorAll('.wf-bar')].map((b) => b.getBoundingClientRect().left)) })),
  );
  t.equal(rows.length, 2);
  t.match(rows[0].label, /gateway\s*→\s*catalog/, 'catalog first: it began first');
  t.match(rows[1].label, /gateway\s*→\s*auth/);
  t.ok(rows[0].left <= rows[1].left, 'the bars agree');
  t.match(await page.locator('.wf-row[data-depth="1"]').nth(1).locator('.wf-bar.server').getAttribute('title'), /clock skew: moved/, "auth's view was moved for skew");
  await session.screenshot('trace-skewed-siblings');
});

void t.test('a label cut for room has the whole of it as its title', async (t) => {
  const label = session.page.locator('.wf-row[data-depth="1"] a.wf-call', { hasText: 'catalog' });
  t.ok(await label.evaluate((a) => a.scrollWidth > a.clientWidth), 'the label is cut');
  t.equal(await label.getAttribute('title'), `gateway → catalog GET ${longPath}`);
  t.equal(await session.page.locator('.wf-row[data-depth="0"] a.wf-call').getAttribute('title'), 'frontend → gateway GET /api/checkout');
});

void t.test('a trace id the collector joined into another opens that trace, says so, and streams it', async (t) => {
  const flow = 'cd'.repeat(16);
  const minted = 'ef'.repeat(16);
  const first = buildCallPair({ id: 'first', from: 'frontend', to: 'gateway', method: 'POST', path: '/checkout', status: 201, atMs: 0, elapsedMs: 50, traceId: flow }, baseNs, 20);
  const next = buildCallPair({ id: 'next', from: 'gateway', to: 'payment', method: 'POST', path: '/charge', status: 200, atMs: 5, elapsedMs: 10, traceId: minted, parentSpanId: '5555555555555555' }, baseNs, 21);
  for (const r of next) if (r.observer === 'outbound') r.caused_by_trace_id = flow;
  await backend.feed([...first, ...next]);
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/trace/${minted}`);
  await page.locator('.view-title', { hasText: flow }).waitFor();
  t.match(await page.locator('.view-title').textContent(), flow, 'the trace answered');
  t.match(await page.locator('.joined-from').textContent(), `${minted} was joined into this trace`);
  t.equal(await page.locator('.wf-row').count(), 3, 'both calls, under the axis row');
  t.match(decodeURIComponent(((await page.getByRole('link', { name: 'Show in stream' }).getAttribute('href')) ?? '').replace(/\+/g, ' ')), `trace_id == "${flow}"`);
});
