/**
 * 10 000 records (5 000 meshed calls, both sidecars' records of each) arriving live, shown one
 * row per call: the table keeps a bounded number of rows in the DOM, scrolling
 * anywhere shows the right rows at once, and the page's main thread is never blocked for long.
 */
import t from 'tap';
import { buildCallPair } from '../fixtures/dashboard/shop-calls.ts';
import type { CallRecord } from '../../record/record.ts';
import { openBrowser, startDashboardBackend, waitFor } from './harness.ts';

const TOTAL = 10_000;
/** Rows on screen at 860 px plus the overscan on both sides, with room to spare. */
const MAX_DOM_ROWS = 120;
/** The most calls one list request returns (the API's limit). */
const API_PAGE = 1000;
/** Each call is a pair of records, joined into one row. */
const CALLS = TOTAL / 2;

void t.test('10 000 live calls: bounded DOM, responsive page', async (t) => {
  const backend = await startDashboardBackend();
  t.teardown(() => backend.close());
  const session = await openBrowser();
  t.teardown(() => session.close());
  const { page } = session;

  await page.goto(`${backend.baseUrl}#/calls`);
  await page.locator('.feed-status.live').waitFor();
  // Long tasks (> 50 ms on the main thread) while the calls pour in.
  // Page-side callbacks reach the DOM through globalThis: the tests' types have no DOM lib.
  await page.evaluate(() => {
    const w = globalThis as any;
    w.longTasks = [];
    new w.PerformanceObserver((list: any) => {
      for (const e of list.getEntries()) w.longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: false });
  });

  const baseNs = BigInt(Date.now()) * 1_000_000n;
  const records: CallRecord[] = [];
  const kinds = [
    ['frontend', 'gateway', 'GET', '/api/products', 200],
    ['gateway', 'catalog', 'GET', '/items', 200],
    ['gateway', 'payment', 'POST', '/pay', 503],
    ['gateway', 'auth', 'GET', '/verify', 200],
  ] as const;
  for (let i = 0; i < TOTAL / 2; i++) {
    const [from, to, method, path, status] = kinds[i % kinds.length];
    records.push(...buildCallPair({ id: `load-${i}`, from, to, method, path: `${path}/${i}`, status, atMs: -10_000 + i, elapsedMs: 3 + (i % 50) }, baseNs, i));
  }
  const started = Date.now();
  await backend.feed(records);
  await waitFor('all calls listed', async () => (await page.$eval('.feed-status .count', (el) => Number((el.textContent ?? '').replace(/\D/g, '')))) === CALLS, 60_000);
  t.comment(`10 000 calls stored and shown in ${Date.now() - started} ms`);

  const domRows = await page.locator('tbody tr.call-row').count();
  t.ok(domRows > 10 && domRows <= MAX_DOM_ROWS, `DOM rows bounded: ${domRows}`);
  t.equal(await page.locator('table.calls').getAttribute('aria-rowcount'), String(CALLS + 1), 'the table still announces every call');
  const newest = await page.locator('tbody tr.call-row').first().getAttribute('data-id');
  t.equal(newest, `load-${CALLS - 1}-c`, 'the newest call is on top, opening its client record');

  // Jump to the middle: the rows for that position are there by the next frames.
  const jump = await page.evaluate(async () => {
    const w = globalThis as any;
    const scroller = w.document.querySelector('.table-scroller');
    const t0 = performance.now();
    scroller.scrollTop = 2500 * 30;
    scroller.dispatchEvent(new Event('scroll'));
    await new Promise((r) => w.requestAnimationFrame(() => w.requestAnimationFrame(r)));
    const indexes: number[] = [...w.document.querySelectorAll('tbody tr.call-row')].map((r: any) => Number(r.getAttribute('data-index')));
    return { ms: performance.now() - t0, min: Math.min(...indexes), max: Math.max(...indexes), rows: indexes.length };
  });
  t.ok(jump.min <= 2500 && jump.max >= 2510, `rows around index 2500 rendered (${jump.min}..${jump.max})`);
  t.ok(jump.rows <= MAX_DOM_ROWS, `still bounded after the jump: ${jump.rows}`);
  t.ok(jump.ms < 1500, `scroll rendered in ${jump.ms.toFixed(1)} ms`);
  await session.screenshot('20-load-middle');

  // The page answers input promptly after the flood.
  const echo = await page.evaluate(() => new Promise<number>((resolve) => {
    const t0 = performance.now();
    setTimeout(() => resolve(performance.now() - t0), 0);
  }));
  t.ok(echo < 500, `main thread free: a timer ran after ${echo.toFixed(1)} ms`);
  const longTasks = await page.evaluate(() => (globalThis as any).longTasks as number[]);
  const worst = Math.max(0, ...longTasks);
  t.comment(`long tasks during the flood: ${longTasks.length}, worst ${worst.toFixed(0)} ms`);
  t.ok(worst < 1000, `no main-thread block of a second or more (worst ${worst.toFixed(0)} ms)`);

  // A new filter lists the newest matches again: one API page of the 1250 payment calls (the list
  // asks for calls, view=call, so its limit of 1000 counts calls, each with both its records).
  await page.locator('#filter-input').fill('dst.workload == "payment"');
  await waitFor('payment calls', async () => (await page.$eval('.feed-status .count', (el) => Number((el.textContent ?? '').replace(/\D/g, '')))) === Math.min(CALLS / 4, API_PAGE), 20_000);
  const paymentRows = await page.$$eval('tbody tr.call-row .status-pill', (els) => els.map((e) => e.textContent));
  t.ok(paymentRows.length > 0 && paymentRows.every((s) => s === '503'), 'only payment calls remain');
  await session.screenshot('21-load-filtered');
  t.same(session.errors, [], 'no page or console errors');
});
