/**
 * The call detail in Debian's Chromium as it is rendered (innerText, so CSS text-transform
 * counts): card titles are in capitals, the values in them are not (408 µs, never 408 MS); a
 * gRPC deadline reads as a duration, and an OK status is said once.
 */
import t from 'tap';
import type { Locator } from 'playwright-core';
import type { CallRecord, Endpoint } from '../../record/record.ts';
import { openBrowser, startDashboardBackend, type BrowserSession, type DashboardBackend } from './harness.ts';

const start = BigInt(Date.now()) * 1_000_000n - 5_000_000_000n;
const ep = (workload: string, ip: string): Endpoint => ({ ip, port: 8080, namespace: 'shop', workload, pod: `${workload}-0` });
const base = (id: string, extra: Partial<CallRecord>): CallRecord => ({
  id,
  protocol: 'http',
  observer: 'outbound',
  connection_id: id,
  ordinal: 0,
  start,
  request_end: start + 100_000n,
  response_start: start + 300_000n,
  end: start + 408_000n,
  elapsed_us: 408,
  src: ep('web', '10.244.0.2'),
  dst: ep('stock', '10.244.0.3'),
  tls: { mesh: false },
  bytes_in: 0,
  bytes_out: 0,
  redacted: [],
  sensitive: [],
  ...extra,
});

const http = base('units-o0', { method: 'GET', path: '/stock', status_code: 200 });
const sql = base('sql-o0', { protocol: 'postgres', method: 'SELECT', path: 'Shop_DB' });
const grpcOk = base('grpc-o0', {
  protocol: 'grpc',
  method: 'POST',
  path: '/shop.Stock/Get',
  status_code: 200,
  grpc_status: 0,
  grpc_message: 'OK',
  request: { headers: { 'content-type': 'application/grpc', 'grpc-timeout': '4999m' }, body: new Uint8Array(), body_size: 0, truncated: false },
});
const grpcFailed = base('grpc-f0', { protocol: 'grpc', method: 'POST', path: '/shop.Stock/Get', status_code: 200, grpc_status: 5, grpc_message: 'sku gone', request: { headers: { 'grpc-timeout': '2M' }, body: new Uint8Array(), body_size: 0, truncated: false } });

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed([http, sql, grpcOk, grpcFailed]);
  session = await openBrowser();
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

async function open(id: string) {
  await session.page.goto(`${backend.baseUrl}#/calls/${id}`);
  const detail = session.page.locator('aside.detail');
  await detail.locator('section[aria-label="Timing"]').waitFor();
  return detail;
}

const shown = (el: Locator) => el.evaluate((e) => (e as any).innerText as string);

void t.test('the Timing title is in capitals, its duration is not', async (t) => {
  const detail = await open(http.id);
  const title = await shown(detail.locator('section[aria-label="Timing"] > h3'));
  t.match(title, /^TIMING\s+408 µs$/, `as shown: ${title}`);
  await session.screenshot('detail-units-timing');
});

void t.test('every card title keeps the case of the values in it', async (t) => {
  const detail = await open(sql.id);
  t.match(await shown(detail.locator('section.protocol > h3')), /^POSTGRESQL\s+database Shop_DB$/);
  // Whatever a card title holds besides its name is shown as written.
  const titles = await detail.locator('section.card > h3').evaluateAll((hs) =>
    hs.flatMap((h) => [...h.children].map((c) => ({ written: c.textContent ?? '', shown: (c as any).innerText as string }))),
  );
  t.ok(titles.length > 0);
  for (const { written, shown: seen } of titles) t.equal(seen.trim(), written.trim(), `"${written}" as written`);
});

void t.test('gRPC: the deadline as a duration, an OK status said once', async (t) => {
  const detail = await open(grpcOk.id);
  const card = detail.locator('section.protocol.grpc');
  const status = await shown(card.locator('dt:text-is("status") + dd'));
  t.equal(status.trim(), '0 OK');
  const deadline = await shown(card.locator('dd.grpc-deadline'));
  t.match(deadline, /^5\.00 s\b/, `4999m is 4999 ms, not minutes: ${deadline}`);
  t.match(deadline, /grpc-timeout 4999m/, 'the header as sent, alongside');
  t.notMatch(deadline, /min/);
  await session.screenshot('detail-units-grpc');

  const failed = (await open(grpcFailed.id)).locator('section.protocol.grpc');
  t.equal((await shown(failed.locator('dt:text-is("status") + dd'))).trim(), '5 NOT_FOUND — sku gone', 'a message that says more is kept');
  t.match(await shown(failed.locator('dd.grpc-deadline')), /^2 m 00 s/, '2M is two minutes');
  t.same(session.errors, [], 'no page errors');
});
