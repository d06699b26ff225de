/**
 * The call detail of decoded protocols in Debian's Chromium: records made by the real capture
 * sessions (PostgreSQL, Redis), the real gRPC decoding and a WebSocket message, shipped to a
 * real collector; the page shows the SQL with its parameters and result table, the Redis
 * command and reply, the gRPC messages with their times, and the WebSocket direction with a
 * link to its conversation.
 */
import t from 'tap';
import { serialize } from 'pg-protocol';
import protobuf from 'protobufjs';
import type { CallRecord } from '../../record/record.ts';
import type { Exchange } from '../../sidecar/capture/session.ts';
import { toGrpcExchange } from '../../sidecar/grpc/grpc-exchange.ts';
import { maskRecord } from '../../sidecar/mask/mask-record.ts';
import { createCaptureFactory } from '../../sidecar/proxy/capture-factory.ts';
import type { CapturedProtocol } from '../../sidecar/proxy/capture-tap.ts';
import { buildCallRecord } from '../../sidecar/proxy/record-builder.ts';
import { be, cat, greeting } from '../sidecar/postgres/harness.ts';
import { bulk, cmd } from '../sidecar/redis/harness.ts';
import { openBrowser, startDashboardBackend, type BrowserSession, type DashboardBackend } from './harness.ts';

const base = BigInt(Date.now()) * 1_000_000n;
let connection = 0;

function toRecords(exchanges: Exchange[], port: number): CallRecord[] {
  connection++;
  const meta = { connectionId: `proto-${connection}`, observer: 'outbound' as const, client: { ip: '10.1.0.5', port: 41000 + connection }, dst: { ip: '10.1.0.9', port }, mesh: true };
  return exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'orders-1', namespace: 'shop' })));
}

function capture(protocol: CapturedProtocol, steps: Array<{ c: Uint8Array } | { s: Uint8Array }>): Exchange[] {
  const exchanges: Exchange[] = [];
  const session = createCaptureFactory().createSession(protocol, { maxBodyBytes: 64 * 1024, emit: (e) => exchanges.push(e), event: () => undefined });
  let now = base;
  for (const step of steps) {
    now += 1_000_000n;
    if ('c' in step) session.clientData(step.c, now);
    else session.serverData(step.s, now);
  }
  session.close(now + 1_000_000n, 'fin');
  return exchanges;
}

