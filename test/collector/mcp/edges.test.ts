/**
 * `what_changed` and `edge_summary` on crafted records, through the SDK's Streamable HTTP
 * client against a real collector: windows, meshed twins counted once, sorting by change,
 * filters (a bad one is a tool error in the user's own terms), paging past the API's page.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import t, { type Test } from 'tap';
import { startCollector, type RunningCollector } from '../../../collector/collector.ts';
import { resolveCollectorOptions } from '../../../collector/config.ts';
import { createSinkLogger } from '../../../lib/log.ts';
import type { CallRecord } from '../../../record/record.ts';
import { callRecord, type CallSpec } from '../helpers.ts';

const TOKEN = 'mcp-edges-token-0123456789abcdef';

async function collector(t: Test, records: CallRecord[]): Promise<RunningCollector> {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-mcp-edges-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);
  const c = await startCollector(
    resolveCollectorOptions({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, store: 'memory', maxRecords: 100_000, auth: 'token', authTokenFile: join(dir, 'tokens') }),
    { log: createSinkLogger(() => {}) },
  );
  t.teardown(() => c.close({ force: true }));
  await c.store.add(records);
  return c;
}

async function client(t: Test, c: RunningCollector): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${c.httpPort}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } });
  const mcp = new Client({ name: 'meshtap-test', version: '1.0.0' });
  await mcp.connect(transport);
  t.teardown(() => mcp.close());
  return mcp;
}

type ToolCall = { isError?: boolean; content: { text?: string }[] };
const textOf = (r: unknown): string => (r as ToolCall).content.map((c) => c.text ?? '').join('');
function jsonOf(r: unknown): any {
  if ((r as ToolCall).isError === true) throw new Error(textOf(r));
  return JSON.parse(textOf(r));
}

const frontend = { namespace: 'shop', workload: 'frontend', pod: 'frontend-0' };
const at = (workload: string) => ({ namespace: 'shop', workload, pod: `${workload}-0` });

/**
 * Window A is 16:00–16:01 (T0 + 0–60 s), window B 16:02–16:03; calls at 16:01:30 are in
 * neither. frontend → payment breaks in B (half 503s, 900 ms), frontend → catalog stays the
 * same, frontend → fraud is new in B, catalog → db is gone in B.
 */
function incident(): CallRecord[] {
  const out: CallRecord[] = [];
  let n = 0;
  const add = (spec: Omit<CallSpec, 'id'>, twin = false): void => {
    const id = `r-${n++}`;
    out.push(callRecord({ id, method: 'GET', path: '/x', ...spec }));
    // The callee's sidecar saw the same call: the summaries must count it once.
    if (twin) out.push(callRecord({ id: `${id}-in`, method: 'GET', path: '/x', ...spec, observer: 'inbound', connectionId: `conn-${id}`, elapsedMs: 1 }));
  };
  for (let i = 0; i < 40; i++) add({ at: i * 1000, src: frontend, dst: at('payment'), status: i < 2 ? 500 : 200, elapsedMs: 10 }, true);
  for (let i = 0; i < 20; i++) add({ at: i * 1000 + 500, src: frontend, dst: at('catalog'), status: 200, elapsedMs: 5 });
  for (let i = 0; i < 10; i++) add({ at: i * 1000 + 700, src: at('catalog'), dst: at('db'), status: 200, elapsedMs: 2 });
  for (let i = 0; i < 5; i++) add({ at: 90_000 + i, src: frontend, dst: at('payment'), status: 500, elapsedMs: 3000 });
  for (let i = 0; i < 3; i++) add({ at: 90_100 + i, src: frontend, dst: at('catalog'), status: 429, elapsedMs: 1 });
  for (let i = 0; i < 40; i++) add({ at: 120_000 + i * 1000, src: frontend, dst: at('payment'), status: i % 2 === 0 ? 503 : 200, elapsedMs: i % 2 === 0 ? 900 : 10 }, true);
  for (let i = 0; i < 20; i++) add({ at: 120_000 + i * 1000 + 500, src: frontend, dst: at('catalog'), status: 200, elapsedMs: 5 });
  for (let i = 0; i < 10; i++) add({ at: 120_000 + i * 1000 + 700, src: frontend, dst: at('fraud'), status: 200, elapsedMs: 30 });
  return out;
}

const WINDOWS = {
  window_a_start: '2025-11-24T16:00:00Z',
  window_a_end: '2025-11-24T16:01:00Z',
  window_b_start: '2025-11-24T16:02:00Z',
  window_b_end: '2025-11-24T17:03:00+01:00',
};

