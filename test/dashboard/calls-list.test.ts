/**
 * The call list in Debian's Chromium under a filter that matches one side of a meshed call:
 * the list asks for calls (`view=call`), so the row shows both observations and the caller's
 * latency, listed or live; times are UTC and say so, whatever the browser's zone; the method
 * stays in sight in a narrow window; a filter that does not compile says the rows are the
 * previous filter's.
 */
import t from 'tap';
import type { CallRecord } from '../../record/record.ts';
import { openBrowser, startDashboardBackend, waitFor, type BrowserSession, type DashboardBackend } from './harness.ts';
import { ep, observation as observationAt } from './observation.ts';

/** Connection `conn`'s first exchange as `observer` saw it: the response's bytes all at its end, to payment. */
function observation(conn: string, observer: 'outbound' | 'inbound', atMs: number, elapsedUs: number, extra: Partial<CallRecord> = {}): CallRecord {
  const id = `${conn}-${observer === 'outbound' ? 'o' : 'i'}0`;
  return observationAt(id, observer, conn, 0, atMs, [0, elapsedUs, elapsedUs], { dst: ep('payment', '10.244.0.3', 8080), ...extra });
}

/** Where a client sends: payment's service address, no pod (only the server's side knows which pod answered). */
const toService: Partial<CallRecord> = { dst: { ip: '10.96.0.30', port: 80, namespace: 'shop', service: 'payment' } };

// A meshed call: the client saw 20 ms, the server 14 ms. A GET to the same path, client only.
const meshed = [observation('m', 'outbound', 0, 20_000, toService), observation('m', 'inbound', 3, 14_000)];
const get = observation('g', 'outbound', 100, 1_000, { ...toService, method: 'GET', tls: { mesh: false } });

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed([...meshed, get]);
  // A zone far from UTC, so a local clock cannot pass for a UTC one.
  session = await openBrowser({ timezoneId: 'America/Los_Angeles' });
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

const rows = () =>
  session.page.$$eval('tbody tr.call-row', (els) =>
    els.map((r) => ({ id: r.getAttribute('data-id'), call: r.getAttribute('data-call'), sides: r.getAttribute('data-sides'), text: (r as any).innerText as string })),
  );
const open = async (filter: string) => {
  // A fresh page: with only the hash changed the old filter's rows (and its live status) would still be there to read.
  await session.page.goto('about:blank');
  await session.page.goto(`${backend.baseUrl}#/calls?filter=${encodeURIComponent(filter)}`);
  await session.page.locator('.feed-status.live').waitFor();
};

for (const filter of ['observer == "inbound" && http', 'dst.pod.startsWith("payment")']) {
  void t.test(`a filter matching the server's record only (${filter}): the call is seen by both, with the caller's latency`, async (t) => {
    await open(filter);
    await waitFor('the meshed call', async () => (await rows()).some((r) => r.call === 'm:0'));
    const listed = await rows();
    t.equal(listed.length, 1, 'one row, the GET does not match');
    t.match(listed[0], { id: 'm-o0', call: 'm:0', sides: 'both' }, 'both observations, opening the client record');
    t.notMatch(listed[0].text, /-only/);
    t.match(listed[0].text, /20\.0 ms/, "the caller's latency");
    t.notMatch(listed[0].text, /14\.0 ms/);
  });
}

void t.test('live, under that filter: the server record arrives alone on the stream and is joined with its client record; no duplicates', async (t) => {
  await open('observer == "inbound" && http');
  await waitFor('listed', async () => (await rows()).length === 1);
  // Both records stored after the page loaded; only the server's matches the filter.
  await backend.feed([observation('live', 'outbound', 900, 30_000), observation('live', 'inbound', 901, 25_000)]);
  await waitFor('the live call joined', async () => (await rows()).some((r) => r.call === 'live:0' && r.sides === 'both'), 15_000);
  const all = await rows();
  t.same(all.map((r) => r.call), ['live:0', 'm:0'], 'one row per call, the newest on top');
  t.match(all[0], { id: 'live-o0', sides: 'both' });
  t.match(all[0].text, /30\.0 ms/, "the caller's latency");
  t.match(await session.page.locator('.feed-status').textContent(), /2 calls/);

  // Observations: the records the filter matched, and only those.
  await session.page.locator('button[data-mode="records"]').click();
  await waitFor('observation rows', async () => (await rows()).every((r) => r.id?.endsWith('-i0')) && (await rows()).length === 2);
  t.same((await rows()).map((r) => r.id).sort(), ['live-i0', 'm-i0']);
  await session.page.locator('button[data-mode="calls"]').click();
  await waitFor('calls again', async () => (await rows()).length === 2 && (await rows()).every((r) => r.sides === 'both'));
});