const sql = toRecords(
  capture('postgres', [
    { c: cat(serialize.startup({ user: 'shop', database: 'shop' })) },
    { s: greeting() },
    { c: cat(serialize.parse({ text: 'SELECT id, item FROM orders WHERE qty >= $1' }), serialize.bind({ values: ['2'] }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()) },
    { s: cat(be.parseComplete(), be.bindComplete(), be.rowDescription(['id', 'item']), be.dataRow(['1', 'tea']), be.dataRow(['2', 'cup']), be.commandComplete('SELECT 2'), be.ready()) },
  ]),
  5432,
);
const sqlError = toRecords(
  capture('postgres', [
    { c: cat(serialize.startup({ user: 'shop', database: 'shop' })) },
    { s: greeting() },
    { c: cat(serialize.query('SELECT * FROM nope')) },
    { s: cat(be.error({ S: 'ERROR', V: 'ERROR', C: '42P01', M: 'relation "nope" does not exist' }), be.ready()) },
  ]),
  5432,
);
const redis = toRecords(capture('redis', [{ c: cmd('GET', 'cart:42') }, { s: Buffer.from(bulk('tea,cup')) }]), 6379);

const Reply = protobuf.parse('syntax = "proto3"; message Level { string sku = 1; int32 level = 2; }').root.lookupType('Level');
const frames = Buffer.concat([1, 2].map((level) => {
  const m = Reply.encode({ sku: 'tea', level }).finish();
  return Buffer.concat([Buffer.from([0, 0, 0, 0, m.length]), m]);
}));
const grpcMessage = (body: Buffer, extra: object = {}) => ({ headers: { 'content-type': 'application/grpc' }, body, body_size: body.length, truncated: false, content_type: 'application/grpc', ...extra });
const grpc = toRecords(
  [
    toGrpcExchange(
      {
        protocol: 'grpc',
        ordinal: 0,
        start: base,
        end: base + 9_000_000n,
        bytes_out: 40,
        bytes_in: 60,
        method: 'POST',
        path: '/shop.Inventory/WatchStock',
        status_code: 200,
        request: grpcMessage(Buffer.from([0, 0, 0, 0, 0])),
        response: grpcMessage(frames, { trailers: { 'grpc-status': '5', 'grpc-message': 'sku%20tea%20gone' } }),
        body_arrivals: { response: [[0, base + 2_000_000n], [frames.length / 2, base + 7_000_000n]] },
      },
      64 * 1024,
    ),
  ],
  50051,
);
const ws = toRecords([{ protocol: 'ws', ordinal: 1, start: base, end: base, method: 'TEXT', path: '/feed', bytes_out: 0, bytes_in: 30, response: { headers: {}, body: Buffer.from('{"order":7,"status":"paid"}'), body_size: 27, truncated: false } }], 8080);

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed([...sql, ...sqlError, ...redis, ...grpc, ...ws]);
  session = await openBrowser();
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

async function open(record: CallRecord) {
  await session.page.goto(`${backend.baseUrl}#/calls/${encodeURIComponent(record.id)}`);
  const detail = session.page.locator('aside.detail section.protocol');
  await detail.waitFor();
  return detail;
}

void t.test('SQL: the statement, its bound parameters and the result table', async (t) => {
  const select = sql.find((r) => r.method === 'SELECT');
  t.ok(select, 'the session recorded the select');
  const card = await open(select!);
  t.equal((await card.locator('pre.sql-query').textContent())?.trim(), 'SELECT id, item FROM orders WHERE qty >= $1');
  t.same(await card.locator('ol.sql-parameters li').allTextContents(), ['2']);
  t.same(await card.locator('table.sql-result thead th').allTextContents(), ['id', 'item']);
  t.same(await card.locator('table.sql-result tbody tr').allTextContents(), ['1tea', '2cup']);
  t.match(await card.locator('h4').last().textContent(), /2 rows/);
  await session.screenshot('10-detail-sql');
});

void t.test('Redis: the command and the reply as redis-cli shows them', async (t) => {
  const card = await open(redis[0]);
  t.equal(await card.locator('pre.redis-command').textContent(), 'GET cart:42');
  t.equal(await card.locator('pre.redis-reply').textContent(), '"tea,cup"');
});

void t.test('gRPC: status with its message, each message decoded with its arrival time', async (t) => {
  const card = await open(grpc[0]);
  t.match(await card.textContent(), /5 NOT_FOUND — sku tea gone/);
  const messages = card.locator('ol.grpc-messages[data-side="response"] li.grpc-message');
  t.equal(await messages.count(), 2);
  t.match(await messages.nth(0).locator('.grpc-meta').textContent(), /#1 · \+2(\.0+)?\s?ms/);
  t.match(await messages.nth(1).locator('.grpc-meta').textContent(), /#2 · \+7(\.0+)?\s?ms/);
  t.same(JSON.parse((await messages.nth(1).locator('pre').textContent()) ?? ''), { 1: 'tea', 2: 2 });
  await session.screenshot('11-detail-grpc');
});

void t.test('WebSocket: the direction and a link to the conversation', async (t) => {
  const card = await open(ws[0]);
  t.match(await card.locator('.ws-direction').textContent(), /server → client/);
  await card.locator('a.ws-conversation').click();
  await session.page.waitForURL(/#\/calls\?/);
  const hash = new URL(session.page.url()).hash;
  t.match(new URLSearchParams(hash.slice(hash.indexOf('?') + 1)).get('filter'), /^ws && connection_id == "proto-\d+"$/, 'the stream filtered to the connection');
  await session.page.locator(`tr.call-row[data-id="${ws[0].id}"]`).waitFor();
  t.same(session.errors, [], 'no page errors');
});

void t.test('the status in each protocol\'s words, the same in the list, the header and the Call card', async (t) => {
  const { page } = session;
  const failed = sqlError.find((r) => r.method === 'SELECT')!;
  const ran = sql.find((r) => r.method === 'SELECT')!;
  for (const [record, text, cls, title] of [
    [grpc[0], '200 NOT_FOUND', 'server-error', 'gRPC status 5 NOT_FOUND: sku tea gone (HTTP 200)'],
    [failed, '42P01', 'server-error', 'SQLSTATE 42P01: relation "nope" does not exist'],
    [ran, '—', 'none', 'no status'],
  ] as const) {
    await page.goto(`${backend.baseUrl}#/calls/${encodeURIComponent(record.id)}`);
    const cell = page.locator(`tr.call-row[data-id="${record.id}"] td.c-status`);
    await cell.waitFor();
    t.equal(await cell.textContent(), text, `${record.protocol} ${record.method}: the list`);
    t.equal(await cell.locator('.status-pill').getAttribute('class'), `status-pill ${cls}`);
    t.equal(await cell.getAttribute('title'), title);
    t.equal(await page.locator('aside.detail .detail-title .status-pill').textContent(), text, 'the header');
    await page.locator('aside.detail section[aria-label="Call"]').waitFor();
    const card = page.locator('aside.detail section[aria-label="Call"] dd.call-status');
    if (text === '—') t.equal(await card.count(), 0, 'no status to say');
    else t.equal(await card.textContent(), text, 'the Call card');
  }
  t.same(session.errors, [], 'no page errors');
});