void t.test('what_changed: per edge, both windows and the deltas, biggest change first', async (t) => {
  const mcp = await client(t, await collector(t, incident()));
  const changed = jsonOf(await mcp.callTool({ name: 'what_changed', arguments: WINDOWS }));
  t.same(changed.window_a, { start: '2025-11-24T16:00:00.000Z', end: '2025-11-24T16:01:00.000Z', records_read: 110 }, 'window A: 70 calls and 40 inbound twins, nothing of 16:01:30');
  t.same(changed.window_b, { start: '2025-11-24T16:02:00.000Z', end: '2025-11-24T16:03:00.000Z', records_read: 110 });
  t.same(
    changed.edges.map((e: { edge: string }) => e.edge),
    ['shop/frontend → shop/payment', 'shop/frontend → shop/fraud', 'shop/catalog → shop/db', 'shop/frontend → shop/catalog'],
  );
  t.same(changed.edges[0], {
    edge: 'shop/frontend → shop/payment',
    calls: [40, 40],
    error_rate: [0.05, 0.5],
    p99_ms: [10, 900],
    delta: { rate_pct: 0, error_rate: 0.45, p99_ms: 890 },
    top_errors_b: [['503', 20]],
    score: 6.356,
  });
  t.match(changed.edges[1], { change: 'new', calls: [0, 10], error_rate: [null, 0], p99_ms: [null, 30], delta: {}, score: 1.73 });
  t.match(changed.edges[2], { change: 'gone', calls: [10, 0], top_errors_b: [], score: 1.73 });
  t.match(changed.edges[3], { calls: [20, 20], delta: { rate_pct: 0, error_rate: 0, p99_ms: 0 }, score: 0 });
  t.notOk('change' in changed.edges[3]);

  const filtered = jsonOf(await mcp.callTool({ name: 'what_changed', arguments: { ...WINDOWS, filter: 'src.workload == "catalog"' } }));
  t.same(
    filtered.edges.map((e: { edge: string; change?: string }) => [e.edge, e.change]),
    [['shop/catalog → shop/db', 'gone']],
    'the filter narrows both windows',
  );

  // Window B twice as long: the call rate, not the count, is compared.
  const longer = jsonOf(await mcp.callTool({ name: 'what_changed', arguments: { ...WINDOWS, window_b_end: '2025-11-24T16:04:00Z' } }));
  t.match(
    longer.edges.find((e: { edge: string }) => e.edge === 'shop/frontend → shop/catalog'),
    { calls: [20, 20], delta: { rate_pct: -50 } },
  );

  const relative = jsonOf(await mcp.callTool({ name: 'what_changed', arguments: { window_a_start: '2h', window_a_end: '1h', window_b_start: '1h', window_b_end: 'now' } }));
  t.same(relative.edges, [], 'relative windows (now is in 2026 or later: the 2025 calls are in neither)');

  const bad = (await mcp.callTool({ name: 'what_changed', arguments: { ...WINDOWS, filter: 'src.wrkload == "catalog"' } })) as ToolCall;
  t.equal(bad.isError, true, 'a bad filter is a tool error');
  t.match(textOf(bad), /COL_ERR_FILTER_UNDECLARED.*'wrkload'.*at line 1, column 5/s, 'the position is in the user\'s own filter');
  t.match(textOf(bad), /\n {2}src\.wrkload == "catalog"\n {6}\^/);

  const badTime = (await mcp.callTool({ name: 'what_changed', arguments: { ...WINDOWS, window_b_start: 'yesterday' } })) as ToolCall;
  t.equal(badTime.isError, true);
  t.match(textOf(badTime), /window_b_start: expected an ISO 8601/);
  const backwards = (await mcp.callTool({ name: 'what_changed', arguments: { ...WINDOWS, window_a_end: '2025-11-24T15:00:00Z' } })) as ToolCall;
  t.equal(backwards.isError, true);
  t.match(textOf(backwards), /window A must end after it starts/);
  const localTime = (await mcp.callTool({ name: 'what_changed', arguments: { ...WINDOWS, window_a_start: '2025-11-24T16:00:00' } })) as ToolCall;
  t.equal(localTime.isError, true, 'a time without its zone is refused, not guessed');
});

