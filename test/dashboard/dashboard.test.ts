/**
 * The dashboard in Debian's Chromium against a real collector holding a small shop's calls:
 * stream, filter (good and bad), call detail, trace waterfall, service map, live arrival.
 * Screenshots go to out/screenshots/ for a person to look at; nothing compares pixels.
 */
import t from 'tap';
import {
  CHECKOUT_TRACE_ID,
  SHOP_EDGES,
  buildShopRecords,
  liveCall,
} from '../fixtures/dashboard/shop-calls.ts';
import { openBrowser, startDashboardBackend, waitFor, type BrowserSession, type DashboardBackend } from './harness.ts';

const baseNs = BigInt(Date.now()) * 1_000_000n;
const records = buildShopRecords(baseNs);

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed(records);
  session = await openBrowser();
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

const rowIds = () => session.page.$$eval('tbody tr.call-row', (rows) => rows.map((r) => r.getAttribute('data-id') ?? ''));
const shownCount = () => session.page.$eval('.feed-status .count', (el) => Number((el.textContent ?? '').replace(/\D/g, '')));

async function typeFilter(text: string): Promise<void> {
  const input = session.page.locator('#filter-input');
  await input.fill('');
  await input.pressSequentially(text, { delay: 5 });
}

void t.test('the stream lists the stored calls, newest on top, each row a keyboard stop', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/calls`);
  await waitFor('rows', async () => (await rowIds()).length > 0);
  // These tests look at observations (records): one row each, the choice kept for the session.
  await page.locator('button[data-mode="records"]').click();
  await waitFor('all calls counted', async () => (await shownCount()) === records.length);
  const ids = await rowIds();
  // The fixture's newest call is the checkout's payment hop (its two records).
  t.same(new Set(ids.slice(0, 2)), new Set(['checkout-gateway-payment-c', 'checkout-gateway-payment-s']));
  t.ok(ids.length < records.length + 1, 'no more rows than calls');
  const firstRow = page.locator('tbody tr.call-row').first();
  t.equal(await firstRow.getAttribute('tabindex'), '0');
  t.match(await firstRow.locator('.status-pill').getAttribute('class'), /server-error/, '503 coloured as a server error');
  t.equal(await firstRow.locator('svg.mesh-lock').count(), 1, 'mesh lock on a meshed call');
  await session.screenshot('01-stream');
});

void t.test('typing a filter narrows the rows to the matching calls', async (t) => {
  const { page } = session;
  await typeFilter('status_code >= 500');
  const expected = records.filter((r) => (r.status_code ?? 0) >= 500).map((r) => r.id).sort();
  await waitFor('filtered rows', async () => JSON.stringify((await rowIds()).sort()) === JSON.stringify(expected));
  t.same((await rowIds()).sort(), expected);
  t.equal(await shownCount(), expected.length);
  const statuses = await page.$$eval('tbody tr.call-row .status-pill', (els) => els.map((e) => Number(e.textContent)));
  t.ok(statuses.every((s) => s >= 500), `every shown status is 5xx: ${statuses.join(',')}`);
  t.equal(new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('filter'), 'status_code >= 500', 'the filter is in the URL');
  await session.screenshot('02-filtered');
});

void t.test('a bad filter shows the API error with a caret at its column; the last good filter stays applied', async (t) => {
  const { page } = session;
  const bad = 'status_code >= 500 && method ==';
  const answer = await fetch(`${backend.baseUrl}api/calls?limit=1&filter=${encodeURIComponent(bad)}`);
  t.equal(answer.status, 400);
  const { error } = (await answer.json()) as { error: { message: string; position: { column: number } } };
  await typeFilter(bad);
  const errorBox = page.locator('#filter-error');
  await errorBox.locator('.caret-view').waitFor({ state: 'visible' });
  t.match(await errorBox.textContent(), error.message);
  t.equal(await page.locator('#filter-input').getAttribute('aria-invalid'), 'true');
  const caretView = errorBox.locator('.caret-view');
  t.equal(Number(await caretView.getAttribute('data-column')), error.position.column);
  t.equal(await caretView.locator('code').textContent(), bad);
  t.equal(await caretView.locator('.caret').textContent(), `${' '.repeat(error.position.column - 1)}^`);
  t.equal(await shownCount(), records.filter((r) => (r.status_code ?? 0) >= 500).length, 'rows still follow the last valid filter');
  await session.screenshot('03-bad-filter');
});

void t.test('clicking a row opens the detail: pretty JSON bodies, masked header and body values, timing, identities', async (t) => {
  const { page } = session;
  await typeFilter('path == "/api/checkout"');
  await waitFor('checkout rows', async () => (await rowIds()).length === 2);
  t.equal(await page.locator('#filter-error .caret-view').count(), 0, 'the error is gone once the filter is valid');
  await page.locator('tr.call-row[data-id="checkout-frontend-gateway-c"]').click();
  const detail = page.locator('aside.detail');
  await detail.locator('section[data-side="request"]').waitFor();
  t.match(decodeURIComponent(new URL(page.url()).hash), /^#\/calls\/checkout-frontend-gateway-c/);

  const requestBody = await detail.locator('section[data-side="request"] pre.body').textContent();
  t.equal(await detail.locator('section[data-side="request"] pre.body').getAttribute('data-kind'), 'json');
  t.equal(requestBody, JSON.stringify({ cart: [{ sku: 'mug-42', qty: 2 }], customer: { id: 'user-42' } }, null, 2), 'request JSON pretty-printed');
  const responseBody = await detail.locator('section[data-side="response"] pre.body').textContent();
  t.match(responseBody, /\n {2}"error": "payment_unavailable"/);

  const auth = detail.locator('section[data-side="request"] tr[data-header="authorization"]');
  t.match(await auth.getAttribute('class'), /redacted/);
  t.match(await auth.textContent(), /Bearer \*{4}/, 'the masked value as the sidecar left it');
  t.equal(await auth.locator('.mask-badge').count(), 1);
  t.match(await detail.locator('.masking').textContent(), /request\.headers\.authorization/);

  t.match(await detail.locator('section[aria-label="Timing"]').textContent(), /request end.*response start.*end.*elapsed/s);
  const identities = await detail.locator('section[aria-label="Identities"]').textContent();
  for (const text of ['frontend-7d9f8c6b5-x2k9p', 'gateway-5c8d7f9b4-q7w2e', 'spiffe://cluster.local/ns/shop/sa/frontend', 'node-a']) {
    t.match(identities, text);
  }
  t.match(await detail.locator('section[aria-label="TLS"]').textContent(), /meshtap mTLS/);
  await session.screenshot('04-detail');

  // A masked card number inside a JSON body is marked.
  await typeFilter('path == "/pay"');
  await waitFor('pay rows', async () => (await rowIds()).length === 2);
  await page.locator('tr.call-row[data-id="checkout-gateway-payment-s"]').click();
  // The card number, and (since key families) its cvc beside it, are both marked.
  await page.locator('aside.detail section[data-side="request"] mark.masked-value').first().waitFor();
  t.match(await page.locator('aside.detail mark.masked-value').first().textContent(), /^\*{4}1111$/);
  t.match(await page.locator('aside.detail .masking').textContent(), /request\.body\.\$\.card\.number/);
  await session.screenshot('05-detail-masked-card');
});

void t.test('the trace link opens a waterfall with the hops nested under the checkout, client and server bars paired', async (t) => {
  const { page } = session;
  await page.locator('aside.detail a.trace-link').click();
  await page.locator('.waterfall .wf-row[data-depth]').first().waitFor();
  t.equal(new URL(page.url()).hash, `#/trace/${CHECKOUT_TRACE_ID}`);
  t.equal(await page.locator('.wf-row[data-depth="0"]').count(), 1, 'one root call');
  t.equal(await page.locator('.wf-row[data-depth="1"]').count(), 3, 'auth, catalog and payment under it');
  t.match(await page.locator('.wf-row[data-depth="0"]').textContent(), /frontend.*gateway.*\/api\/checkout/s);
  const children = await page.$$eval('.wf-row[data-depth="1"] .wf-call', (els) => els.map((e) => e.textContent ?? ''));
  t.match(children.join('|'), /auth.*catalog.*payment/s, 'children in time order');
  t.equal(await page.locator('.wf-row .wf-bar.client').count(), 4);
  t.equal(await page.locator('.wf-row .wf-bar.server.paired').count(), 4);
  const widths = await page.$$eval('.wf-row .wf-bar.client', (els) => els.map((e) => e.getBoundingClientRect()));
  const root = widths[0];
  for (const child of widths.slice(1)) {
    t.ok(child.left >= root.left - 0.5 && child.right <= root.right + 0.5, 'a child bar lies inside its parent on the time axis');
  }
  await session.screenshot('06-trace');
});

