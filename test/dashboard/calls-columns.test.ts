/**
 * The call list's columns in Debian's Chromium at 1280 and 900 px, and at 1280 px with a call's
 * detail beside the list: an error name in the Status column is shown in full (the column fits
 * the widest status listed, the full outcome on hover), the short columns (time, method,
 * latency, size, protocol) are never cut, and the path keeps room.
 */
import t from 'tap';
import type { CallRecord } from '../../record/record.ts';
import { openBrowser, startDashboardBackend, waitFor, type BrowserSession, type DashboardBackend } from './harness.ts';
import { ep, observation } from './observation.ts';

const failed = (id: string, atMs: number, extra: Partial<CallRecord>) => observation(id, 'outbound', id, 0, atMs, [10, 20, 30], { status_code: undefined, tls: { mesh: false }, ...extra });
const records = [
  observation('ok-o0', 'outbound', 'ok', 0, 0, [400, 18_400, 20_000]),
  observation('ok-i0', 'inbound', 'ok', 0, 3, [300, 12_300, 14_000]),
  failed('unreachable', 10, { path: '/api/v1/orders/12345/items', error: 'upstream_unreachable', error_detail: 'connect ECONNREFUSED 10.244.1.9:8080' }),
  failed('gave-up', 20, { path: '/slow', error: 'client_timeout' }),
  failed('cut', 30, { path: '/upload', error: 'capture_overflow', src: ep('checkout-frontend', '10.244.0.9', 41000), dst: ep('inventory-reservations', '10.244.0.10', 8080) }),
  failed('grpc', 40, { protocol: 'grpc', path: '/shop.Pay/Charge', status_code: 200, grpc_status: 14, grpc_message: 'no healthy upstream' }),
  failed('sql', 50, { protocol: 'postgres', method: undefined, path: 'SELECT * FROM orders WHERE id = $1' }),
];

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed(records);
  session = await openBrowser({ width: 1280, height: 800 });
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

type Cell = { id: string; column: string; text: string; title: string | null; cut: boolean; width: number };

/** Every shown cell of the list: whether its content overflows it (an ellipsis or a clipped pill). */
const cells = (): Promise<Cell[]> =>
  session.page.$$eval('tbody tr.call-row td', (tds) =>
    tds
      .filter((td) => (td as any).offsetParent !== null)
      .map((td) => {
        const pill = td.querySelector('.status-pill');
        const box = td.getBoundingClientRect();
        const style = (globalThis as any).getComputedStyle(td);
        const inner = box.right - parseFloat(style.paddingRight);
        return {
          id: td.closest('tr')!.getAttribute('data-id')!,
          column: [...td.classList].find((c) => c.startsWith('c-') && c !== 'c-num') ?? (td.classList.contains('c-size') ? 'c-size' : 'c-latency'),
          text: (td as any).innerText as string,
          title: td.getAttribute('title'),
          cut: td.scrollWidth > td.clientWidth || (pill !== null && pill.getBoundingClientRect().right > inner + 0.5),
          width: box.width,
        };
      }),
  );

const layouts = [
  { name: '1280 px', width: 1280, hash: '#/calls' },
  { name: '900 px', width: 900, hash: '#/calls' },
  { name: '700 px', width: 700, hash: '#/calls' },
  { name: '1280 px with a call open beside the list', width: 1280, hash: '#/calls/ok-o0' },
];