void t.test('edge_summary: errors, 4xx, latency and top error statuses per edge', async (t) => {
  const mcp = await client(t, await collector(t, incident()));
  const all = jsonOf(await mcp.callTool({ name: 'edge_summary', arguments: {} }));
  t.equal(all.records_read, 228, 'every record read (twins included)');
  t.equal(all.calls, 148, 'the calls they make: a twin pair is one');
  t.notOk('calls_read' in all, 'what was read is named records, not calls');
  t.same(all.span, { oldest: '2025-11-24T16:00:00.000Z', newest: '2025-11-24T16:02:39.000Z' });
  t.same(all.edges, [
    { edge: 'shop/frontend → shop/payment', calls: 85, errors: 27, error_rate: 0.3176, http_4xx: 0, p50_ms: 10, p99_ms: 3000, top_errors: [['503', 20], ['500', 7]] },
    { edge: 'shop/frontend → shop/catalog', calls: 43, errors: 0, error_rate: 0, http_4xx: 3, p50_ms: 5, p99_ms: 5, top_errors: [] },
    { edge: 'shop/catalog → shop/db', calls: 10, errors: 0, error_rate: 0, http_4xx: 0, p50_ms: 2, p99_ms: 2, top_errors: [] },
    { edge: 'shop/frontend → shop/fraud', calls: 10, errors: 0, error_rate: 0, http_4xx: 0, p50_ms: 30, p99_ms: 30, top_errors: [] },
  ]);
  t.notOk('note' in all);

  const recent = jsonOf(await mcp.callTool({ name: 'edge_summary', arguments: { filter: 'dst.workload == "payment"', since: '2025-11-24T16:01:30Z' } }));
  t.same(
    recent.edges.map((e: { edge: string; calls: number; errors: number }) => [e.edge, e.calls, e.errors]),
    [['shop/frontend → shop/payment', 45, 25]],
  );
  const capped = jsonOf(await mcp.callTool({ name: 'edge_summary', arguments: { max_calls: 10 } }));
  t.equal(capped.records_read, 10);
  t.match(capped.note, /^max_calls \(10\) reached: the newest 10 matching records \(\d+ calls: a call both sidecars saw is two records\) were summarised/);
  const exact = jsonOf(await mcp.callTool({ name: 'edge_summary', arguments: { max_calls: 228 } }));
  t.equal(exact.records_read, 228);
  t.notOk('note' in exact, 'exactly max_calls records match: nothing more, no note');

  const bad = (await mcp.callTool({ name: 'edge_summary', arguments: { filter: 'status_code >= ' } })) as ToolCall;
  t.equal(bad.isError, true);
  t.match(textOf(bad), /COL_ERR_FILTER_SYNTAX/);
});

void t.test('edge_summary reads past one API page', async (t) => {
  // 2500 calls, seven at each instant: pages overlap at their earliest instant, and ids already read are skipped.
  const records: CallRecord[] = [];
  for (let i = 0; i < 2500; i++) {
    records.push(callRecord({ id: `p-${i}`, at: Math.floor(i / 7), src: frontend, dst: at(i % 2 === 0 ? 'payment' : 'catalog'), status: i % 10 === 0 ? 502 : 200, elapsedMs: 1 + (i % 100) }));
  }
  const mcp = await client(t, await collector(t, records));
  const summary = jsonOf(await mcp.callTool({ name: 'edge_summary', arguments: { max_calls: 5000 } }));
  t.equal(summary.records_read, 2500, 'three pages, no record twice, none missed');
  t.equal(summary.calls, 2500);
  t.same(
    summary.edges.map((e: { edge: string; calls: number; errors: number }) => [e.edge, e.calls, e.errors]),
    [
      ['shop/frontend → shop/payment', 1250, 250],
      ['shop/frontend → shop/catalog', 1250, 0],
    ],
  );
});

