/**
 * The call list in Debian's Chromium, one row per call: a meshed call's two records joined, a
 * one-sided call marked, the toggle to one row per observation; the call detail's observation
 * tabs, its header and identities (a two-sided call's destination as the server saw it), and its
 * "where the time went" timeline (the connection's set-up inside the client latency); the
 * worst-offenders view (web: 5 calls by the end,
 * one a client_timeout; bot: a 429 and a retry that did not wait).
 */
import t from 'tap';
import { openBrowser, SCREENSHOT_DIR, startDashboardBackend, waitFor, type BrowserSession, type DashboardBackend } from './harness.ts';
import { ep, observation } from './observation.ts';

// Call "a" opened its connection: connect 1.5 ms, mTLS 3 ms, queued 0.2 ms; client 20 ms, server 14 ms.
// The client dialled the pay Service's virtual IP; the server's sidecar knows the pod, its node and IP.
const callA = [
  observation('a-o0', 'outbound', 'a', 0, 0, [400, 18_400, 20_000], {
    connection: { connect_us: 1_500, tls_handshake_us: 3_000, exchanges: 1 },
    queue_us: 200,
    dst: { ip: '10.96.12.40', port: 80, namespace: 'shop', service: 'pay' },
  }),
  observation('a-i0', 'inbound', 'a', 0, 3, [300, 12_300, 14_000], { dst: { ...ep('pay', '10.244.1.7', 8080), pod: 'pay-7d9f-x2k', node: 'worker-2' } }),
];
const callB = [observation('a-o1', 'outbound', 'a', 1, 100, [100, 900, 1_000]), observation('a-i1', 'inbound', 'a', 1, 100, [100, 600, 700])];
// An unmeshed peer: only the client's sidecar saw it.
const oneSided = observation('x-o0', 'outbound', 'x', 0, 200, [100, 400, 500], { tls: { mesh: false }, dst: { ip: '93.184.216.34', port: 443 }, path: '/external' });
// A bot that retries a 429 (Retry-After: 2) after 100 ms, and a client that times out.
const limited = observation('bot-o0', 'outbound', 'bot1', 0, 300, [10, 20, 30], {
  src: ep('bot', '10.244.0.9', 41000),
  path: '/quote',
  status_code: 429,
  response: { headers: { 'retry-after': '2' }, body: new Uint8Array(), body_size: 0, truncated: false },
  tls: { mesh: false },
});
const retried = observation('bot-o1', 'outbound', 'bot2', 0, 400, [10, 20, 30], { src: ep('bot', '10.244.0.9', 41001), path: '/quote', tls: { mesh: false } });
const gaveUp = observation('web-t0', 'outbound', 't', 0, 500, [10, 20, 30], { path: '/slow', status_code: undefined, error: 'client_timeout', tls: { mesh: false } });
const records = [...callA, ...callB, oneSided, limited, retried, gaveUp];

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

const rows = () => session.page.$$eval('tbody tr.call-row', (els) => els.map((r) => ({ id: r.getAttribute('data-id'), call: r.getAttribute('data-call'), sides: r.getAttribute('data-sides'), text: r.textContent ?? '' })));

void t.test('one row per call by default; a one-sided call is marked; the toggle shows every observation', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/calls`);
  await waitFor('rows', async () => (await rows()).length === 6);
  const byCall = new Map((await rows()).map((r) => [r.call, r]));
  t.same([...byCall.keys()].sort(), ['a:0', 'a:1', 'bot1:0', 'bot2:0', 't:0', 'x:0']);
  t.match(byCall.get('a:0'), { id: 'a-o0', sides: 'both' }, 'the meshed call once, opening the client record');
  t.match(byCall.get('a:1'), { id: 'a-o1', sides: 'both' });
  t.match(byCall.get('x:0'), { id: 'x-o0', sides: 'client' });
  t.match(byCall.get('x:0')!.text, /client-only/, 'marked');
  t.notMatch(byCall.get('a:0')!.text, /-only/, 'a joined call is not marked');
  t.match(await page.locator('.feed-status').textContent(), /6 calls/);
  await session.screenshot('calls-01-one-row-per-call');

  await page.locator('button[data-mode="records"]').click();
  await waitFor('observation rows', async () => (await rows()).length === records.length);
  t.equal((await rows()).length, 8, 'the two meshed calls count twice, the other four once');
  t.same((await rows()).map((r) => r.id).sort(), records.map((r) => r.id).sort());
  t.match(await page.locator('.feed-status').textContent(), /8 observations/);
  await page.reload();
  await waitFor('the choice survives a reload', async () => (await rows()).length === 8);
  await page.locator('button[data-mode="calls"]').click();
  await waitFor('back to calls', async () => (await rows()).length === 6);
});

void t.test('live: a call arriving after the page loaded is one row, joined once its partner arrives', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/calls`);
  await waitFor('rows', async () => (await rows()).length === 6);
  // The server sidecar's record first, the client's later: the row is one-sided, then joined.
  await backend.feed([observation('live-i0', 'inbound', 'live', 0, 900, [100, 300, 400])]);
  await waitFor('the one-sided live row', async () => (await rows()).some((r) => r.call === 'live:0' && r.sides === 'server'));
  t.match((await rows()).find((r) => r.call === 'live:0')!.text, /server-only/);
  await backend.feed([observation('live-o0', 'outbound', 'live', 0, 899, [100, 500, 600])]);
  await waitFor('joined', async () => (await rows()).some((r) => r.call === 'live:0' && r.sides === 'both'));
  const live = (await rows()).filter((r) => r.call === 'live:0');
  t.equal(live.length, 1, 'still one row');
  t.match(live[0], { id: 'live-o0', sides: 'both' }, 'now opening the client record');
  t.equal((await rows()).length, 7);
});

