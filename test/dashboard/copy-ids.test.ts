/**
 * The call detail's header in Debian's Chromium: the call id and the trace id, each with a
 * button that copies it to the clipboard (read back from the page), says "Copied" for a moment,
 * and is reached and pressed from the keyboard.
 */
import t from 'tap';
import { buildCallPair } from '../fixtures/dashboard/shop-calls.ts';
import { openBrowser, startDashboardBackend, waitFor, type BrowserSession, type DashboardBackend } from './harness.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const records = buildCallPair({ id: 'copy', from: 'frontend', to: 'gateway', method: 'GET', path: '/api/cart', status: 200, atMs: 0, elapsedMs: 12, traceId: TRACE_ID }, BigInt(Date.now() - 5_000) * 1_000_000n, 1);

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed(records);
  session = await openBrowser({ width: 1280, height: 800 });
  await session.page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(backend.baseUrl).origin });
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

const clipboard = () => session.page.evaluate(() => (globalThis as any).navigator.clipboard.readText() as Promise<string>);

void t.test('the call id and the trace id copy from the keyboard, and say so for a moment', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/calls/copy-c`);
  const ids = page.locator('aside.detail .detail-head .detail-ids');
  await ids.waitFor();
  const callButton = ids.getByRole('button', { name: 'Copy the call id' });
  const traceButton = ids.getByRole('button', { name: 'Copy the trace id' });
  const callId = (await ids.locator('.detail-id').nth(0).locator('code').textContent()) ?? '';
  t.equal(callId, await page.locator('aside.detail dl.joined dd.mono').first().textContent(), `the call's id shown (${callId})`);
  t.equal(await ids.locator('.detail-id').nth(1).locator('code').textContent(), TRACE_ID, 'the trace id shown');

  await page.evaluate(() => (globalThis as any).navigator.clipboard.writeText('something else'));
  await callButton.focus();
  await page.keyboard.press('Enter');
  await waitFor('the call id copied', async () => (await clipboard()) === callId);
  t.equal((await callButton.textContent())?.trim(), 'Copied');
  t.match(await ids.locator('[role="status"]').first().textContent(), /call id copied/);
  await session.screenshot('copy-ids-01-copied');
  await waitFor('the button says Copy again', async () => (await callButton.textContent())?.trim() === 'Copy', 5_000);

  // Tab moves on to the trace id's button; Space presses it.
  await callButton.focus();
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute('aria-label')), 'Copy the trace id', 'the next stop from the keyboard');
  await page.keyboard.press('Space');
  await waitFor('the trace id copied', async () => (await clipboard()) === TRACE_ID);
  t.equal((await traceButton.textContent())?.trim(), 'Copied');
  t.same(session.errors, [], 'no page or console errors');
});