void t.test('what_changed reads every part of each window: an incident early in window B is in its figures', async (t) => {
  // Window A (15:52–16:00) steady; window B (16:00–16:08) with 503s in its first four minutes only.
  // 4000 calls a window, one every 120 ms: the newest 2000 of B would be its last four minutes, all 200s.
  const records: CallRecord[] = [];
  for (let i = 0; i < 8000; i++) {
    const ms = -480_000 + i * 120;
    const failing = ms >= 0 && ms < 240_000;
    records.push(callRecord({ id: `w-${i}`, at: ms, src: frontend, dst: at('payment'), status: failing ? 503 : 200, elapsedMs: failing ? 900 : 10 + (i % 7) }));
  }
  const mcp = await client(t, await collector(t, records));
  const windows = { window_a_start: '2025-11-24T15:52:00Z', window_a_end: '2025-11-24T16:00:00Z', window_b_start: '2025-11-24T16:00:00Z', window_b_end: '2025-11-24T16:08:00Z' };
  const changed = jsonOf(await mcp.callTool({ name: 'what_changed', arguments: windows }));
  t.match(changed.window_b, { records_read: 2000, estimated: true }, 'the default bound: 2000 records a window');
  t.ok(changed.window_b.time_read_pct > 40 && changed.window_b.time_read_pct < 50, `about half the time read in full (${changed.window_b.time_read_pct}%)`);
  const [payment] = changed.edges;
  t.equal(payment.edge, 'shop/frontend → shop/payment');
  t.ok(Math.abs(payment.calls[0] - 4000) <= 80 && Math.abs(payment.calls[1] - 4000) <= 80, `calls estimated within 2% (${payment.calls})`);
  t.equal(payment.error_rate[0], 0);
  t.ok(Math.abs(payment.error_rate[1] - 0.5) < 0.02, `window B's error rate is its whole time's (${payment.error_rate[1]}), not its last minutes' 0`);
  t.equal(payment.p99_ms[1], 900);
  t.match(
    changed.note,
    /^window A held more records than were read \(2000\): it was read as 20 sub-windows of 24 s, up to 100 records from each, and 20 of them held more, of which only the latest part was read in full — the figures rest on the calls of \d+% of window A's time, spread over the whole window, so its calls are estimates scaled up from that time \(as if traffic were steady within each sub-window\), and its error rates and p99 weigh each sub-window by its estimated calls; window B held more/,
  );

  // Shares that hold a whole sub-window: every record read, the figures exact.
  const all = jsonOf(await mcp.callTool({ name: 'what_changed', arguments: { ...windows, max_calls_per_window: 5000 } }));
  t.same(all.window_b, { start: '2025-11-24T16:00:00.000Z', end: '2025-11-24T16:08:00.000Z', records_read: 4000 });
  t.match(all.edges[0], { calls: [4000, 4000], error_rate: [0, 0.5] });
  t.notOk('note' in all);
});

void t.test('what_changed: an edge missing from a sampled window is unseen there, not new or gone', async (t) => {
  // Windows A (15:52–16:00) and B (16:00–16:08): frontend → payment every 120 ms, 4000 calls each,
  // more than the 2000 read; frontend → audit twice a sub-window (24 s), early in A's (before the
  // part read) and late in B's. An edge only in B's read part, with one in A's unread parts.
  const records: CallRecord[] = [];
  for (let i = 0; i < 8000; i++) records.push(callRecord({ id: `p-${i}`, at: -480_000 + i * 120, src: frontend, dst: at('payment'), status: 200 }));
  for (let s = 0; s < 40; s++) {
    const sub = -480_000 + s * 24_000;
    const offsets = sub < 0 ? [500, 1500] : [23_000, 23_500];
    for (const o of offsets) records.push(callRecord({ id: `a-${s}-${o}`, at: sub + o, src: frontend, dst: at('audit'), status: 200 }));
  }
  // Stored in the order they started, as a collector receives them.
  records.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  const mcp = await client(t, await collector(t, records));
  const windows = { window_a_start: '2025-11-24T15:52:00Z', window_a_end: '2025-11-24T16:00:00Z', window_b_start: '2025-11-24T16:00:00Z', window_b_end: '2025-11-24T16:08:00Z' };
  const sampled = jsonOf(await mcp.callTool({ name: 'what_changed', arguments: windows }));
  t.match(sampled.window_a, { estimated: true });
  const audit = sampled.edges.find((e: { edge: string }) => e.edge === 'shop/frontend → shop/audit');
  t.match(audit, { change: 'unseen_in_a' }, 'not "new": window A was sampled');
  t.equal(audit.calls[0], 0, 'none among the calls read of A');
  t.match(sampled.note, /1 edge is marked unseen_in_a or unseen_in_b: no call of it was among those read of that window, which was not read whole, so it may have calls there/);
  const whole = jsonOf(await mcp.callTool({ name: 'what_changed', arguments: { ...windows, max_calls_per_window: 5000 } }));
  const auditWhole = whole.edges.find((e: { edge: string }) => e.edge === 'shop/frontend → shop/audit');
  t.match(auditWhole, { calls: [40, 40] }, 'read whole, the edge is in both windows');
  t.notOk('change' in auditWhole);
});
