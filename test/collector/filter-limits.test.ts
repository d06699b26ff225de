/** Filters cannot stall the collector: cost limits, budgets, stream clients and row budgets over real HTTP. */
import http from 'node:http';
import t, { type Test } from 'tap';
import type { RunningCollector } from '../../collector/collector.ts';
import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCollector } from '../../collector/collector.ts';
import { compileFilter, isCompiledFilter } from '../../collector/filter/compile.ts';
import { createStreamHub } from '../../collector/stream.ts';
import { callRecord, metricValue, waitFor } from './helpers.ts';

async function start(t: Test, options: Parameters<typeof resolveCollectorOptions>[0] = {}): Promise<RunningCollector> {
  const config = resolveCollectorOptions({ auth: 'none', host: '127.0.0.1', grpcPort: 0, httpPort: 0, ...options });
  const collector = await startCollector(config);
  t.teardown(() => collector.close({ force: true }));
  return collector;
}

const q = (filter: string): string => `filter=${encodeURIComponent(filter)}`;

async function getJson(c: RunningCollector, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${c.httpPort}${path}`);
  return { status: res.status, body: await res.json() };
}

/** An SSE response held open; `events` collects `event:` names with their data. */
function openStream(port: number, query: string): Promise<{ res: http.IncomingMessage; events: { event: string; data: any }[]; body: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/api/stream${query}` }, (res) => {
      const events: { event: string; data: any }[] = [];
      let text = '';
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined) events.push({ event, data: data !== undefined ? JSON.parse(data) : undefined });
        }
      });
      resolve({ res, events, body: () => text, closed: new Promise((r) => res.on('close', () => r())) });
    });
    req.on('error', reject);
  });
}

const REPLACE_CHAIN = 'path.replace("", path).replace("", path).replace("", path).replace("", path).replace("", path).replace("", path) == ""';

