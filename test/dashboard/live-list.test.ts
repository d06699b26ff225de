/**
 * The live list in Debian's Chromium while calls keep arriving: a reader scrolled down keeps the
 * row under their eye where it is, one row per call (new calls on top, a call's late record
 * moving its row up) and one per observation; paused, the Resume button counts the rows a resume
 * adds, not the records held.
 */
import t from 'tap';
import type { CallRecord } from '../../record/record.ts';
import { openBrowser, startDashboardBackend, waitFor, type BrowserSession, type DashboardBackend } from './harness.ts';
import { observation } from './observation.ts';

const pair = (conn: string, atMs: number): CallRecord[] => [
  observation(`${conn}-o0`, 'outbound', conn, 0, atMs, [100, 900, 1_000]),
  observation(`${conn}-i0`, 'inbound', conn, 0, atMs, [100, 600, 700]),
];
/** Calls whose server record comes late: listed one-sided, far down the list. */
const LATE = ['c20', 'c21', 'c22', 'c23'];
const LATE_WHILE_PAUSED = 'c30';
// 150 calls, 10 ms apart; the late ones by their client record only.
const listed = Array.from({ length: 150 }, (_, i) => pair(`c${i}`, i * 10))
  .flat()
  .filter((r) => !([...LATE, LATE_WHILE_PAUSED].includes(r.connection_id) && r.observer === 'inbound'));
const serverOf = (conn: string) => pair(conn, Number(conn.slice(1)) * 10)[1];
let fresh = 0;
/** New calls, newer than every listed one. */
const newCalls = (n: number) => Array.from({ length: n }, () => pair(`n${fresh}`, 2_000 + fresh++ * 10)).flat();

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed(listed);
  session = await openBrowser({ width: 1280, height: 800 });
  // Counts the records the page receives on its event stream, to know when all have arrived.
  await session.page.addInitScript(() => {
    const g = globalThis as any;
    g.streamed = 0;
    const Original = g.EventSource;
    g.EventSource = class extends Original {
      constructor(...args: unknown[]) {
        super(...args);
        this.addEventListener('call', () => g.streamed++);
      }
    };
  });
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

const streamed = () => session.page.evaluate(() => (globalThis as any).streamed as number);
const shown = () => session.page.$eval('.feed-status .count', (el) => Number((el.textContent ?? '').replace(/\D/g, '')));

/** Scrolls the list to `top` px and names the row 250 px below the list's top edge, with where it is. */
async function eyeRow(top?: number): Promise<{ id: string; y: number; scrollTop: number }> {
  return session.page.evaluate(async (scrollTo) => {
    const g = globalThis as any;
    const scroller = g.document.querySelector('.table-scroller');
    if (scrollTo !== undefined) {
      scroller.scrollTop = scrollTo;
      await new Promise((r) => g.requestAnimationFrame(() => g.requestAnimationFrame(r)));
    }
    const box = scroller.getBoundingClientRect();
    const row = g.document.elementFromPoint(box.left + 200, box.top + 250).closest('tr.call-row');
    return { id: row.getAttribute('data-id') as string, y: row.getBoundingClientRect().top as number, scrollTop: scroller.scrollTop as number };
  }, top);
}

/** Where row `id` is now, after the page settled. */
const rowY = (id: string) =>
  session.page.evaluate(async (rowId) => {
    const g = globalThis as any;
    await new Promise((r) => g.requestAnimationFrame(() => g.requestAnimationFrame(r)));
    return g.document.querySelector(`tr.call-row[data-id="${rowId}"]`)?.getBoundingClientRect().top as number | undefined;
  }, id);

void t.test('one row per call: new calls on top and late records moving their call up leave the row under the eye where it is', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/calls`);
  await waitFor('the calls listed', async () => (await shown()) === 150);
  const before = await eyeRow(40 * 30 + 7);
  t.ok(before.scrollTop > 0, 'scrolled down');

  await backend.feed(newCalls(12));
  await waitFor('the new calls on top', async () => (await shown()) === 162);
  t.equal(await rowY(before.id), before.y, `row ${before.id} stays put as 12 calls (24 records) arrive`);
  t.equal((await eyeRow()).id, before.id);

  // The late server records move their one-sided calls from far below the eye to the top.
  t.equal(await page.locator(`tr.call-row[data-call="${LATE[0]}:0"]`).count(), 0, 'the late calls are below the eye (not rendered)');
  const moved = await eyeRow();
  const received = await streamed();
  await backend.feed(LATE.map(serverOf));
  await waitFor('the late records received', async () => (await streamed()) === received + LATE.length);
  t.equal(await rowY(moved.id), moved.y, `row ${moved.id} stays put as ${LATE.length} rows below it move above it`);
  t.equal(await shown(), 162, 'no row added');
  await page.evaluate(() => ((globalThis as any).document.querySelector('.table-scroller').scrollTop = 0));
  await waitFor('the late calls on top, joined', async () => (await page.locator('tbody tr.call-row').evaluateAll((trs) => trs.slice(0, 4).map((tr) => `${tr.getAttribute('data-call')} ${tr.getAttribute('data-sides')}`).sort().join())) === LATE.map((c) => `${c}:0 both`).join());
});

void t.test('one row per observation: the row under the eye stays put', async (t) => {
  const { page } = session;
  await page.locator('button[data-mode="records"]').click();
  const records = listed.length + 24 + LATE.length;
  await waitFor('the observations listed', async () => (await shown()) === records);
  const before = await eyeRow(60 * 30 + 11);
  await backend.feed(newCalls(10));
  await waitFor('the new observations on top', async () => (await shown()) === records + 20);
  t.equal(await rowY(before.id), before.y, `row ${before.id} stays put as 20 observations arrive`);
  await page.locator('button[data-mode="calls"]').click();
  await waitFor('calls again', async () => (await shown()) === 172);
});

void t.test('paused, one row per call: the button counts the calls a resume adds', async (t) => {
  const { page } = session;
  await page.getByRole('button', { name: 'Pause' }).click();
  // 5 new calls (10 records), and the late server record of a call listed already.
  const received = await streamed();
  await backend.feed([...newCalls(5), serverOf(LATE_WHILE_PAUSED)]);
  await waitFor('all held', async () => (await streamed()) === received + 11);
  const resume = page.getByRole('button', { name: /^Resume/ });
  await waitFor('the count shown', async () => /new/.test((await resume.textContent()) ?? ''));
  await page.waitForTimeout(100);
  t.equal(await resume.textContent(), 'Resume (5 new)');
  await resume.click();
  await waitFor('resumed', async () => (await shown()) === 177);
  t.equal(await shown(), 172 + 5, 'as many calls as the button said');
});