void t.test("the service map draws the shop's edges; an edge's panel links to its calls in the stream", async (t) => {
  const { page } = session;
  const map = (await (await fetch(`${backend.baseUrl}api/servicemap`)).json()) as { nodes: Array<{ id: string; workload?: string }> };
  const idOf = (workload: string) => map.nodes.find((n) => n.workload === workload)?.id;
  await page.goto(`${backend.baseUrl}#/map`);
  await page.locator('svg.service-map g.edge').first().waitFor();
  for (const [from, to] of SHOP_EDGES) {
    const edge = page.locator(`svg.service-map g.edge[data-source="${idOf(from)}"][data-target="${idOf(to)}"]`);
    t.equal(await edge.count(), 1, `edge ${from} → ${to}`);
    t.equal(await edge.locator('path.edge-line').count(), 1);
  }
  for (const workload of ['frontend', 'gateway', 'auth', 'catalog', 'payment']) {
    t.equal(await page.locator(`svg.service-map g.node[data-id="${idOf(workload)}"]`).count(), 1, `node ${workload}`);
  }
  t.match(await page.locator(`g.edge[data-source="${idOf('gateway')}"][data-target="${idOf('payment')}"]`).getAttribute('class'), /failing/, 'payment edge coloured as failing');
  await session.screenshot('07-service-map');

  await page.locator(`g.edge[data-source="${idOf('gateway')}"][data-target="${idOf('payment')}"] path.edge-hit`).click({ force: true });
  await page.locator('aside.edge-panel a.edge-calls-link').click();
  await page.waitForURL(/#\/calls\?filter=/);
  const expected = records.filter((r) => r.src.workload === 'gateway' && r.dst.workload === 'payment').map((r) => r.id).sort();
  await waitFor('edge calls', async () => JSON.stringify((await rowIds()).sort()) === JSON.stringify(expected));
  t.same((await rowIds()).sort(), expected);
  t.match(await page.locator('#filter-input').inputValue(), /src\.workload == "gateway" && .*dst\.workload == "payment"/);
  await session.screenshot('08-edge-filtered');
});

void t.test('a call stored after the page loaded appears live; pause holds new calls back', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/calls`);
  await typeFilter('');
  await waitFor('all rows', async () => (await shownCount()) === records.length);
  const first = liveCall(BigInt(Date.now()) * 1_000_000n, 9001);
  await backend.feed(first);
  await page.locator('tr.call-row[data-id="live-9001-c"]').waitFor({ timeout: 10_000 });
  t.equal((await rowIds())[0].startsWith('live-9001'), true, 'the new call is on top');
  t.equal(await shownCount(), records.length + 2);
  await session.screenshot('09-live');

  await page.getByRole('button', { name: 'Pause' }).click();
  await backend.feed(liveCall(BigInt(Date.now()) * 1_000_000n, 9002));
  await page.getByRole('button', { name: /Resume \(2 new\)/ }).waitFor({ timeout: 10_000 });
  t.equal(await page.locator('tr.call-row[data-id="live-9002-c"]').count(), 0, 'held while paused');
  await page.getByRole('button', { name: /Resume/ }).click();
  await page.locator('tr.call-row[data-id="live-9002-c"]').waitFor();
  t.equal(await shownCount(), records.length + 4);
});

void t.test('keyboard: arrows move between rows, Enter opens the call, Escape closes it', async (t) => {
  const { page } = session;
  await page.locator('tbody tr.call-row').first().focus();
  await page.keyboard.press('ArrowDown');
  // Runs in the page, where `document` exists (the tests' types have no DOM).
  const focusedIndex = () => page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute('data-index') as string | undefined);
  await waitFor('focus on the second row', async () => (await focusedIndex()) === '1');
  t.equal(await focusedIndex(), '1');
  await page.keyboard.press('Enter');
  await page.locator('aside.detail').waitFor();
  t.match(new URL(page.url()).hash, /^#\/calls\/.+/);
  await page.keyboard.press('Escape');
  await page.waitForURL((u) => u.hash === '#/calls');
  await page.locator('aside.detail').waitFor({ state: 'detached' });
  t.equal(await page.locator('aside.detail').count(), 0);
  // Escape the moment the panel is in the page (before a frame is painted) closes it too.
  await page.evaluate(() => {
    const g = globalThis as any;
    const observer = new g.MutationObserver(() => {
      if (g.document.querySelector('aside.detail') === null) return;
      observer.disconnect();
      g.dispatchEvent(new g.KeyboardEvent('keydown', { key: 'Escape' }));
    });
    observer.observe(g.document.body, { childList: true, subtree: true });
  });
  await page.locator('tbody tr.call-row').first().focus();
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.hash === '#/calls', { timeout: 10_000 });
  await page.locator('aside.detail').waitFor({ state: 'detached' });
  t.pass('an Escape as the panel appears closes it');
});

void t.test('dark mode renders and the page never left loopback', async (t) => {
  await session.page.emulateMedia({ colorScheme: 'dark' });
  await session.page.goto(`${backend.baseUrl}#/calls/checkout-gateway-payment-c`);
  await session.page.locator('aside.detail section[data-side="request"]').waitFor();
  await session.screenshot('10-detail-dark');
  await session.page.goto(`${backend.baseUrl}#/map`);
  await session.page.locator('svg.service-map g.edge').first().waitFor();
  await session.screenshot('11-map-dark');
  const origin = new URL(backend.baseUrl).origin;
  const outside = session.requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'));
  t.same(outside, [], 'no request outside the collector');
  // The filter checks answered 400 on purpose; the browser logs each such response.
  const errors = session.errors.filter((e) => !/status of 400/.test(e));
  t.same(errors, [], 'no page or console errors');
});

void t.test('Export HAR downloads the calls the filter matches', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/calls`);
  await typeFilter('path == "/api/checkout"');
  await waitFor('checkout rows', async () => (await rowIds()).length === 2);
  const link = page.locator('a.har-export');
  await waitFor('the link follows the filter', async () => ((await link.getAttribute('href')) ?? '').includes(encodeURIComponent('path == "/api/checkout"')));
  t.equal(await link.getAttribute('download'), 'meshtap.har');
  const href = new URL((await link.getAttribute('href'))!, page.url()).toString();
  const res = await page.request.get(href);
  t.equal(res.status(), 200);
  const har = (await res.json()) as { log: { version: string; entries: Array<{ request: { url: string; method: string } }> } };
  t.equal(har.log.version, '1.2');
  t.equal(har.log.entries.length, 1, 'one entry per call: both observations of the checkout are one call');
  t.match(har.log.entries[0].request, { method: 'POST', url: /\/api\/checkout$/ });
});