void t.test('times are UTC everywhere, and the list says so', async (t) => {
  const { page } = session;
  await open('');
  await waitFor('rows', async () => (await rows()).length === 2 || (await rows()).length === 3);
  t.match(await page.locator('thead th.c-time').textContent(), /UTC/);
  const cell = page.locator('tr.call-row[data-id="g-o0"] td.c-time');
  const start = new Date(Number(get.start / 1_000_000n));
  t.equal(await cell.textContent(), start.toISOString().slice(11, 23), 'the UTC clock, not Los Angeles time');
  t.match(await cell.getAttribute('title'), new RegExp(`^${start.toISOString().slice(0, 19)}\\.\\d{6}Z$`), 'the full UTC time on hover');
  await page.locator('tr.call-row[data-id="g-o0"]').click();
  const timing = page.locator('aside.detail section[aria-label="Timing"] table.timing');
  await timing.waitFor();
  t.match(await timing.textContent(), new RegExp(start.toISOString().slice(0, 19)), 'the detail shows the same UTC time');
});

void t.test('a narrow window keeps the method in sight: GET and POST to one path differ', async (t) => {
  const { page } = session;
  await page.setViewportSize({ width: 800, height: 700 });
  await open('path == "/charge" && observer == "outbound"');
  await waitFor('rows', async () => (await rows()).length >= 2);
  t.equal(await page.locator('thead th.c-method').isVisible(), false, 'no room for the Method column');
  const path = async (id: string) => page.locator(`tr.call-row[data-id="${id}"] td.c-path`).evaluate((e) => (e as any).innerText as string);
  t.match(await path('g-o0'), /^GET\s+\/charge$/);
  t.match(await path('m-o0'), /^POST\s+\/charge$/);
  await session.screenshot('calls-list-narrow-method');
  await page.setViewportSize({ width: 1400, height: 860 });
  t.match(await path('g-o0'), /^\/charge$/, 'in a wide window the Method column has it');
  t.equal(await page.locator('tr.call-row[data-id="g-o0"] td.c-method').textContent(), 'GET');
});

void t.test('a filter that does not compile: the rows shown are said to be the previous filter\'s', async (t) => {
  const { page } = session;
  await open('method == "GET"');
  await waitFor('rows', async () => (await rows()).length === 1);
  const input = page.locator('#filter-input');
  await input.fill('method == ');
  await page.locator('#filter-error:not([hidden])').waitFor();
  const stale = page.locator('#filter-error .filter-stale');
  t.match(await stale.textContent(), /previous filter\s*method == "GET"/);
  t.equal(await page.locator('section.stream').getAttribute('class'), 'stream stale', 'the list is marked as not the filter in the box');
  t.equal((await rows()).length, 1, 'still the previous filter\'s rows');
  await session.screenshot('calls-list-stale-filter');
  await input.fill('method == "POST"');
  await page.locator('#filter-error[hidden]').waitFor({ state: 'attached' });
  t.equal(await page.locator('section.stream').getAttribute('class'), 'stream');
  await input.fill('');
  await input.fill('nope(');
  await page.locator('#filter-error .filter-stale').waitFor();
  t.match(await page.locator('#filter-error .filter-stale').textContent(), /previous filter\s*method == "POST"/);
  const pageErrors = session.errors.filter((e) => !/status of 400/.test(e));
  t.same(pageErrors, [], 'no page errors (the 400s of checking a bad filter aside)');
});

void t.test('Escape does one thing: with a call open it closes the call (the filter kept, the focus back on its row); with none open the filter box clears itself', async (t) => {
  const { page } = session;
  await page.setViewportSize({ width: 1400, height: 860 });
  const filter = 'connection_id == "m"';
  const filtered = `#/calls?${new URLSearchParams({ filter })}`;
  await open(filter);
  await waitFor('rows', async () => (await rows()).length === 1);
  const focused = () => page.evaluate(() => {
    const active = (globalThis as any).document.activeElement;
    return (active?.id || active?.getAttribute('data-id') || active?.tagName) as string;
  });
  const input = page.locator('#filter-input');

  // In the filter box, with a call open.
  await page.locator('tr.call-row[data-id="m-o0"]').click();
  await page.locator('aside.detail').waitFor();
  await input.focus();
  await page.keyboard.press('Escape');
  await page.locator('aside.detail').waitFor({ state: 'detached' });
  t.equal(await input.inputValue(), filter, 'the filter box keeps its text');
  // Longer than the filter box's debounce: an emptied box would have been applied by now.
  await page.waitForTimeout(600);
  t.equal(new URL(page.url()).hash, filtered, 'the URL keeps the filter');
  t.same((await rows()).map((r) => r.id), ['m-o0'], 'the list is still filtered');
  t.equal(await focused(), 'filter-input', 'the focus stays where the reader typed');

  // In the panel: the focus goes back to the row that opened it.
  await page.locator('tr.call-row[data-id="m-o0"]').click();
  await page.locator('aside.detail').waitFor();
  await waitFor('the panel has the focus', async () => (await focused()) === 'ASIDE');
  await page.keyboard.press('Escape');
  await page.locator('aside.detail').waitFor({ state: 'detached' });
  await waitFor('the focus back on the row', async () => (await focused()) === 'm-o0');
  t.equal(await focused(), 'm-o0');
  t.equal(new URL(page.url()).hash, filtered);

  // No call open: Escape in the filter box empties it, as before.
  await input.focus();
  await page.keyboard.press('Escape');
  await page.waitForURL((u) => u.hash === '#/calls');
  t.equal(await input.inputValue(), '');
  await waitFor('every call listed', async () => (await rows()).length === 3);
});
