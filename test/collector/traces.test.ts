/**
 * A trace's records as a tree (`buildTrace`): parents by span id, by exchange, and by timing at
 * the pod for apps that forward `traceparent` without spans of their own.
 */
import t from 'tap';
import { buildTrace } from '../../collector/traces.ts';
import type { CallRecord } from '../../record/record.ts';
import { FRONTEND, GATEWAY, PAYMENT, hop } from './otel/records.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
/** The first app's span, forwarded unchanged by every app after it: no record carries it. */
const APP_SPAN = '00f067aa0ba902b7';
const LEDGER = { ...PAYMENT, pod: 'ledger-0', workload: 'ledger', ip: '10.244.0.13' };
const MS = 1_000_000n;

/** One hop whose client side runs from `fromMs` for `forMs`; the server side 0.1 ms inside it at both ends. */
function timedHop(connection: string, from: typeof FRONTEND, to: typeof FRONTEND, fromMs: number, forMs: number): { outbound: CallRecord; inbound: CallRecord } {
  const h = hop({ connection, ordinal: 0, from, to, at: BigInt(fromMs) * MS, method: 'GET', path: `/${connection}` });
  h.outbound.end = h.outbound.start + BigInt(forMs) * MS;
  h.inbound.start = h.outbound.start + MS / 10n;
  h.inbound.end = h.outbound.end - MS / 10n;
  for (const r of [h.outbound, h.inbound]) {
    r.trace_id = TRACE;
    r.parent_span_id = APP_SPAN;
  }
  return h;
}

void t.test('apps that forward traceparent without spans: the hops nest by timing at each pod', async (t) => {
  const first = timedHop('fe-gw', FRONTEND, GATEWAY, 0, 20);
  const second = timedHop('gw-pay', GATEWAY, PAYMENT, 2, 10);
  const third = timedHop('pay-led', PAYMENT, LEDGER, 4, 3);
  const records = [third.inbound, second.outbound, first.inbound, third.outbound, first.outbound, second.inbound];
  const tree = new Map(buildTrace(records).map((e) => [e.record.id, e]));
  t.same(
    [...tree.values()].filter((e) => e.parentId === undefined).map((e) => e.record.id),
    [first.outbound.id],
    'one root: the first call',
  );
  t.match(tree.get(first.inbound.id), { parentId: first.outbound.id, depth: 1 });
  t.match(tree.get(second.outbound.id), { parentId: first.inbound.id, depth: 2, linkedBy: 'timing' }, 'the gateway called out while serving the first call');
  t.match(tree.get(second.inbound.id), { parentId: second.outbound.id, depth: 3 });
  t.match(tree.get(third.outbound.id), { parentId: second.inbound.id, depth: 4, linkedBy: 'timing' });
  t.equal(tree.get(first.inbound.id)?.linkedBy, undefined, 'an exchange link is not a timing link');
});

void t.test('by timing: the latest-starting request in flight when the call started, at the same pod only', async (t) => {
  const early = timedHop('fe-gw-1', FRONTEND, GATEWAY, 0, 30);
  const late = timedHop('fe-gw-2', FRONTEND, GATEWAY, 5, 20);
  const call = timedHop('gw-pay', GATEWAY, PAYMENT, 8, 4);
  // A request at another pod that encloses the call too: not where the gateway called from.
  const elsewhere = timedHop('fe-led', FRONTEND, LEDGER, 1, 25);
  // A call the gateway makes after every request it served ended: no parent to be found.
  const after = timedHop('gw-pay-2', GATEWAY, PAYMENT, 40, 2);
  const tree = new Map(buildTrace([early.outbound, early.inbound, late.outbound, late.inbound, call.outbound, call.inbound, elsewhere.outbound, elsewhere.inbound, after.outbound, after.inbound]).map((e) => [e.record.id, e]));
  t.equal(tree.get(call.outbound.id)?.parentId, late.inbound.id, 'the later of the two enclosing requests');
  t.equal(tree.get(after.outbound.id)?.parentId, undefined, 'not enclosed: a root');
  t.equal(tree.get(after.outbound.id)?.linkedBy, undefined);
});