void t.test('the call detail: both observations as tabs, and where the time went', async (t) => {
  const { page } = session;
  await page.locator('tr.call-row[data-call="a:0"]').click();
  const detail = page.locator('aside.detail');
  const timeline = detail.locator('section[aria-label="Where the time went"]');
  await timeline.waitFor();
  const phases = await timeline.locator('.tl-row').evaluateAll((els) =>
    els.map((e) => ({ phase: e.getAttribute('data-phase'), us: Number(e.getAttribute('data-us')), value: e.querySelector('.tl-value')?.textContent, width: (e.querySelector('.tl-bar') as any).getBoundingClientRect().width })),
  );
  const us = Object.fromEntries(phases.map((p) => [p.phase, p.us]));
  t.same(us, { connect: 1_500, tls: 3_000, queue: 200, client: 20_000, 'client-first-byte': 18_000, network: 6_000, server: 14_000, 'server-first-byte': 12_000 });
  t.same(Object.fromEntries(phases.map((p) => [p.phase, p.value])), {
    connect: '1.50 ms',
    tls: '3.00 ms',
    queue: '200 µs',
    client: '20.0 ms',
    'client-first-byte': '18.0 ms',
    network: '6.00 ms',
    server: '14.0 ms',
    'server-first-byte': '12.0 ms',
  });
  const width = Object.fromEntries(phases.map((p) => [p.phase, p.width]));
  t.ok(Math.abs(width.client / width.server - 20 / 14) < 0.02, `bars to scale: client/server ${width.client / width.server}`);
  t.ok(Math.abs(width.tls / width.connect - 2) < 0.05, `bars to scale: tls/connect ${width.tls / width.connect}`);
  t.match(await timeline.locator('.tl-row[data-phase="network"] .tl-bar').getAttribute('title'), /network \+ mesh: 6\.00 ms/);

  // The connect and the handshake are parts of the client latency: listed under it, indented,
  // start-aligned inside its span, and drawn inside its bar.
  const order = phases.map((p) => p.phase);
  t.ok(order.indexOf('client') < order.indexOf('connect') && order.indexOf('connect') < order.indexOf('tls'), `listed under the client latency: ${order.join(', ')}`);
  const box = async (selector: string) => timeline.locator(selector).evaluate((e) => {
    const r = (e as any).getBoundingClientRect();
    return { left: r.left as number, right: r.right as number };
  });
  const client = await box('.tl-row[data-phase="client"] .tl-bar');
  for (const phase of ['connect', 'tls']) {
    const row = timeline.locator(`.tl-row[data-phase="${phase}"]`);
    t.equal(await row.getAttribute('data-within'), 'client', `${phase} marked as part of the client latency`);
    t.match(await row.getAttribute('class'), /\bnested\b/);
    t.match(await row.locator('.tl-label').textContent(), /^↳ .*part of the client latency$/);
    const bar = await box(`.tl-row[data-phase="${phase}"] .tl-bar`);
    t.ok(bar.left >= client.left - 0.5 && bar.right <= client.right + 0.5, `${phase} drawn within the client latency's span`);
    const part = await box(`.tl-row[data-phase="client"] .tl-part[data-phase="${phase}"]`);
    t.ok(Math.abs(part.left - bar.left) < 1 && Math.abs(part.right - bar.right) < 1, `${phase} drawn inside the client bar where its own row draws it`);
  }
  t.equal(Math.round((await box('.tl-row[data-phase="connect"] .tl-bar')).left), Math.round(client.left), 'the connect starts where the client latency starts');
  t.match(await timeline.locator('.tl-note').textContent(), /TCP connect and the mTLS handshake are part of the client latency/);

  // The header says what the panel says: both sidecars saw it.
  t.match(await detail.locator('section[aria-label="Call"] > h3').textContent(), /seen by both sidecars/);
  t.match(await detail.locator('.detail-sub').textContent(), /seen by both sidecars · showing the client observation/);
  t.notMatch(await detail.locator('.detail-sub').textContent(), /seen by the caller/);
  t.match(await detail.locator('.detail-sub').textContent(), /web → pay ·/);

  // The destination as the server saw it; the Service address the client dialled kept.
  const identities = async () =>
    Object.fromEntries(
      await detail.locator('section[aria-label="Identities"] tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-row'), [...tr.querySelectorAll('td')].map((td) => td.textContent)])),
    );
  const expected = { pod: ['web-0', 'pay-7d9f-x2k'], node: ['—', 'worker-2'], ip: ['10.244.0.2:40000', '10.244.1.7:8080'], dialled: ['', '10.96.12.40:80'] };
  await detail.locator('section[aria-label="Identities"]').waitFor();
  t.match(await identities(), expected, 'the client observation shown');
  t.match(await detail.locator('section[aria-label="Identities"] tr[data-row="dialled"] th').textContent(), 'client dialled');
  await detail.locator('section[aria-label="Identities"]').screenshot({ path: `${SCREENSHOT_DIR}/calls-02b-identities.png` });

  const tabs = detail.locator('[role="tab"]');
  t.equal(await tabs.count(), 2);
  t.equal(await detail.locator('[role="tab"][data-side="client"]').getAttribute('aria-selected'), 'true', 'the opened record is shown');
  t.match(await detail.locator('section[aria-label="Connection"]').textContent(), /a-o0/);
  await detail.locator('[role="tab"][data-side="server"]').click();
  await waitFor('the server observation', async () => /a-i0/.test((await detail.locator('section[aria-label="Connection"]').textContent()) ?? ''));
  t.match(await detail.locator('.detail-sub').textContent(), /seen by both sidecars · showing the server observation/);
  t.match(await identities(), expected, 'the server observation shown: the same ends');
  await session.screenshot('calls-02-detail-timeline');

  await page.goto(`${backend.baseUrl}#/calls/x-o0`);
  await detail.locator('section[aria-label="Call"]').waitFor();
  t.match(await detail.locator('section[aria-label="Call"] > h3').textContent(), /client-only/);
  t.match(await detail.locator('.detail-sub').textContent(), /seen only by the client sidecar \(the caller\)/, 'the header agrees: one side');
  t.equal(await detail.locator('[role="tab"][data-side="server"]').isDisabled(), true, 'no server observation to show');
  t.match(await identities(), { pod: ['web-0', '—'], ip: ['10.244.0.2:40000', '93.184.216.34:443'] }, 'a one-sided call: its own observation');
  t.equal(await detail.locator('section[aria-label="Identities"] tr[data-row="dialled"]').count(), 0);
});

