/** Trace waterfall model: halves paired, calls nested, offsets on one axis. */
import t from 'tap';
import { recordToJson } from '../../record/record-json.ts';
import { CHECKOUT_TRACE_ID, buildShopRecords } from '../fixtures/dashboard/shop-calls.ts';
import { loadBrowserModule } from './browser-modules.ts';

const { buildWaterfall } = await loadBrowserModule('waterfall.js');
const baseNs = 1_764_000_000_000_000_000n;
const trace = buildShopRecords(baseNs).filter((r) => r.trace_id === CHECKOUT_TRACE_ID).map(recordToJson);

type Row = { key: string; depth: number; caller: string; callee: string; offsetUs: number; durationUs: number; clientBar?: object; serverBar?: object; parentKey?: string };

void t.test('the checkout trace: one root, three children in time order, each with both halves', async (t) => {
  const model = buildWaterfall(trace);
  const rows: Row[] = model.rows;
  t.equal(rows.length, 4);
  t.same(rows.map((r) => [r.depth, r.caller, r.callee]), [
    [0, 'frontend', 'gateway'],
    [1, 'gateway', 'auth'],
    [1, 'gateway', 'catalog'],
    [1, 'gateway', 'payment'],
  ]);
  t.ok(rows.every((r) => r.clientBar && r.serverBar), 'CLIENT and SERVER paired');
  t.equal(rows[0].offsetUs, 0);
  t.equal(model.totalUs, 180_000);
  t.equal(rows[1].offsetUs, 10_000);
  t.equal(rows[3].durationUs, 120_000);
  t.equal(rows[1].parentKey, rows[0].key);
});

void t.test('input order does not matter; a lone half still shows', async (t) => {
  const shuffled = [...trace].reverse();
  t.same(buildWaterfall(shuffled).rows.map((r: Row) => r.key), buildWaterfall(trace).rows.map((r: Row) => r.key));
  const onlyServers = trace.filter((r) => r.observer === 'inbound');
  const rows: Row[] = buildWaterfall(onlyServers).rows;
  t.equal(rows.length, 4);
  t.ok(rows.every((r) => r.serverBar && !r.clientBar));
  t.same(rows.map((r) => r.depth), [0, 1, 1, 1]);
});

void t.test('span ids win over time containment when the records carry them', async (t) => {
  const records = trace.map((r) => ({ ...r }));
  const root = records.find((r) => r.id === 'checkout-frontend-gateway-c')!;
  const auth = records.find((r) => r.id === 'checkout-gateway-auth-c')!;
  const catalog = records.find((r) => r.id === 'checkout-gateway-catalog-c')!;
  root.span_id = '1111111111111111';
  auth.span_id = '2222222222222222';
  auth.parent_span_id = '1111111111111111';
  catalog.parent_span_id = '2222222222222222';
  const rows: Row[] = buildWaterfall(records).rows;
  const depth = Object.fromEntries(rows.map((r) => [r.callee, r.depth]));
  t.equal(depth.catalog, 2, 'catalog under auth, as the span ids say');
});

void t.test('a call that outlives the request it started in stays under that request', async (t) => {
  const records = buildShopRecords(baseNs).filter((r) => r.trace_id === CHECKOUT_TRACE_ID);
  const root = records.find((r) => r.id === 'checkout-frontend-gateway-c')!;
  // The gateway's call to payment (a stream, say) ends a minute after the checkout did.
  for (const r of records.filter((r) => r.id.startsWith('checkout-gateway-payment'))) {
    r.end = root.end + 60_000_000_000n;
    r.elapsed_us = Number((r.end - r.start) / 1000n);
  }
  const rows: Row[] = buildWaterfall(records.map(recordToJson)).rows;
  const payment = rows.find((r) => r.callee === 'payment')!;
  t.equal(payment.depth, 1, 'under the checkout, not a root');
  t.equal(payment.parentKey, rows.find((r) => r.callee === 'gateway')!.key);
});

void t.test('empty and cyclic input', async (t) => {
  t.same(buildWaterfall([]), { rows: [], startNs: undefined, totalUs: 0 });
  const a = { ...trace[0], id: 'a', connection_id: 'ca', span_id: 'aaaaaaaaaaaaaaaa', parent_span_id: 'bbbbbbbbbbbbbbbb' };
  const b = { ...trace[0], id: 'b', connection_id: 'cb', span_id: 'bbbbbbbbbbbbbbbb', parent_span_id: 'aaaaaaaaaaaaaaaa' };
  const rows: Row[] = buildWaterfall([a, b]).rows;
  t.equal(rows.length, 2, 'a parent cycle is cut, every call still shown');
});

void t.test("the trace API's entries and parent links are used", async (t) => {
  const { traceRecords } = await loadBrowserModule('api.js');
  const entries = trace.map((call) => ({ call, depth: 0, ...(call.id === 'checkout-gateway-catalog-c' ? { parent_id: 'checkout-gateway-auth-s' } : {}) }));
  const records = traceRecords({ trace_id: CHECKOUT_TRACE_ID, calls: entries });
  t.equal(records.length, trace.length);
  t.equal(records.find((r: { id: string }) => r.id === 'checkout-gateway-catalog-c').parent_id, 'checkout-gateway-auth-s');
  const rows: Row[] = buildWaterfall(records).rows;
  t.equal(rows.find((r) => r.callee === 'catalog')!.depth, 2, 'catalog nested under auth as the link says');
  t.same(traceRecords({ calls: [{ nope: 1 }, null] }), [], 'junk entries skipped');
  t.same(traceRecords(trace).length, trace.length, 'a bare array of calls');
});
