/**
 * The call detail of DNS records in Debian's Chromium: records shaped as the sidecar's DNS
 * capture emits them, shipped to a real collector over gRPC; the page shows the question, the
 * response code and tables of the answers (and the authority of an NXDOMAIN).
 */
import t from 'tap';
import type { CallRecord } from '../../record/record.ts';
import { dnsRecord } from '../collector/dns-records.ts';
import { openBrowser, startDashboardBackend, type BrowserSession, type DashboardBackend } from './harness.ts';

const start = BigInt(Date.now()) * 1_000_000n;
const answered = dnsRecord({
  id: 'dash-dns-a',
  name: 'catalog.shop.svc.cluster.local',
  start,
  answers: [
    { name: 'catalog.shop.svc.cluster.local', type: 'A', ttl: 5, data: '10.96.0.12' },
    { name: 'catalog.shop.svc.cluster.local', type: 'A', ttl: 5, data: '10.96.0.13' },
  ],
});
const nx = dnsRecord({
  id: 'dash-dns-nx',
  name: 'catlog.shop.svc.cluster.local',
  rcode: 'NXDOMAIN',
  start: start + 1_000_000n,
  authority: [{ name: 'cluster.local', type: 'SOA', ttl: 5, data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 } }],
});
const srv = dnsRecord({
  id: 'dash-dns-srv',
  name: '_http._tcp.catalog.shop.svc.cluster.local',
  type: 'SRV',
  transport: 'tcp',
  start: start + 2_000_000n,
  answers: [{ name: '_http._tcp.catalog.shop.svc.cluster.local', type: 'SRV', ttl: 5, data: { priority: 0, weight: 100, port: 8080, target: 'catalog.shop.svc.cluster.local' } }],
});
const timeout = dnsRecord({ id: 'dash-dns-timeout', name: 'slow.example', type: 'AAAA', timeout: true, start: start + 3_000_000n });
const servfail = dnsRecord({ id: 'dash-dns-servfail', name: 'example.com', rcode: 'SERVFAIL', start: start + 4_000_000n });

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed([answered, nx, srv, timeout, servfail]);
  session = await openBrowser();
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

async function open(record: CallRecord) {
  await session.page.goto(`${backend.baseUrl}#/calls/${encodeURIComponent(record.id)}`);
  const card = session.page.locator('aside.detail section.protocol.dns');
  await card.waitFor();
  return card;
}

const rows = async (card: Awaited<ReturnType<typeof open>>, section: string) =>
  card.locator(`table.dns-records[data-section="${section}"] tbody tr`).evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));

void t.test('an answered query: question, rcode, the answers with name, type, TTL and data', async (t) => {
  const card = await open(answered);
  t.equal((await card.locator('.dns-question').textContent())?.trim(), 'A catalog.shop.svc.cluster.local');
  t.equal((await card.locator('.dns-rcode').textContent())?.trim(), 'NOERROR');
  t.notOk(await card.locator('.dns-rcode').evaluate((e) => e.classList.contains('error-text')), 'NOERROR is not an error');
  t.same(await card.locator('table.dns-records[data-section="answers"] thead th').allTextContents(), ['name', 'type', 'TTL', 'data']);
  t.same(await rows(card, 'answers'), [
    ['catalog.shop.svc.cluster.local', 'A', '5', '10.96.0.12'],
    ['catalog.shop.svc.cluster.local', 'A', '5', '10.96.0.13'],
  ]);
  t.match(await card.locator('h3').textContent(), /DNS\s+UDP/);
  t.match(await card.locator('.dns-flags').textContent(), /ra/);
  await session.screenshot('12-detail-dns');
});

void t.test('NXDOMAIN: the rcode as an error, no answers, the authority that said so', async (t) => {
  const card = await open(nx);
  t.equal((await card.locator('.dns-rcode').textContent())?.trim(), 'NXDOMAIN');
  t.ok(await card.locator('.dns-rcode').evaluate((e) => e.classList.contains('error-text')), 'shown as an error');
  t.equal(await card.locator('table.dns-records[data-section="answers"]').count(), 0);
  t.equal(await card.locator('.dns-no-answers').count(), 1);
  t.same(await rows(card, 'authority'), [['cluster.local', 'SOA', '5', 'ns.dns.cluster.local hostmaster.cluster.local 1 7200 1800 86400 5']]);
});

void t.test('SRV over TCP, and an unanswered query', async (t) => {
  const card = await open(srv);
  t.match(await card.locator('h3').textContent(), /DNS\s+TCP/);
  t.same(await rows(card, 'answers'), [['_http._tcp.catalog.shop.svc.cluster.local', 'SRV', '5', '0 100 8080 catalog.shop.svc.cluster.local']]);
  const none = await open(timeout);
  t.equal((await none.locator('.dns-question').textContent())?.trim(), 'AAAA slow.example');
  t.equal((await none.locator('.dns-rcode').textContent())?.trim(), 'no answer (timeout)');
  t.equal(await none.locator('table.dns-records').count(), 0);
  t.same(session.errors, [], 'no page errors');
});

void t.test('the list: the response code in the Status column, coloured as meshtap tap colours it', async (t) => {
  const { page } = session;
  await page.goto(`${backend.baseUrl}#/calls`);
  await page.locator('tbody tr.call-row').nth(4).waitFor();
  const status = async (record: CallRecord) => {
    const cell = page.locator(`tr.call-row[data-id="${record.id}"] td.c-status`);
    return { text: await cell.textContent(), pill: await cell.locator('.status-pill').getAttribute('class'), title: await cell.getAttribute('title') };
  };
  t.same(await status(nx), { text: 'NXDOMAIN', pill: 'status-pill client-error', title: 'DNS NXDOMAIN' }, "a name that does not exist: the asker's mistake");
  t.same(await status(servfail), { text: 'SERVFAIL', pill: 'status-pill server-error', title: 'DNS SERVFAIL' }, 'a failing server: an error');
  t.same(await status(answered), { text: 'NOERROR', pill: 'status-pill ok', title: 'DNS NOERROR' });
  t.same(await status(timeout), { text: 'timeout', pill: 'status-pill failed', title: 'timeout' }, 'never answered: the error');
  await page.locator(`tr.call-row[data-id="${nx.id}"]`).click();
  await page.locator('aside.detail section.protocol.dns').waitFor();
  t.equal(await page.locator('aside.detail .detail-title .status-pill').textContent(), 'NXDOMAIN', 'the header says the same');
});