for (const layout of layouts) {
  void t.test(`${layout.name}: every status in full, the short columns uncut, the path with room`, async (t) => {
    const { page } = session;
    await page.setViewportSize({ width: layout.width, height: 800 });
    await page.goto(`${backend.baseUrl}${layout.hash}`);
    await waitFor('rows', async () => (await page.locator('tbody tr.call-row').count()) === 6);
    if (layout.hash !== '#/calls') await page.locator('aside.detail section[aria-label="Identities"]').waitFor();
    const all = await cells();
    const status = all.filter((c) => c.column === 'c-status');
    t.same(status.map((c) => c.text).sort(), ['200', 'capture_overflow', 'client_timeout', '200 UNAVAILABLE', 'upstream_unreachable', '—'].sort());
    for (const c of status) t.notOk(c.cut, `${c.text} shown in full`);
    for (const c of all.filter((x) => ['c-time', 'c-method', 'c-latency', 'c-size', 'c-proto'].includes(x.column))) t.notOk(c.cut, `${c.column} of ${c.id} (${c.text}) not cut`);
    const path = all.filter((c) => c.column === 'c-path');
    t.ok(Math.min(...path.map((c) => c.width)) >= 120, `the path keeps room: ${Math.round(path[0].width)} px`);
    if (layout.width <= 760) {
      const route = all.find((c) => c.column === 'c-route')!;
      t.ok(path[0].width > route.width, `a narrow list gives the path (${Math.round(path[0].width)} px) more than the route (${Math.round(route.width)} px)`);
    }
    if (layout.hash === '#/calls') t.equal(await page.locator('tr.call-row[aria-selected="true"]').count(), 0, 'no call open, no row selected');
    t.equal(status.find((c) => c.id === 'unreachable')!.title, 'upstream_unreachable — connect ECONNREFUSED 10.244.1.9:8080', 'the whole outcome on hover');
    t.equal(status.find((c) => c.id === 'grpc')!.title, 'gRPC status 14 UNAVAILABLE: no healthy upstream (HTTP 200)');
    const align = await page.$$eval('thead th.c-num', (ths) => ths.filter((th) => (th as any).offsetParent !== null).map((th) => (globalThis as any).getComputedStyle(th).textAlign as string));
    t.ok(align.length > 0 && align.every((a) => a === 'right'), 'number headings over their right-aligned numbers');
    await session.screenshot(`calls-columns-${layout.width}${layout.hash === '#/calls' ? '' : '-detail'}`);
  });
}

void t.test('a narrow window: the header keeps its height and no link or button label wraps', async (t) => {
  const { page } = session;
  for (const width of [480, 600]) {
    await page.setViewportSize({ width, height: 800 });
    await page.goto(`${backend.baseUrl}#/calls`);
    await waitFor('rows', async () => (await page.locator('tbody tr.call-row').count()) === 6);
    const header = await page.locator('.app-header').evaluate((e) => e.getBoundingClientRect().height);
    t.equal(Math.round(header), 48, `${width} px: the header is one row`);
    const wrapped = await page.$$eval('.app-header nav a, .sign-out, .toolbar button, .toolbar .button', (els) =>
      els
        .filter((e) => (e as any).offsetParent !== null)
        .filter((e) => {
          const range = (globalThis as any).document.createRange();
          range.selectNodeContents(e);
          const tops = new Set([...range.getClientRects()].map((r: any) => Math.round(r.top)));
          return tops.size > 1;
        })
        .map((e) => (e.textContent ?? '').trim()),
    );
    t.same(wrapped, [], `${width} px: every label on one line`);
    const outside = await page.$$eval('.app-header nav a, .sign-out, .toolbar button, .toolbar .button', (els, w) =>
      els.filter((e) => (e as any).offsetParent !== null && !e.closest('nav') && e.getBoundingClientRect().right > w).map((e) => (e.textContent ?? '').trim()), width);
    t.same(outside, [], `${width} px: no button past the window's edge`);
    await session.screenshot(`calls-narrow-${width}`);
  }
});

void t.test('a list without errors keeps a narrow Status column', async (t) => {
  const { page } = session;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${backend.baseUrl}#/calls?filter=${encodeURIComponent('status_code == 200 && protocol == "http"')}`);
  await waitFor('the one OK call', async () => (await page.locator('tbody tr.call-row').count()) === 1);
  const width = await page.locator('thead th.c-status').evaluate((e) => e.getBoundingClientRect().width);
  t.ok(width <= 80, `as wide as "200" and its title need: ${width} px`);
  t.match(await page.locator('.feed-status').textContent(), /· 1 call$/, 'one call, not "1 calls"');
  t.same(session.errors, [], 'no page or console errors');
});