void t.test('by timing: a stream the request opened stays under it after the request ended', async (t) => {
  const request = timedHop('fe-gw', FRONTEND, GATEWAY, 0, 20);
  // Opened 5 ms into the request, open for a minute.
  const stream = timedHop('gw-stock', GATEWAY, PAYMENT, 5, 60_000);
  // Another request the gateway served while the stream was open: the stream did not start in it.
  const later = timedHop('fe-gw-2', FRONTEND, GATEWAY, 30, 20);
  const tree = new Map(buildTrace([request.outbound, request.inbound, stream.outbound, stream.inbound, later.outbound, later.inbound]).map((e) => [e.record.id, e]));
  t.match(tree.get(stream.outbound.id), { parentId: request.inbound.id, depth: 2, linkedBy: 'timing' }, 'under the request in flight when it opened');
  t.match(tree.get(stream.inbound.id), { parentId: stream.outbound.id, depth: 3 });
  t.same(
    [...tree.values()].filter((e) => e.parentId === undefined).map((e) => e.record.id).sort(),
    [request.outbound.id, later.outbound.id].sort(),
    'no root of its own',
  );
});

void t.test('span ids win over timing', async (t) => {
  const first = timedHop('fe-gw', FRONTEND, GATEWAY, 0, 20);
  const second = timedHop('gw-pay', GATEWAY, PAYMENT, 2, 10);
  first.outbound.span_id = 'aaaaaaaaaaaaaaaa';
  first.inbound.span_id = 'bbbbbbbbbbbbbbbb';
  // The gateway's app made a span of its own and named the first call's client span as parent.
  second.outbound.parent_span_id = 'aaaaaaaaaaaaaaaa';
  const tree = new Map(buildTrace([first.outbound, first.inbound, second.outbound, second.inbound]).map((e) => [e.record.id, e]));
  t.equal(tree.get(second.outbound.id)?.parentId, first.outbound.id);
  t.equal(tree.get(second.outbound.id)?.linkedBy, undefined);
});

void t.test('a sidecar\'s link by timing: each entry carries the record\'s link_confidence', async (t) => {
  const first = timedHop('fe-gw', FRONTEND, GATEWAY, 0, 20);
  const second = timedHop('gw-pay', GATEWAY, PAYMENT, 2, 10);
  first.inbound.span_id = 'bbbbbbbbbbbbbbbb';
  // The sidecar named the request in flight as the parent: two were, so it guessed.
  second.outbound.parent_span_id = 'bbbbbbbbbbbbbbbb';
  second.outbound.link_confidence = 0.5;
  const tree = new Map(buildTrace([first.outbound, first.inbound, second.outbound, second.inbound]).map((e) => [e.record.id, e]));
  t.match(tree.get(second.outbound.id), { parentId: first.inbound.id, linkConfidence: 0.5 }, 'found by span id, still a guess');
  t.equal(tree.get(second.outbound.id)?.linkedBy, undefined, 'the collector did not link it by timing itself');
  t.notOk('linkConfidence' in tree.get(second.inbound.id)!, 'absent where the record has none');
});

void t.test('a call whose app started a new trace sits under the request the sidecar named, not the one timing would pick', async (t) => {
  const named = timedHop('fe-gw-1', FRONTEND, GATEWAY, 0, 30);
  const later = timedHop('fe-gw-2', FRONTEND, GATEWAY, 5, 20);
  const call = timedHop('gw-pay', GATEWAY, PAYMENT, 8, 4);
  named.inbound.span_id = 'cccccccccccccccc';
  later.inbound.span_id = 'dddddddddddddddd';
  call.outbound.caused_by_trace_id = TRACE;
  call.outbound.caused_by_span_id = 'cccccccccccccccc';
  const tree = new Map(buildTrace([named.outbound, named.inbound, later.outbound, later.inbound, call.outbound, call.inbound]).map((e) => [e.record.id, e]));
  t.equal(tree.get(call.outbound.id)?.parentId, named.inbound.id, 'the named request (timing alone would take the later one)');
  t.equal(tree.get(call.outbound.id)?.linkedBy, undefined, 'not a timing link');
  delete call.outbound.caused_by_span_id;
  const timed = new Map(buildTrace([named.outbound, named.inbound, later.outbound, later.inbound, call.outbound, call.inbound]).map((e) => [e.record.id, e]));
  t.equal(timed.get(call.outbound.id)?.parentId, later.inbound.id, 'without it: timing');
});