void t.test('the replace chain gets a 400 naming the limit while /healthz answers', async (t) => {
  const c = await start(t);
  await c.store.add(Array.from({ length: 50 }, (_, i) => callRecord({ id: `r-${i}`, path: `/api/orders/${'x'.repeat(40)}/${i}` })));
  const [list, stream, health] = await Promise.all([
    getJson(c, `/api/calls?${q(REPLACE_CHAIN)}`),
    getJson(c, `/api/stream?${q(REPLACE_CHAIN)}`),
    fetch(`http://127.0.0.1:${c.httpPort}/healthz`).then(async (r) => ({ status: r.status, body: await r.json() })),
  ]);
  t.equal(list.status, 400);
  t.equal(list.body.error.code, 'COL_ERR_FILTER_COST');
  t.match(list.body.error.message, /over the limit of 1048576 \(maxStringLength/);
  t.equal(stream.status, 400, 'the stream refuses it too');
  t.equal(stream.body.error.code, 'COL_ERR_FILTER_COST');
  t.same(health, { status: 200, body: { status: 'ok' } });
  // And right after, the collector still answers ordinary filters.
  const ok = await getJson(c, `/api/calls?limit=5&${q('path.startsWith("/api/")')}`);
  t.equal(ok.status, 200);
  t.equal(ok.body.calls.length, 5);
});

void t.test('a filter over its evaluation budget at run time: 400 with the limit, counted', async (t) => {
  const c = await start(t, { store: 'memory' });
  await c.store.add(Array.from({ length: 200 }, (_, i) => callRecord({ id: `b-${i}`, requestBody: 'y'.repeat(20_000) })));
  const res = await getJson(c, `/api/calls?limit=1000&${q('request.body.split("").exists(ch, ch == "#")')}`);
  t.equal(res.status, 400);
  t.equal(res.body.error.code, 'COL_ERR_FILTER_BUDGET');
  t.match(res.body.error.message, /evaluation budget of 2000000 steps \(maxEvalSteps\)/);
  t.equal(await metricValue(c, 'meshtap_collector_filter_budget_exceeded_total', { where: 'list' }), 1);
  t.equal((await getJson(c, `/api/calls?limit=3&${q('request.body.size() > 10')}`)).body.calls.length, 3, 'a cheap filter still works');
});

void t.test('a list that spends its row budget answers with what it found and says so', async (t) => {
  const c = await start(t, { listScanLimit: 300 });
  await c.store.add(Array.from({ length: 1500 }, (_, i) => callRecord({ id: `s-${i}`, at: i, path: i === 5 ? '/old-match' : `/p/${i}` })));
  const res = await getJson(c, `/api/calls?limit=10&${q('path.matches("^/old-match$")')}`);
  t.equal(res.status, 200);
  t.same(res.body.calls, [], 'the only match is older than the scanned rows');
  t.equal(res.body.truncated, true);
  t.ok(res.body.scanned >= 300 && res.body.scanned < 1500, `scanned ${res.body.scanned}`);
  const full = await getJson(c, `/api/calls?limit=1&${q('path.matches("^/p/1499$")')}`);
  t.same(full.body.calls.map((r: { id: string }) => r.id), ['s-1499']);
  t.equal(full.body.truncated, undefined, 'a page filled within the budget says nothing');
});

async function fillStreams(t: Test, c: RunningCollector, n: number): Promise<void> {
  const streams: { res: http.IncomingMessage }[] = [];
  for (let i = 0; i < n; i++) streams.push(await openStream(c.httpPort, ''));
  t.teardown(() => {
    for (const s of streams) s.res.destroy();
  });
  await waitFor('all subscribed', () => c.hub.clients().length === n);
}

void t.test('beyond --max-stream-clients a new stream gets 503 with a JSON error', async (t) => {
  const c = await start(t, { maxStreamClients: 3 });
  await fillStreams(t, c, 3);
  const refused = await getJson(c, '/api/stream');
  t.equal(refused.status, 503);
  t.equal(refused.body.error.code, 'COL_ERR_STREAM_FULL');
  t.match(refused.body.error.message, /maximum of 3 live stream clients/);
  t.equal(c.hub.clients().length, 3);
  t.equal(await metricValue(c, 'meshtap_collector_stream_clients_refused_total'), 1);
  // One leaves: a new one gets in.
  c.hub.clients()[0].close();
  await waitFor('one left', () => c.hub.clients().length === 2);
  const again = await openStream(c.httpPort, '');
  t.teardown(() => again.res.destroy());
  t.equal(again.res.statusCode, 200);
});

void t.test('the default allows 200 stream clients: the 201st gets 503', async (t) => {
  const c = await start(t);
  await fillStreams(t, c, 200);
  const refused = await getJson(c, '/api/stream');
  t.equal(refused.status, 503);
  t.equal(refused.body.error.code, 'COL_ERR_STREAM_FULL');
});

void t.test('a stream client whose filter uses up its budget is ended with an error event, counted', async (t) => {
  const c = await start(t, { store: 'memory' });
  const cheap = await openStream(c.httpPort, `?${q('path == "/x"')}`);
  const costly = await openStream(c.httpPort, `?${q('request.body.split("").exists(ch, ch == "#")')}`);
  t.teardown(() => cheap.res.destroy());
  await waitFor('subscribed', () => c.hub.clients().length === 2);
  await c.store.add(Array.from({ length: 10 }, (_, i) => callRecord({ id: `e-${i}`, path: '/x', requestBody: 'z'.repeat(30_000) })));
  await costly.closed;
  const error = costly.events.find((e) => e.event === 'error');
  t.ok(error, 'an error event before the end');
  t.equal(error?.data.code, 'COL_ERR_FILTER_BUDGET');
  t.match(error?.data.message, /100000 steps \(maxEvalSteps\)/);
  await waitFor('the cheap client gets every call', () => cheap.events.filter((e) => e.event === 'call').length === 10);
  t.equal(c.hub.clients().length, 1, 'the cheap client stays');
  t.equal(await metricValue(c, 'meshtap_collector_filter_budget_exceeded_total', { where: 'stream' }), 1);
});

void t.test('publishing to many clients with slow filters does no filter work on the ingest path', async (t) => {
  const hub = createStreamHub({ bufferEvents: 100_000, bufferBytes: 64 << 20, heartbeatMs: 60_000, evalRecordsPerTick: 50 });
  const server = http.createServer((_req, res) => {
    const filter = compileFilter('request.body.split("").exists(ch, ch == "#")');
    if (!isCompiledFilter(filter)) throw new Error('should compile');
    hub.attach(res, filter);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    hub.close();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const clients = await Promise.all(Array.from({ length: 20 }, () => openStream(port, '')));
  await waitFor('subscribed', () => hub.clients().length === 20);
  const records = Array.from({ length: 200 }, (_, i) => callRecord({ id: `p-${i}`, requestBody: i % 50 === 0 ? '#' : 'q'.repeat(100) }));
  for (let i = 0; i < records.length; i += 10) hub.publish(records.slice(i, i + 10));
  t.equal(hub.stats().evaluations, 0, 'publish itself evaluated nothing');
  t.equal(hub.stats().published, 200);
  await waitFor('every client judged every record', () => hub.stats().evaluations === 20 * 200);
  await waitFor('matches delivered', () => clients.every((c) => c.events.filter((e) => e.event === 'call').length === 4));
  t.same(clients[0].events.map((e) => e.data.id), ['p-0', 'p-50', 'p-100', 'p-150']);
  for (const c of clients) c.res.destroy();
});
