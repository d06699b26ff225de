/**
 * Sign out only where there is a session to end, in Debian's Chromium: a collector started with
 * `--auth none` answers everyone, and a proxy that adds the user's credentials (`meshtap
 * dashboard`) answers the next request the same, so neither shows Sign out; a collector that
 * wants a token keeps it. A session the collector stops accepting under an open page (its token
 * revoked) says so and how to sign in again, instead of "reconnecting" for ever.
 */
import { writeFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { startCredentialProxy } from '../../collector/dashboard/credential-proxy.ts';
import { openBrowser, openLoginLink, startDashboardBackend, waitFor, type BrowserSession, type DashboardBackend } from './harness.ts';
import { observation } from './observation.ts';

const TOKEN = 'dashboard-test-token-0123456789';
const NEW_TOKEN = 'dashboard-test-token-rotated-9876543210';

/** A collector (`token`: with token auth) and a browser, closed when the test ends. */
async function setUp(t: Test, options: { token?: string } = {}): Promise<{ backend: DashboardBackend; session: BrowserSession }> {
  const backend = await startDashboardBackend(options);
  const session = await openBrowser();
  t.teardown(async () => {
    await session.close();
    await backend.close();
  });
  return { backend, session };
}

/**
 * Opens `url` and waits until the page has asked the collector how it sees it (a page that
 * never asks is given a few seconds), and shown the answer.
 */
async function openAndAskSession(page: Page, url: string): Promise<void> {
  const asked = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/api/session') && r.request().method() === 'GET', { timeout: 5_000 }).catch(() => undefined);
  await page.goto(url);
  await asked;
  // The answer is rendered on the next frames; a button it leaves shown would be there by now.
  await page.waitForTimeout(500);
}

const signOutButton = (page: Page) => page.getByRole('button', { name: 'Sign out' });

const sessionAnswer = (page: Page) => page.evaluate(() => fetch('api/session').then(async (r) => ({ status: r.status, body: await r.json() })));

void t.test('--auth none: no Sign out on any view, and no sign-in prompt', async (t) => {
  const { backend, session } = await setUp(t);
  const { page } = session;
  await openAndAskSession(page, `${backend.baseUrl}#/calls`);
  await page.locator('.feed-status.live').waitFor();
  t.same(await sessionAnswer(page), { status: 200, body: { viewer: 'anonymous', all: true, auth: 'none', session: false } }, 'the collector says no token is needed');
  t.equal(await signOutButton(page).count(), 0, 'no Sign out on the calls');
  for (const [view, section] of [
    ['map', '.map-view'],
    ['offenders', '.offenders-view'],
    ['coverage', '.coverage-view'],
  ] as const) {
    await page.locator(`nav a[href="#/${view}"]`).click();
    await page.locator(section).waitFor();
    await waitFor(`#/${view} loaded`, async () => (await page.locator(`${section} .loading`).count()) === 0);
    t.equal(await page.locator(`${section} .notice.error`).count(), 0, `#/${view} answered`);
    t.equal(await signOutButton(page).count(), 0, `no Sign out on #/${view}`);
  }
  t.notMatch(await page.locator('body').innerText(), /Sign out|signed in|login link/i, 'nothing about signing in or out');
  await session.screenshot('auth-mode-01-auth-none');

  // A login link opened anyway opens a session (any token passes), and still there is nothing to sign out of.
  await openAndAskSession(page, `${backend.baseUrl}#token=${TOKEN}`);
  await page.reload();
  await page.locator('.feed-status.live').waitFor();
  await page.waitForTimeout(500);
  t.match((await sessionAnswer(page)).body, { auth: 'none', session: true });
  t.equal(await signOutButton(page).count(), 0, 'no Sign out with a session either');
  t.same(session.errors, [], 'no page errors');
});

void t.test('a token needed: Sign out stays, before signing in and once signed in', async (t) => {
  const { backend, session } = await setUp(t, { token: TOKEN });
  const { page } = session;
  await openAndAskSession(page, `${backend.baseUrl}#/calls`);
  await page.locator('.stream .empty').getByText(/Not signed in/).waitFor();
  await signOutButton(page).waitFor();
  t.equal((await sessionAnswer(page)).status, 401, 'no session yet');

  await openLoginLink(page, `${backend.baseUrl}#token=${TOKEN}`);
  await page.reload();
  await page.locator('.feed-status.live').waitFor();
  t.match((await sessionAnswer(page)).body, { viewer: 'token', auth: 'token', session: true });
  await signOutButton(page).waitFor();
  t.ok(await signOutButton(page).isVisible(), 'Sign out is offered (signed-out.test.ts signs out with it)');
});

void t.test('behind a proxy that adds the credentials: no Sign out (the next request would be answered the same)', async (t) => {
  const { backend, session } = await setUp(t, { token: TOKEN });
  const proxy = await startCredentialProxy({ target: backend.apiUrl.replace(/\/$/, ''), authorization: async () => `Bearer ${TOKEN}` });
  t.teardown(() => proxy.close());
  const { page } = session;
  await openAndAskSession(page, `${proxy.url}#/calls`);
  await page.locator('.feed-status.live').waitFor();
  t.match((await sessionAnswer(page)).body, { auth: 'token', session: false });
  t.equal(await signOutButton(page).count(), 0, 'no Sign out');
  t.notMatch(await page.locator('body').innerText(), /Not signed in|login link/);
});

void t.test('a session refused mid-session: the page says so and how to sign in again, and stops asking', async (t) => {
  const { backend, session } = await setUp(t, { token: TOKEN });
  const { page } = session;
  await page.goto(`${backend.baseUrl}#token=${TOKEN}`);
  await page.waitForURL((u) => u.hash === '#/calls');
  await page.locator('.feed-status.live').waitFor();
  await backend.feed([observation('revoked-1', 'outbound', 'conn-revoked', 0, 0, [100, 900, 1000])]);
  await page.locator('.call-row').first().waitFor();

  // The token is taken out of the file (read again within a second); the collector's check of
  // its open streams (every minute) then ends the page's stream, as closing it here does now.
  const tokenFile = backend.collector.auth.tokenFile;
  if (tokenFile === undefined) throw new Error('the backend has no token file');
  writeFileSync(tokenFile, `${NEW_TOKEN}\n`);
  await waitFor('the old token refused', async () => (await sessionAnswer(page)).status === 401);
  for (const client of backend.collector.hub.clients()) client.close();

  const message = page.locator('.stream .empty');
  await waitFor('the list says the session ended', async () => /^Cannot list calls: Signed out: the collector no longer accepts/.test((await message.textContent().catch(() => '')) ?? ''));
  t.match(await message.textContent(), /Open a fresh login link to sign in again/, 'and how to sign in again');
  t.equal(await page.locator('.feed-status.error').count(), 1, 'the feed is stopped, not reconnecting');
  t.equal(await page.locator('.feed-status.reconnecting').count(), 0);
  t.equal(await page.locator('.call-row').count(), 0, 'the calls it may no longer see are gone');
  await signOutButton(page).waitFor();
  await session.screenshot('auth-mode-02-session-refused');

  const streams = session.requests.filter((u) => new URL(u).pathname.endsWith('/api/stream')).length;
  const lists = session.requests.filter((u) => new URL(u).pathname.endsWith('/api/calls')).length;
  await page.waitForTimeout(4_000);
  t.equal(session.requests.filter((u) => new URL(u).pathname.endsWith('/api/stream')).length, streams, 'the live stream is not asked for again');
  t.equal(session.requests.filter((u) => new URL(u).pathname.endsWith('/api/calls')).length, lists, 'nor the list');

  // The other views say the same, not a blank page or "Loading…".
  await page.locator('nav a[href="#/map"]').click();
  const notice = page.locator('.map-view .notice.error');
  await notice.waitFor();
  t.match(await notice.textContent(), /^Signed out: the collector no longer accepts this page's session/);
  t.equal(await page.locator('.map-view .loading').count(), 0);

  // A fresh login link signs in again.
  await page.goto(`${backend.baseUrl}#token=${NEW_TOKEN}`);
  await page.waitForURL((u) => u.hash === '#/calls');
  await page.locator('.feed-status.live').waitFor();
  await page.locator('.call-row').first().waitFor();
  t.equal(await page.locator('.stream .empty').count(), 0, 'the calls are back');
  t.same(session.errors.filter((e) => !/401/.test(e)), [], 'no page errors but the expected 401s');
});
