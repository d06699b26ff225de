import { once } from 'node:events';
import net from 'node:net';
import t from 'tap';
import { resolveLokiConfig, type LokiOptions } from '../../../collector/loki/config.ts';
import { buildLokiEntry } from '../../../collector/loki/entry.ts';
import { equalJitterDelay as backoffDelay } from '../../../lib/backoff.ts';
import { createLokiPusher, parseRetryAfter, type LokiPusherDeps } from '../../../collector/loki/pusher.ts';
import { createSinkLogger, type Logger } from '../../../lib/log.ts';
import type { CallRecord } from '../../../record/record.ts';
import { startLokiReceiver, type LokiReceiver } from './loki-receiver.ts';
import { inboundPayment502, outboundGrpcCatalog, outboundRedisExternal } from './records.ts';

function config(url: string, options: Partial<Record<keyof LokiOptions, unknown>> = {}) {
  return resolveLokiConfig({ MESHTAP_LOKI_URL: url }, { batchWaitMs: 20, minBackoffMs: 100, maxBackoffMs: 1000, ...options })!;
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Keeps warnings and errors (debug lines are chatter about retries). */
function captureLogger(): Logger & { lines: Array<{ fields: Record<string, unknown>; message: string }> } {
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  return Object.assign(
    createSinkLogger((level, message, fields) => {
      if (level !== 'debug' && level !== 'info') lines.push({ fields, message });
    }),
    { lines },
  );
}

/** Sleeps that return at once and remember what was asked, with a clock they move. */
function fakeTime(): Required<Pick<LokiPusherDeps, 'now' | 'sleep' | 'random'>> & { delays: number[] } {
  let clock = 1_000_000;
  const delays: number[] = [];
  return {
    delays,
    now: () => clock,
    random: () => 0.5,
    sleep: async (ms) => {
      delays.push(ms);
      clock += ms;
    },
  };
}

function numbered(n: number, base: () => CallRecord = inboundPayment502): CallRecord[] {
  return Array.from({ length: n }, (_, i) => ({ ...base(), id: `call-${i}`, start: base().start + BigInt(i) }));
}

async function withReceiver(t: { teardown(fn: () => unknown): void }, reply?: Parameters<typeof startLokiReceiver>[0]): Promise<LokiReceiver> {
  const receiver = await startLokiReceiver(reply);
  t.teardown(() => receiver.close());
  return receiver;
}

for (const encoding of ['protobuf', 'json'] as const) {
  void t.test(`${encoding}: labels, structured metadata, timestamps and lines reach Loki`, async (t) => {
    const receiver = await withReceiver(t);
    const cfg = config(receiver.url, { encoding, tenant: 'team-a', clusterName: 'lab', ...(encoding === 'json' ? { bearerToken: 'tkn' } : { username: 'u', password: 'p' }) });
    const logger = captureLogger();
    const pusher = createLokiPusher(cfg, { log: logger });
    const records = [inboundPayment502(), outboundGrpcCatalog(), outboundRedisExternal()];
    for (const r of records) pusher.push(r);
    await waitFor(() => receiver.entries().length === 3);
    t.same(receiver.errors, []);
    t.equal(receiver.pushes.length, 1, 'one batch');
    const push = receiver.pushes[0];
    t.equal(push.encoding, encoding);
    t.equal(push.headers['x-scope-orgid'], 'team-a');
    t.equal(push.headers.authorization, encoding === 'json' ? 'Bearer tkn' : `Basic ${Buffer.from('u:p').toString('base64')}`);
    t.equal(push.headers['content-encoding'], encoding === 'json' ? 'gzip' : undefined);
    const got = receiver.entries();
    for (const r of records) {
      const want = buildLokiEntry(r, { cluster: 'lab' });
      const e = got.find((g) => JSON.parse(g.line).id === r.id)!;
      t.ok(e, `entry for ${r.id}`);
      t.same(e.labels, want.labels, 'labels');
      t.equal(e.ts, r.start.toString(), 'timestamp in ns');
      t.equal(e.line, want.line, 'line');
      t.same(e.metadata, Object.fromEntries(want.metadata), 'structured metadata');
    }
    t.same(got.find((g) => g.labels.workload === 'payment')!.metadata, {
      observer: 'inbound',
      call_id: 'c0ffee00-0000-4000-8000-000000000001',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      pod: 'payment-5c9b8d7f6-qq7zt',
      method: 'POST',
      route: '/orders/{id}/pay',
      status_code: '502',
      peer_namespace: 'shop',
      peer_workload: 'frontend',
    });
    const stats = await pusher.close();
    t.equal(stats.pushed_entries, 3);
    t.equal(stats.pushed_batches, 1);
    t.ok(stats.pushed_bytes > 0);
    t.same(stats.dropped, { queue_full: 0, retries_exhausted: 0, rejected_4xx: 0, rejected_other: 0, encode_error: 0, shutdown: 0 });
    t.same(logger.lines, []);
  });
}

void t.test('batches are cut by bytes; the rest waits for the timer or close', async (t) => {
  const receiver = await withReceiver(t);
  const records = numbered(10);
  const entryBytes = buildLokiEntry(records[0], { cluster: 'meshtap' }).bytes;
  const cfg = config(receiver.url, { batchBytes: 4096, batchWaitMs: 60_000 });
  const perBatch = Math.floor(4096 / entryBytes);
  t.ok(perBatch >= 2 && perBatch < 10, `${perBatch} entries of ${entryBytes} bytes per batch`);
  const pusher = createLokiPusher(cfg);
  for (const r of records) pusher.push(r);
  const fullBatches = Math.floor(10 / perBatch) - (10 % perBatch === 0 ? 1 : 0);
  await waitFor(() => receiver.pushes.length >= fullBatches);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(receiver.pushes.length, fullBatches, 'only full batches before the timer');
  for (const p of receiver.pushes) t.equal(p.streams.reduce((n, s) => n + s.entries.length, 0), perBatch);
  t.equal(pusher.stats().queued_entries, 10 - fullBatches * perBatch);
  await pusher.close();
  t.same(receiver.entries().map((e) => JSON.parse(e.line).id), records.map((r) => r.id), 'all, in order');
});

void t.test('429, then 503 with Retry-After, then success', async (t) => {
  const receiver = await withReceiver(t, (n) =>
    n === 0 ? { status: 429, body: 'Ingestion rate limit exceeded' } : n === 1 ? { status: 503, headers: { 'retry-after': '3' } } : undefined,
  );
  const time = fakeTime();
  const pusher = createLokiPusher(config(receiver.url, { minBackoffMs: 400 }), { ...time, log: captureLogger() });
  for (const r of numbered(4)) pusher.push(r);
  await waitFor(() => receiver.pushes.length === 1);
  t.equal(receiver.requests, 3);
  t.same(time.delays, [300, 3000], 'jittered backoff (400 → 200 + 0.5×200), then Retry-After 3 s');
  const stats = await pusher.close();
  t.equal(stats.retries, 2);
  t.equal(stats.pushed_entries, 4);
  t.equal(stats.dropped.retries_exhausted, 0);
  t.equal(receiver.entries().length, 4);
});

void t.test('400 is not retried: dropped, counted, Loki\'s text logged', async (t) => {
  const lokiText = "entry for stream '{cluster=\"meshtap\"}' has timestamp too old";
  const receiver = await withReceiver(t, (n) => (n === 0 ? { status: 400, body: lokiText } : undefined));
  const time = fakeTime();
  const logger = captureLogger();
  const pusher = createLokiPusher(config(receiver.url), { ...time, log: logger });
  for (const r of numbered(3)) pusher.push(r);
  await waitFor(() => pusher.stats().dropped.rejected_4xx === 3);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(receiver.requests, 1, 'one request only');
  t.same(time.delays, []);
  const stats = pusher.stats();
  t.equal(stats.retries, 0);
  t.equal(stats.pushed_entries, 0);
  t.match(stats.last_error, /^HTTP 400: entry for stream/);
  t.equal(logger.lines.length, 1);
  t.equal(logger.lines[0].fields.status, 400);
  t.match(String(logger.lines[0].fields.loki_error), 'has timestamp too old');
  pusher.push(inboundPayment502());
  await pusher.close();
  t.equal(receiver.entries().length, 1, 'later batches still go');
});

void t.test('other 4xx (401, 413) are not retried either', async (t) => {
  const receiver = await withReceiver(t, (n) => (n === 0 ? { status: 401 } : n === 1 ? { status: 413 } : undefined));
  const time = fakeTime();
  const pusher = createLokiPusher(config(receiver.url), { ...time, log: captureLogger() });
  pusher.push(inboundPayment502());
  await pusher.flush();
  pusher.push(inboundPayment502());
  await pusher.flush();
  t.equal(receiver.requests, 2);
  t.equal(pusher.stats().dropped.rejected_4xx, 2);
  t.same(time.delays, []);
  await pusher.close();
});

void t.test('Loki down past the retry count: dropped as retries_exhausted', async (t) => {
  const receiver = await startLokiReceiver();
  const url = receiver.url;
  await receiver.close();
  const time = fakeTime();
  const logger = captureLogger();
  const pusher = createLokiPusher(config(url, { maxRetries: 3 }), { ...time, log: logger });
  for (const r of numbered(5)) pusher.push(r);
  await waitFor(() => pusher.stats().dropped.retries_exhausted === 5);
  const stats = await pusher.close();
  t.equal(stats.retries, 3);
  t.equal(time.delays.length, 3);
  t.ok(time.delays[1] > time.delays[0] && time.delays[2] > time.delays[1], `exponential: ${time.delays}`);
  t.match(stats.last_error, /ECONNREFUSED/);
  t.equal(stats.pushed_entries, 0);
  t.match(logger.lines.at(-1)!.message, /after retries/);
});

void t.test('Loki down past the retry time budget: dropped as retries_exhausted', async (t) => {
  const receiver = await withReceiver(t, () => ({ status: 503 }));
  const time = fakeTime();
  const pusher = createLokiPusher(config(receiver.url, { maxRetries: 1000, maxRetryMs: 2000, minBackoffMs: 400, maxBackoffMs: 400 }), {
    ...time,
    log: captureLogger(),
  });
  pusher.push(inboundPayment502());
  await waitFor(() => pusher.stats().dropped.retries_exhausted === 1);
  t.same(time.delays, [300, 300, 300, 300, 300, 300], 'stopped before the budget is passed');
  t.equal(receiver.requests, 7);
  await pusher.close();
});

void t.test('a Loki that never answers times out and is retried', async (t) => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => sockets.add(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const time = fakeTime();
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const pusher = createLokiPusher(config(url, { timeoutMs: 150, maxRetries: 1 }), { ...time, log: captureLogger() });
  pusher.push(inboundPayment502());
  await waitFor(() => pusher.stats().dropped.retries_exhausted === 1);
  t.equal(pusher.stats().retries, 1);
  t.equal(sockets.size >= 1, true);
  await pusher.close();
});

void t.test('queue overflow is counted, never thrown', async (t) => {
  const receiver = await withReceiver(t);
  const records = numbered(10);
  const entryBytes = buildLokiEntry(records[0], { cluster: 'meshtap' }).bytes;
  const logger = captureLogger();
  const pusher = createLokiPusher(config(receiver.url, { batchBytes: 4096, maxQueueBytes: 4096, batchWaitMs: 60_000 }), { log: logger });
  for (const r of records) t.doesNotThrow(() => pusher.push(r));
  const fit = Math.floor(4096 / entryBytes);
  t.equal(pusher.stats().dropped.queue_full, 10 - fit);
  t.equal(logger.lines.length, 1, 'one warning, not one per record');
  const stats = await pusher.close();
  t.equal(stats.pushed_entries, fit);
  t.equal(receiver.entries().length, fit);
});

void t.test('close drains what is queued, then refuses new records', async (t) => {
  const receiver = await withReceiver(t);
  const pusher = createLokiPusher(config(receiver.url, { batchWaitMs: 60_000 }));
  for (const r of numbered(5)) pusher.push(r);
  t.equal(receiver.requests, 0);
  const stats = await pusher.close({ drainMs: 5000 });
  t.equal(stats.pushed_entries, 5);
  t.equal(stats.queued_entries, 0);
  t.equal(receiver.entries().length, 5);
  pusher.push(inboundPayment502());
  t.equal(pusher.stats().dropped.shutdown, 1);
  t.equal(await pusher.close(), await pusher.close(), 'close is idempotent');
});

void t.test('close gives up after drainMs when Loki is down', async (t) => {
  const receiver = await startLokiReceiver();
  const url = receiver.url;
  await receiver.close();
  const pusher = createLokiPusher(config(url, { maxRetries: 1000, minBackoffMs: 50, maxBackoffMs: 50, batchBytes: 4096 }), { log: captureLogger() });
  for (const r of numbered(6)) pusher.push(r);
  const started = Date.now();
  const stats = await pusher.close({ drainMs: 300 });
  const took = Date.now() - started;
  t.ok(took >= 250 && took < 3000, `closed after ${took} ms`);
  t.equal(stats.dropped.shutdown, 6);
  t.equal(stats.pushed_entries, 0);
  t.ok(stats.retries > 0);
});

void t.test('a throwing logger changes nothing', async (t) => {
  const receiver = await withReceiver(t, (n) => (n === 0 ? { status: 400, body: 'bad' } : undefined));
  const logger: Logger = createSinkLogger(() => {
    throw new Error('logger down');
  });
  const pusher = createLokiPusher(config(receiver.url), { log: logger });
  pusher.push(inboundPayment502());
  await pusher.flush();
  t.doesNotThrow(() => pusher.push(null as unknown as CallRecord));
  pusher.push(inboundPayment502());
  const stats = await pusher.close();
  t.equal(stats.dropped.rejected_4xx, 1);
  t.equal(stats.dropped.encode_error, 1);
  t.equal(stats.pushed_entries, 1);
});

void t.test('a record that cannot be mapped is counted, not thrown', async (t) => {
  const pusher = createLokiPusher(config('http://127.0.0.1:9'), { log: captureLogger() });
  t.doesNotThrow(() => pusher.push(null as unknown as CallRecord));
  t.equal(pusher.stats().dropped.encode_error, 1);
  await pusher.close({ drainMs: 10 });
});

void t.test('Retry-After and backoff arithmetic', async (t) => {
  t.equal(parseRetryAfter(null, 0), undefined);
  t.equal(parseRetryAfter('7', 0), 7000);
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000);
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:29:00 GMT')), 0);
  t.equal(parseRetryAfter('soon', 0), undefined);
  t.equal(backoffDelay(1, 500, 30_000, 0), 250);
  t.equal(backoffDelay(1, 500, 30_000, 1), 500);
  t.equal(backoffDelay(3, 500, 30_000, 0.5), 1500);
  t.equal(backoffDelay(20, 500, 30_000, 1), 30_000);
});