void t.test('worst offenders: the retrying and the timing-out clients, ranked', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/offenders`);
  const clients = page.locator('section.offenders[data-kind="clients"]');
  await clients.locator('tbody tr').first().waitFor();
  const cells = await clients.locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({ name: tr.getAttribute('data-name'), retry: tr.querySelector('[data-col="retry"]')?.textContent, timeout: tr.querySelector('[data-col="timeout"]')?.textContent, limited: tr.querySelector('[data-col="rate_limited"]')?.textContent, ignored: tr.querySelector('[data-col="ignored"]')?.textContent })),
  );
  t.same(cells, [
    { name: 'shop/bot', retry: '1 · 50%', timeout: '0 · 0%', limited: '1 · 50%', ignored: '1' },
    { name: 'shop/web', retry: '0 · 0%', timeout: '1 · 20%', limited: '0 · 0%', ignored: '0' },
  ]);
  await page.locator('button[data-by="timeout"]').click();
  await waitFor('ranked by timeouts', async () => (await clients.locator('tbody tr').count()) === 1);
  t.equal(await clients.locator('tbody tr').getAttribute('data-name'), 'shop/web');
  await session.screenshot('calls-03-offenders');
  t.same(session.errors.filter((e) => !/status of 400/.test(e)), [], 'no page or console errors');
});
