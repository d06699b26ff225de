/**
 * A link to a call by its call id (`<connection id>:<ordinal>`, as `view=call` and the detail's
 * "call" line give it) in Debian's Chromium: it opens the same view as the call's record id does
 * (the client's observation when there is one, else the server's), the call id the detail copies
 * opens that view again, and a call id that names nothing is not found like a record id.
 */
import t from 'tap';
import { openBrowser, startDashboardBackend, waitFor, type BrowserSession, type DashboardBackend } from './harness.ts';
import { observation } from './observation.ts';

// Connection ids as a sidecar gives them; the ordinal well past 0, as on a long-lived connection.
const CONN = '6b16d523e821c64744ddc882';
const CALL_ID = `${CONN}:1549`;
const clientRecord = observation(`${CONN}-o1549`, 'outbound', CONN, 1549, 0, [400, 18_400, 20_000]);
const serverRecord = observation(`${CONN}-i1549`, 'inbound', CONN, 1549, 3, [300, 12_300, 14_000]);
// Only the callee's sidecar saw this one.
const SERVER_ONLY = '6b16d524c6127c6c3d777996';
const serverOnly = observation(`${SERVER_ONLY}-i2282`, 'inbound', SERVER_ONLY, 2282, 100, [100, 600, 700], { path: '/refund' });

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed([clientRecord, serverRecord, serverOnly]);
  session = await openBrowser();
  await session.page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(backend.baseUrl).origin });
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

const detail = () => session.page.locator('aside.detail');

/** Opens `#/calls/<id>` and waits until the detail shows the whole call (its overview and body). */
async function openCall(id: string, encode = true): Promise<void> {
  await session.page.goto(`${backend.baseUrl}#/calls/${encode ? encodeURIComponent(id) : id}`);
  await detail().locator('section[aria-label="Call"]').waitFor();
  await detail().locator('section[aria-label="Connection"]').waitFor();
}

/** What the detail says, card by card. */
const shown = async () => ({
  title: await detail().locator('.detail-title').textContent(),
  sub: await detail().locator('.detail-sub').textContent(),
  ids: await detail().locator('.detail-ids').textContent(),
  tab: await detail().locator('[role="tab"][aria-selected="true"]').getAttribute('data-side'),
  call: await detail().locator('section[aria-label="Call"]').textContent(),
  timing: await detail().locator('section[aria-label="Timing"]').textContent(),
  tls: await detail().locator('section[aria-label="TLS"]').textContent(),
  connection: await detail().locator('section[aria-label="Connection"]').textContent(),
  raw: await detail().locator('details.raw pre').textContent(),
});

void t.test('a call id opens the same view as its client record id', async (t) => {
  await openCall(clientRecord.id);
  const byRecord = await shown();
  await openCall(CALL_ID);
  const byCall = await shown();
  t.same(byCall, byRecord, 'every card as the record id shows it');

  t.equal(byCall.tab, 'client', "the client's observation shown");
  t.match(byCall.timing, /elapsed\s*20\.0 ms/);
  t.notMatch(byCall.timing, /—/, 'the timing is known');
  t.match(byCall.tls, /meshtap mTLS between the sidecars/);
  t.notMatch(byCall.tls, /plaintext/);
  t.match(byCall.connection, new RegExp(`${clientRecord.id}.*${CONN} #1549.*10 B out, 10 B in`, 's'));
  t.match(byCall.sub, /20\.0 ms · http · seen by both sidecars · showing the client observation/);
  t.match(byCall.call, /seen by both sidecars/);
  t.equal(await detail().locator('section[aria-label="Where the time went"]').count(), 1, 'the timeline of the call');

  // The list marks the call's row as the one open.
  await waitFor('the row selected', async () => (await session.page.locator('tr.call-row[aria-selected="true"]').count()) === 1);
  t.equal(await session.page.locator('tr.call-row[aria-selected="true"]').getAttribute('data-call'), CALL_ID);
  await session.screenshot('call-link-01-by-call-id');

  // The other observation is a tab away, as from the record id.
  await detail().locator('[role="tab"][data-side="server"]').click();
  await waitFor('the server observation', async () => (await detail().locator('section[aria-label="Connection"]').textContent())!.includes(serverRecord.id));
  t.match(await detail().locator('section[aria-label="Timing"]').textContent(), /elapsed\s*14\.0 ms/);
});

void t.test('the call id as pasted, ":" not escaped, opens it too', async (t) => {
  await openCall(clientRecord.id);
  const byRecord = await shown();
  await openCall(CALL_ID, false);
  t.same(await shown(), byRecord);
});

void t.test("a call only the server's sidecar saw opens on the server's observation", async (t) => {
  await openCall(serverOnly.id);
  const byRecord = await shown();
  await openCall(`${SERVER_ONLY}:2282`);
  const byCall = await shown();
  t.same(byCall, byRecord);
  t.equal(byCall.tab, 'server');
  t.match(byCall.call, /server-only/);
  t.match(byCall.timing, /elapsed\s*700 µs/);
  t.equal(await detail().locator('[role="tab"][data-side="client"]').isDisabled(), true, 'no client observation to show');
});

void t.test('the call id the detail copies opens the same view', async (t) => {
  const { page } = session;
  // Opened from the server's record: the call id is the call's, whichever record opened it.
  await openCall(serverRecord.id);
  const button = detail().locator('.detail-ids').getByRole('button', { name: 'Copy the call id' });
  await page.evaluate(() => (globalThis as any).navigator.clipboard.writeText(''));
  await button.click();
  let copied = '';
  await waitFor('the call id copied', async () => (copied = await page.evaluate(() => (globalThis as any).navigator.clipboard.readText() as Promise<string>)) !== '');
  t.equal(copied, CALL_ID);

  await openCall(clientRecord.id);
  const byRecord = await shown();
  await openCall(copied, false);
  t.same(await shown(), byRecord, "the copied id opens the call on the client's observation");
});

void t.test('a call id that names nothing is not found, as a record id that names nothing is', async (t) => {
  const { page } = session;
  const notFound = async (id: string) => {
    await page.goto(`${backend.baseUrl}#/calls/${encodeURIComponent(id)}`);
    await detail().locator('.notice.error').waitFor();
    return {
      head: await detail().locator('.detail-head h2').textContent(),
      error: await detail().locator('.notice.error').textContent(),
      loading: await detail().locator('p.muted', { hasText: 'Loading' }).count(),
      cards: await detail().locator('section.card').count(),
    };
  };
  const record = await notFound(`${CONN}-o9999`);
  t.match(record, { head: `Call ${CONN}-o9999`, error: /^no call with id/, loading: 0, cards: 0 });
  const call = await notFound(`${CONN}:9999`);
  t.match(call, { head: `Call ${CONN}:9999`, loading: 0, cards: 0 });
  t.equal(call.error, `no call with id "${CONN}:9999": looked for its records "${CONN}-o9999" (the client's) and "${CONN}-i9999" (the server's), found neither`);
  t.same(session.errors.filter((e) => !/status of 404/.test(e)), [], 'no page or console errors (the 404s asked for aside)');
});
