/** The inbound → outbound link table: containment in time, confidence, precedence of contexts, bounds. */
import t from 'tap';
import { FlowLinks, inboundTraceId } from '../../../sidecar/capture/flow-links.ts';
import { derivedTraceId, requestIdTraceId, serverSpanId } from '../../../record/trace-ids.ts';

const S = 1_000_000_000n;
const T0 = 1_764_000_000n * S;

void t.test('one inbound call in flight: its trace and SERVER span, confidence 1', async (t) => {
  const links = new FlowLinks();
  links.inboundStarted('c1', { ordinal: 3, start: T0, headers: {} }, T0);
  const link = links.linkOutbound(T0 + 1000n, T0 + 5000n);
  t.same(link, { trace_id: derivedTraceId('c1', 3), parent_span_id: serverSpanId('c1', 3), link_confidence: 1 });
  t.equal(links.counts.linked, 1);
});

void t.test('an outbound call before the inbound one started, or after it ended, is not linked', async (t) => {
  const links = new FlowLinks();
  links.inboundStarted('c1', { ordinal: 0, start: T0 + 100n, headers: {} }, T0 + 100n);
  t.equal(links.linkOutbound(T0 + 50n, T0 + 200n), undefined, 'started before the inbound call');
  links.inboundEnded('c1', 0, T0 + 500n);
  t.ok(links.linkOutbound(T0 + 500n, T0 + 600n), 'started the instant it ended: contained');
  t.equal(links.linkOutbound(T0 + 501n, T0 + 600n), undefined, 'started after it ended');
  t.equal(links.counts.unlinked, 2);
  t.equal(links.counts.linked, 1);
});

void t.test('nothing in flight: no link', async (t) => {
  const links = new FlowLinks();
  t.equal(links.linkOutbound(T0, T0), undefined);
  t.equal(links.counts.unlinked, 1);
});

void t.test('overlapping inbound calls: the most recent start wins, confidence 1/n, ties by the latest seen', async (t) => {
  const links = new FlowLinks();
  links.inboundStarted('a', { ordinal: 0, start: T0, headers: {} }, T0);
  links.inboundStarted('b', { ordinal: 0, start: T0 + 10n, headers: {} }, T0 + 10n);
  links.inboundStarted('c', { ordinal: 0, start: T0 + 5n, headers: {} }, T0 + 10n);
  let link = links.linkOutbound(T0 + 20n, T0 + 30n);
  t.equal(link?.trace_id, derivedTraceId('b', 0));
  t.equal(link?.link_confidence, 1 / 3);
  t.equal(links.counts.linked_ambiguous, 1);
  // Same start as `b`, seen later.
  links.inboundStarted('d', { ordinal: 1, start: T0 + 10n, headers: {} }, T0 + 40n);
  link = links.linkOutbound(T0 + 20n, T0 + 40n);
  t.equal(link?.trace_id, derivedTraceId('d', 1));
  t.equal(link?.link_confidence, 1 / 4);
  // `b` and `d` end before the next call: two candidates are left.
  links.inboundEnded('b', 0, T0 + 50n);
  links.inboundEnded('d', 1, T0 + 50n);
  link = links.linkOutbound(T0 + 60n, T0 + 70n);
  t.equal(link?.trace_id, derivedTraceId('c', 0));
  t.equal(link?.link_confidence, 1 / 2);
});

