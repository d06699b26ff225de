/**
 * A collector that wants a token, in Debian's Chromium: a refused login link says so (not "open
 * the login link", which the user just did); views opened without a session say they are not
 * signed in once, with no "Loading…" beside it, and stop asking every few seconds; a good login
 * link then works.
 */
import t from 'tap';
import { openBrowser, openLoginLink, startDashboardBackend, waitFor, type BrowserSession, type DashboardBackend } from './harness.ts';

const TOKEN = 'dashboard-test-token-0123456789';

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend({ token: TOKEN });
  session = await openBrowser();
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

const apiCalls = (path: string) => session.requests.filter((u) => new URL(u).pathname.endsWith(path)).length;

void t.test('a bad login link says the link was refused', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#token=bogus`);
  const message = page.locator('.stream .empty');
  await waitFor('the list says why it is empty', async () => /login link/i.test((await message.textContent().catch(() => '')) ?? ''));
  t.match(await message.textContent(), /The login link is not valid \(its token was refused\)/);
  t.notMatch(await message.textContent(), /Not signed in: open the dashboard through its login link/);
  await session.screenshot('signed-out-01-bad-link');

  // The other views say the same.
  await page.locator('nav a[href="#/map"]').click();
  await page.locator('.map-view .notice.error').waitFor();
  t.match(await page.locator('.map-view .notice.error').textContent(), /The login link is not valid/);
});

for (const [view, path, section] of [
  ['map', '/api/servicemap', '.map-view'],
  ['coverage', '/api/coverage', '.coverage-view'],
  ['offenders', '/api/offenders', '.offenders-view'],
] as const) {
  void t.test(`#/${view} without a session: the notice alone, and no polling of 401s`, async (t) => {
    const { page } = session;
    await page.goto(`${backend.baseUrl}#/calls`);
    await page.goto(`${backend.baseUrl}#/${view}`);
    // A fresh page: no login was tried, so the plain "not signed in".
    await page.reload();
    const notice = page.locator(`${section} .notice.error`);
    await notice.waitFor();
    t.match(await notice.textContent(), /^Not signed in/);
    t.equal(await page.locator(`${section} .loading`).count(), 0, 'no "Loading…" under the notice');
    t.notMatch(await page.locator(section).textContent(), /Loading…/);
    const asked = apiCalls(path);
    // The map refreshes every 5 s, coverage and offenders every 10 s.
    await page.waitForTimeout(view === 'map' ? 6_000 : 11_000);
    t.equal(apiCalls(path), asked, 'not asked again while signed out');
    if (view === 'map') await session.screenshot('signed-out-02-map');
  });
}

void t.test('a good login link signs in', async (t) => {
  const { page } = session;
  await openLoginLink(page, `${backend.baseUrl}#token=${TOKEN}`);
  await page.reload();
  await page.locator('.feed-status.live').waitFor();
  await page.goto(`${backend.baseUrl}#/map`);
  await page.locator('.map-view .empty').waitFor();
  t.equal(await page.locator('.map-view .notice.error').count(), 0);
});

void t.test('a login link pasted into an open tab (only the fragment changes) signs in; the token leaves the address bar, history and page', async (t) => {
  const { page } = session;
  await page.context().clearCookies();
  await page.goto(`${backend.baseUrl}#/coverage`);
  await page.reload();
  await page.locator('.coverage-view .notice.error').waitFor();
  t.match(await page.locator('.coverage-view .notice.error').textContent(), /^Not signed in/);

  // A refused link first: it says so, in the list it lands on.
  await page.goto(`${backend.baseUrl}#token=not-the-token`);
  await page.waitForURL((u) => u.hash === '#/calls');
  const message = page.locator('.stream .empty');
  await waitFor('the list says the link was refused', async () => /not valid/.test((await message.textContent().catch(() => '')) ?? ''));
  t.notMatch(await page.locator('body').innerText(), /not-the-token|Nothing at/);

  await page.goto(`${backend.baseUrl}#token=${TOKEN}`);
  await page.waitForURL((u) => u.hash === '#/calls');
  await page.locator('.feed-status.live').waitFor();
  t.notMatch(page.url(), TOKEN, 'not in the address bar');
  t.notMatch(await page.locator('body').innerText(), new RegExp(`${TOKEN}|Nothing at`), 'not on the page');
  t.equal(await page.locator('.stream .empty').textContent(), 'Waiting for calls… traffic between meshed workloads appears here as it happens.', 'signed in: the list is just empty');

  // Back and forth through the tab's history: no entry holds a token.
  const seen: string[] = [new URL(page.url()).hash];
  for (let i = 0; i < 2; i++) {
    await page.goBack();
    seen.push(new URL(page.url()).hash);
  }
  await page.goForward();
  seen.push(new URL(page.url()).hash);
  t.same(seen, ['#/calls', '#/calls', '#/coverage', '#/calls'], 'each login link left #/calls in its place');
  await page.goBack();
  await page.locator('.coverage-view .coverage-collector').waitFor();
  t.equal(await page.locator('.coverage-view .notice.error').count(), 0, 'the other views are signed in too');
});

void t.test('an unknown route never shows a token', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/nope?token=${TOKEN}`);
  const empty = page.locator('main .empty');
  await waitFor('the unknown route message', async () => /Nothing at/.test((await empty.textContent().catch(() => '')) ?? ''));
  t.notMatch(await empty.textContent(), TOKEN);
  t.match(await empty.textContent(), /Nothing at #\/nope\?token=…/);
});

void t.test('signing out ends the session, stops the live stream and shows the signed-out state', async (t) => {
  const { page } = session;
  await openLoginLink(page, `${backend.baseUrl}#token=${TOKEN}`);
  await page.waitForURL((u) => u.hash === '#/calls');
  await page.reload();
  await page.locator('.feed-status.live').waitFor();

  const signedOut = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/api/session') && r.request().method() === 'DELETE');
  await page.getByRole('button', { name: 'Sign out' }).click();
  t.equal((await signedOut).status(), 200, 'DELETE /api/session');
  const message = page.locator('.stream .empty');
  await waitFor('the list says not signed in', async () => /^Cannot list calls: Not signed in/.test((await message.textContent().catch(() => '')) ?? ''));
  t.equal(await page.locator('.feed-status.live').count(), 0, 'no longer live');
  t.equal(await page.evaluate(() => fetch('api/calls').then((r) => r.status)), 401, 'the session is gone');
  await session.screenshot('signed-out-03-signed-out');

  // The page's stream is closed: it does not reconnect (EventSource retries after ~3 s).
  const streams = apiCalls('/api/stream');
  await page.waitForTimeout(4_000);
  t.equal(apiCalls('/api/stream'), streams, 'the live stream is not asked for again');

  // The other views say the same at once.
  await page.goto(`${backend.baseUrl}#token=${TOKEN}`);
  await page.waitForURL((u) => u.hash === '#/calls');
  await page.locator('.feed-status.live').waitFor();
  await page.locator('nav a[href="#/map"]').click();
  await page.locator('.map-view .empty').waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('.map-view .notice.error').waitFor({ timeout: 3_000 });
  t.match(await page.locator('.map-view .notice.error').textContent(), /^Not signed in/);
  t.same(session.errors.filter((e) => !/401/.test(e)), [], 'no page errors but the expected 401s');
});
