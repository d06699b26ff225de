/** The waterfall of a flow linked by timing: one tree, confidence shown, clock skew between sidecars corrected. */
import t from 'tap';
import { recordToJson } from '../../record/record-json.ts';
import type { CallRecord } from '../../record/record.ts';
import { clientSpanId, serverSpanId } from '../../record/trace-ids.ts';
import { hop, FRONTEND, GATEWAY, PAYMENT } from '../collector/otel/records.ts';
import { loadBrowserModule } from './browser-modules.ts';

const { buildWaterfall } = await loadBrowserModule('waterfall.js');

type Bar = { offsetUs: number; durationUs: number };
type Row = { key: string; depth: number; callee: string; parentKey?: string; clientBar?: Bar; serverBar?: Bar; skewUs?: number; linkConfidence?: number };

/** frontend → gateway → payment, as the collector stores it: span ids filled, hop 2 linked to hop 1. */
function linkedFlow(confidence = 1): CallRecord[] {
  const h1 = hop({ connection: 'c1', ordinal: 0, from: FRONTEND, to: GATEWAY, at: 0n });
  const h2 = hop({ connection: 'c2', ordinal: 0, from: GATEWAY, to: PAYMENT, at: 1_000_000n });
  h1.outbound.span_id = clientSpanId('c1', 0);
  h1.inbound.span_id = serverSpanId('c1', 0);
  h1.inbound.parent_span_id = clientSpanId('c1', 0);
  h2.outbound.span_id = clientSpanId('c2', 0);
  h2.outbound.parent_span_id = serverSpanId('c1', 0);
  h2.outbound.link_confidence = confidence;
  h2.inbound.span_id = serverSpanId('c2', 0);
  h2.inbound.parent_span_id = clientSpanId('c2', 0);
  // hop() makes hop 2 as long as hop 1: shorten it to fit inside the gateway's handling.
  for (const r of [h2.outbound, h2.inbound]) r.end = r.start + 1_000_000n;
  return [h1.outbound, h1.inbound, h2.outbound, h2.inbound];
}

void t.test('a linked flow is one tree; confidence 1 is not shown as a caveat', async (t) => {
  const rows: Row[] = buildWaterfall(linkedFlow().map(recordToJson)).rows;
  t.same(rows.map((r) => [r.depth, r.callee]), [[0, 'gateway'], [1, 'payment']]);
  t.equal(rows[1].parentKey, rows[0].key);
  t.equal(rows[1].linkConfidence, 1);
  t.equal(rows[0].skewUs, undefined, 'halves that fit are not moved');
});

void t.test('a child linked among several candidates carries its confidence', async (t) => {
  const rows: Row[] = buildWaterfall(linkedFlow(0.25).map(recordToJson)).rows;
  t.equal(rows[1].linkConfidence, 0.25);
});

void t.test('a callee clock behind the caller\'s: its view is moved inside the caller\'s, with its own calls', async (t) => {
  const records = linkedFlow();
  // The gateway's sidecar clock runs 2 ms behind the frontend's: every time it wrote is early.
  const gatewayClock = (r: CallRecord) => (r.observer === 'inbound' && r.connection_id === 'c1') || (r.observer === 'outbound' && r.connection_id === 'c2');
  for (const r of records) {
    if (!gatewayClock(r)) continue;
    r.start -= 2_000_000n;
    r.end -= 2_000_000n;
  }
  const straight: Row[] = buildWaterfall(linkedFlow().map(recordToJson)).rows;
  const rows: Row[] = buildWaterfall(records.map(recordToJson)).rows;
  const [root, child] = rows;
  t.ok(root.skewUs !== undefined && root.skewUs > 0, 'the gateway half moved later');
  t.ok(root.serverBar!.offsetUs >= root.clientBar!.offsetUs, 'the callee starts no earlier than the caller');
  t.ok(root.serverBar!.offsetUs + root.serverBar!.durationUs <= root.clientBar!.offsetUs + root.clientBar!.durationUs, '…and ends no later');
  const near = (a: number, b: number) => Math.abs(a - b) < 0.01;
  t.ok(near(root.serverBar!.offsetUs - root.clientBar!.offsetUs, (root.clientBar!.durationUs - root.serverBar!.durationUs) / 2), 'centred: network time split evenly');
  // The gateway's own call moved by the same amount: its place inside the gateway's handling is kept.
  t.ok(near(child.clientBar!.offsetUs - root.serverBar!.offsetUs, straight[1].clientBar!.offsetUs - straight[0].serverBar!.offsetUs), 'the same clock, the same distance');
  t.equal(straight[0].skewUs, undefined);
  t.ok(child.clientBar!.offsetUs >= root.serverBar!.offsetUs, 'the child starts inside its parent\'s handling');
});
