/**
 * The Coverage and Offenders views in Debian's Chromium: each view's header (its title and
 * window buttons) starts on the same edge as its cards.
 */
import t from 'tap';
import { openBrowser, startDashboardBackend, type BrowserSession, type DashboardBackend } from './harness.ts';
import { observation } from './observation.ts';

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed([observation('a-o0', 'outbound', 'a', 0, 0, [100, 900, 1_000]), observation('a-i0', 'inbound', 'a', 0, 0, [100, 600, 700])]);
  session = await openBrowser({ width: 1280, height: 800 });
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

for (const [view, card] of [
  ['coverage', '.coverage-view .coverage-card'],
  ['offenders', '.offenders-view section.card'],
] as const) {
  void t.test(`#/${view}: the header on the cards' edge`, async (t) => {
    const { page } = session;
    await page.goto(`${backend.baseUrl}#/${view}`);
    await page.locator(card).first().waitFor();
    const left = (selector: string) => page.locator(selector).first().evaluate((e) => e.getBoundingClientRect().left);
    const cardLeft = await left(card);
    t.equal(await left(`.${view}-view h2.view-title`), cardLeft, 'the title');
    await session.screenshot(`${view}-header`);
  });
}