void t.test('the inbound trace id follows the collector precedence: traceparent, b3, x-request-id, derived', async (t) => {
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  t.equal(inboundTraceId('c', { ordinal: 0, start: T0, headers: { traceparent: tp, 'x-request-id': 'r1' } }), '4bf92f3577b34da6a3ce929d0e0e4736');
  t.equal(inboundTraceId('c', { ordinal: 0, start: T0, headers: { b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1' } }), '80f198ee56343ba864fe8b2a57d3eff7');
  t.equal(inboundTraceId('c', { ordinal: 0, start: T0, headers: { 'x-request-id': ' r1 ' } }), requestIdTraceId('r1'));
  t.equal(inboundTraceId('c', { ordinal: 2, start: T0, headers: { traceparent: 'garbage' } }), derivedTraceId('c', 2));
  const links = new FlowLinks();
  links.inboundStarted('c', { ordinal: 0, start: T0, headers: { traceparent: tp } }, T0);
  t.equal(links.linkOutbound(T0 + 1n, T0 + 1n)?.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
  t.equal(links.linkOutbound(T0 + 1n, T0 + 1n)?.parent_span_id, serverSpanId('c', 0), 'parent: our SERVER span, not the caller\'s');
});

void t.test('bounded by count: the oldest entry goes, counted', async (t) => {
  const links = new FlowLinks({ maxEntries: 3 });
  for (let i = 0; i < 5; i++) links.inboundStarted(`c${i}`, { ordinal: 0, start: T0 + BigInt(i), headers: {} }, T0 + BigInt(i));
  t.equal(links.size, 3);
  t.equal(links.counts.evicted_full, 2);
  t.equal(links.counts.started, 5);
  // c0 and c1 are gone: only three candidates remain.
  t.equal(links.linkOutbound(T0 + 10n, T0 + 10n)?.link_confidence, 1 / 3);
  // A request seen twice (a resync replaying a head) is entered once.
  links.inboundStarted('c4', { ordinal: 0, start: T0 + 4n, headers: {} }, T0 + 11n);
  t.equal(links.counts.started, 5);
});

void t.test('bounded by age: an in-flight call that never ends is forgotten (counted); an ended one leaves quietly', async (t) => {
  const links = new FlowLinks({ maxInFlightNs: 10n * S, keepEndedNs: 2n * S });
  links.inboundStarted('stuck', { ordinal: 0, start: T0, headers: {} }, T0);
  links.inboundStarted('done', { ordinal: 0, start: T0, headers: {} }, T0);
  links.inboundEnded('done', 0, T0 + S);
  t.equal(links.linkOutbound(T0 + S / 2n, T0 + 2n * S)?.link_confidence, 1 / 2, 'both still there within their bounds');
  t.equal(links.linkOutbound(T0 + 4n * S, T0 + 4n * S)?.trace_id, derivedTraceId('stuck', 0), 'the ended one is gone after keepEnded');
  t.equal(links.size, 1);
  t.equal(links.counts.evicted_age, 0);
  t.equal(links.linkOutbound(T0 + 12n * S, T0 + 12n * S), undefined, 'the stuck one is gone after maxInFlight');
  t.equal(links.counts.evicted_age, 1);
  t.equal(links.size, 0);
});

void t.test('a full table drops ended calls before calls in flight; ended calls that ended before the outbound start are no candidates', async (t) => {
  const links = new FlowLinks({ maxEntries: 3, keepEndedNs: 10n * S });
  links.inboundStarted('long', { ordinal: 0, start: T0, headers: {} }, T0);
  for (let i = 0; i < 4; i++) {
    const at = T0 + BigInt(i + 1) * 1000n;
    links.inboundStarted(`short${i}`, { ordinal: 0, start: at, headers: {} }, at);
    links.inboundEnded(`short${i}`, 0, at + 10n);
  }
  t.equal(links.size, 3);
  t.equal(links.counts.evicted_full, 2, 'two ended calls made room');
  // short3 ended at T0+4010: an outbound call starting after that is only inside `long`.
  const link = links.linkOutbound(T0 + 5000n, T0 + 5000n);
  t.equal(link?.trace_id, derivedTraceId('long', 0), 'the call in flight survived the evictions');
  t.equal(link?.link_confidence, 1);
  t.equal(links.linkOutbound(T0 + 4005n, T0 + 5000n)?.link_confidence, 1 / 2, 'short3 and long contain it');
});

void t.test('an outbound call with a new trace of its own names the trace of the one inbound call that had none', async (t) => {
  const own = '0af7651916cd43dd8448eb211c80319c';
  const links = new FlowLinks();
  links.inboundStarted('c1', { ordinal: 2, start: T0, headers: {} }, T0);
  t.equal(links.causedBy(T0 + 10n, own, T0 + 20n)?.trace_id, derivedTraceId('c1', 2), 'derived trace of the call in flight');
  links.inboundEnded('c1', 2, T0 + 100n);
  t.equal(links.causedBy(T0 + 100n, own, T0 + 200n)?.trace_id, derivedTraceId('c1', 2), 'still contained the instant it ended');
  t.equal(links.causedBy(T0 + 101n, own, T0 + 200n)?.trace_id, undefined, 'started after it ended');
  t.equal(links.causedBy(T0 - 1n, own, T0 + 200n)?.trace_id, undefined, 'started before it');
  t.equal(links.counts.new_trace_joined, 2);
  t.equal(links.counts.linked + links.counts.linked_ambiguous + links.counts.unlinked, 0, 'the link counts are for calls without context');

  const byRequestId = new FlowLinks();
  byRequestId.inboundStarted('c2', { ordinal: 0, start: T0, headers: { 'x-request-id': 'req-7' } }, T0);
  t.equal(byRequestId.causedBy(T0 + 1n, own, T0 + 1n)?.trace_id, requestIdTraceId('req-7'), 'an x-request-id is not a trace context: its trace is named');
});

void t.test('no trace is named on a guess, nor for an inbound call whose context the app could have kept', async (t) => {
  const own = '0af7651916cd43dd8448eb211c80319c';
  const two = new FlowLinks();
  two.inboundStarted('a', { ordinal: 0, start: T0, headers: {} }, T0);
  two.inboundStarted('b', { ordinal: 0, start: T0 + 5n, headers: {} }, T0 + 5n);
  t.equal(two.causedBy(T0 + 10n, own, T0 + 10n)?.trace_id, undefined, 'two inbound calls in flight');
  two.inboundEnded('a', 0, T0 + 20n);
  two.inboundEnded('b', 0, T0 + 20n);
  t.equal(two.causedBy(T0 + 30n, own, T0 + 30n)?.trace_id, undefined, 'none in flight');

  const traced = new FlowLinks();
  traced.inboundStarted('c', { ordinal: 0, start: T0, headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } }, T0);
  t.equal(traced.causedBy(T0 + 1n, own, T0 + 1n)?.trace_id, undefined, 'the inbound call carried a traceparent');

  const same = new FlowLinks();
  same.inboundStarted('d', { ordinal: 4, start: T0, headers: {} }, T0);
  t.equal(same.causedBy(T0 + 1n, derivedTraceId('d', 4), T0 + 1n)?.trace_id, undefined, 'already the same trace');
  t.equal(two.counts.new_trace_joined + traced.counts.new_trace_joined + same.counts.new_trace_joined, 0);
});

void t.test('an inbound call already joined to another new trace is not a candidate; one joined to this trace is the cause', async (t) => {
  const mintedA = 'a1'.repeat(16);
  const mintedB = 'b2'.repeat(16);
  const links = new FlowLinks();
  links.inboundStarted('a', { ordinal: 0, start: T0, headers: {} }, T0);
  t.equal(links.causedBy(T0 + 10n, mintedA, T0 + 10n)?.trace_id, derivedTraceId('a', 0), 'A alone in flight: its app\'s trace joins it');
  links.inboundStarted('b', { ordinal: 0, start: T0 + 20n, headers: {} }, T0 + 20n);
  t.equal(links.causedBy(T0 + 30n, mintedB, T0 + 30n)?.trace_id, derivedTraceId('b', 0), 'A and B in flight, A taken by another trace: B');
  t.equal(links.causedBy(T0 + 40n, mintedA, T0 + 40n)?.trace_id, derivedTraceId('a', 0), 'a second call of A\'s trace: A again');
  links.inboundStarted('c', { ordinal: 0, start: T0 + 50n, headers: {} }, T0 + 50n);
  links.inboundStarted('d', { ordinal: 0, start: T0 + 60n, headers: {} }, T0 + 60n);
  t.equal(links.causedBy(T0 + 70n, 'c3'.repeat(16), T0 + 70n)?.trace_id, undefined, 'C and D both free: still a guess');
  t.equal(links.counts.new_trace_joined, 3);
});

void t.test('causedBy still finds a request after others left the table by every way there is', async (t) => {
  const own = 'd4'.repeat(16);
  const tp = (i: number) => `00-${String(i).padStart(32, '0').replace(/^0/, '1')}-00f067aa0ba902b7-01`;
  const links = new FlowLinks({ maxEntries: 3, maxInFlightNs: 10n * S, keepEndedNs: S });
  // Unheaded and headed calls evicted by a full table, ended calls expired, in-flight ones aged out.
  links.inboundStarted('u1', { ordinal: 0, start: T0, headers: {} }, T0);
  links.inboundStarted('h1', { ordinal: 0, start: T0, headers: { traceparent: tp(1) } }, T0);
  links.inboundStarted('u2', { ordinal: 0, start: T0, headers: {} }, T0);
  links.inboundStarted('h2', { ordinal: 0, start: T0 + 1n, headers: { traceparent: tp(2) } }, T0 + 1n);
  links.inboundStarted('h3', { ordinal: 0, start: T0 + 2n, headers: { traceparent: tp(3) } }, T0 + 2n);
  links.inboundEnded('h2', 0, T0 + 3n);
  links.inboundStarted('u3', { ordinal: 0, start: T0 + 4n, headers: {} }, T0 + 4n);
  t.equal(links.counts.evicted_full, 3);
  links.inboundEnded('u3', 0, T0 + 5n);
  t.equal(links.causedBy(T0 + 60n * S, own, T0 + 60n * S)?.trace_id, undefined, 'everything expired or aged out');
  t.equal(links.counts.evicted_age, 2, 'u2 and h3 never ended');
  t.equal(links.size, 0);
  links.inboundStarted('u4', { ordinal: 7, start: T0 + 61n * S, headers: {} }, T0 + 61n * S);
  t.equal(links.causedBy(T0 + 61n * S + 1n, own, T0 + 61n * S + 1n)?.trace_id, derivedTraceId('u4', 7), 'a new request without context is found');
  // A request with context leaving does not count against one without.
  const one = new FlowLinks({ maxEntries: 1 });
  one.inboundStarted('h', { ordinal: 0, start: T0, headers: { traceparent: tp(9) } }, T0);
  one.inboundStarted('u', { ordinal: 0, start: T0 + 1n, headers: {} }, T0 + 1n);
  t.equal(one.causedBy(T0 + 2n, own, T0 + 2n)?.trace_id, derivedTraceId('u', 0), 'the request without context that replaced it is found');
});

void t.test('causedBy names the cause\'s SERVER span with its trace', async (t) => {
  const links = new FlowLinks();
  links.inboundStarted('s', { ordinal: 5, start: T0, headers: {} }, T0);
  t.same(links.causedBy(T0 + 1n, 'e5'.repeat(16), T0 + 1n), { trace_id: derivedTraceId('s', 5), span_id: serverSpanId('s', 5) });
});
