/** The live call list: list then stream, no gaps or duplicates, pause, capacity, filter changes. */
import t from 'tap';
import { loadBrowserModule } from './browser-modules.ts';

const { createCallFeed } = await loadBrowserModule('call-feed.js');

type Call = { id: string; start: string; end: string };
const call = (id: string): Call => ({ id, start: '1', end: '2' });

function harness(options: { capacity?: number } = {}) {
  const streams: Array<{ filter: string; onCall: (c: Call) => void; onOpen: () => void; onError: () => void; onUnauthenticated: (message: string) => void; closed: boolean }> = [];
  const lists: Array<{ filter: string; resolve: (v: unknown) => void }> = [];
  const queued: Array<() => void> = [];
  const feed = createCallFeed({
    capacity: options.capacity,
    list: (filter: string) => new Promise((resolve) => lists.push({ filter, resolve })),
    stream: (filter: string, h: { onCall: (c: Call) => void; onOpen: () => void; onError: () => void; onUnauthenticated: (message: string) => void }) => {
      const s = { filter, ...h, closed: false };
      streams.push(s);
      return { close: () => (s.closed = true) };
    },
    schedule: (fn: () => void) => queued.push(fn),
  });
  const flush = () => {
    while (queued.length) queued.shift()!();
  };
  const ids = () => feed.state.calls.map((c: Call) => c.id);
  return { feed, streams, lists, flush, ids };
}

const tick = () => new Promise((r) => setImmediate(r));

void t.test('calls that arrive while the list loads are neither lost nor doubled', async (t) => {
  const h = harness();
  const started = h.feed.setFilter('');
  t.equal(h.streams.length, 1, 'stream opened before the list returns');
  h.streams[0].onCall(call('c3'));
  h.streams[0].onCall(call('c4'));
  h.lists[0].resolve({ ok: true, value: { calls: [call('c3'), call('c2'), call('c1')] } });
  await started;
  t.same(h.ids(), ['c4', 'c3', 'c2', 'c1']);
  t.equal(h.feed.state.status, 'live');
  h.streams[0].onCall(call('c5'));
  h.streams[0].onCall(call('c6'));
  t.same(h.ids(), ['c4', 'c3', 'c2', 'c1'], 'batched until the next frame');
  h.flush();
  t.same(h.ids(), ['c6', 'c5', 'c4', 'c3', 'c2', 'c1']);
});

void t.test('pause holds new calls and counts them; resume shows them on top', async (t) => {
  const h = harness();
  const started = h.feed.setFilter('');
  h.lists[0].resolve({ ok: true, value: { calls: [call('a')] } });
  await started;
  h.feed.pause();
  h.streams[0].onCall(call('b'));
  h.streams[0].onCall(call('c'));
  h.flush();
  t.same(h.ids(), ['a']);
  t.equal(h.feed.state.pending, 2);
  h.feed.resume();
  t.same(h.ids(), ['c', 'b', 'a']);
  t.equal(h.feed.state.pending, 0);
  t.equal(h.feed.state.paused, false);
});

void t.test('capacity keeps the newest calls', async (t) => {
  const h = harness({ capacity: 3 });
  const started = h.feed.setFilter('');
  h.lists[0].resolve({ ok: true, value: { calls: [] } });
  await started;
  for (const id of ['1', '2', '3', '4', '5']) h.streams[0].onCall(call(id));
  h.flush();
  t.same(h.ids(), ['5', '4', '3']);
  h.streams[0].onCall(call('1'));
  h.flush();
  t.same(h.ids(), ['1', '5', '4'], 'an id dropped by capacity is not remembered as a duplicate');
});

void t.test('a new filter closes the old stream and ignores its late answers', async (t) => {
  const h = harness();
  const first = h.feed.setFilter('http');
  const second = h.feed.setFilter('status_code >= 500');
  t.equal(h.streams[0].closed, true);
  t.equal(h.streams[1].filter, 'status_code >= 500');
  h.lists[0].resolve({ ok: true, value: { calls: [call('old')] } });
  h.streams[0].onCall(call('old-live'));
  h.lists[1].resolve({ ok: true, value: { calls: [call('new')] } });
  await Promise.all([first, second]);
  await tick();
  h.flush();
  t.same(h.ids(), ['new']);
  t.equal(h.feed.state.filter, 'status_code >= 500');
  await h.feed.setFilter('status_code >= 500');
  t.equal(h.streams.length, 2, 'the same filter again does not restart');
});

void t.test('a failed list is a visible error; stream errors show as reconnecting', async (t) => {
  const h = harness();
  const started = h.feed.setFilter('bad');
  h.lists[0].resolve({ ok: false, error: { message: 'syntax error at line 1, column 3' } });
  await started;
  t.equal(h.feed.state.status, 'error');
  t.equal(h.feed.state.error, 'syntax error at line 1, column 3');
  const again = h.feed.setFilter('');
  h.lists[1].resolve({ ok: true, value: { calls: [] } });
  await again;
  h.streams[1].onError();
  t.equal(h.feed.state.status, 'reconnecting');
  h.streams[1].onOpen();
  t.equal(h.feed.state.status, 'live');
  const seen: string[] = [];
  const unsubscribe = h.feed.subscribe((s: { status: string }) => seen.push(s.status));
  h.feed.clear();
  unsubscribe();
  h.feed.pause();
  t.same(seen, ['live'], 'subscribers hear changes until they unsubscribe');
  t.same(h.ids(), []);
});

void t.test('a stream refused with a 401 (signed out under the page) stops the feed with its message, not "reconnecting"', async (t) => {
  const h = harness();
  const first = h.feed.setFilter('');
  h.lists[0].resolve({ ok: true, value: { calls: [call('a')] } });
  await first;
  const second = h.feed.setFilter('http');
  h.lists[1].resolve({ ok: true, value: { calls: [call('b')] } });
  await second;
  h.streams[0].onUnauthenticated('from the old filter');
  t.equal(h.feed.state.status, 'live', 'a stream of an earlier filter is not heard');
  h.streams[1].onError();
  t.equal(h.feed.state.status, 'reconnecting');
  h.streams[1].onUnauthenticated('Signed out: the session ended');
  t.equal(h.feed.state.status, 'error');
  t.equal(h.feed.state.error, 'Signed out: the session ended');
  t.same(h.ids(), [], 'the calls go');
  t.ok(h.streams[1].closed, 'the stream is closed');
  h.streams[1].onCall(call('late'));
  h.flush();
  t.same(h.ids(), [], 'nothing more is shown from it');
  const again = h.feed.setFilter('http', { force: true });
  h.lists[2].resolve({ ok: true, value: { calls: [call('c')] } });
  await again;
  t.equal(h.feed.state.status, 'live', 'signed in again, it starts afresh');
  t.same(h.ids(), ['c']);
});

type Rec = { id: string; connection_id: string; ordinal: number; observer: 'outbound' | 'inbound'; start: string; end: string };
const rec = (conn: string, observer: 'outbound' | 'inbound'): Rec => ({ id: `${conn}-${observer === 'outbound' ? 'o' : 'i'}0`, connection_id: conn, ordinal: 0, observer, start: '1', end: '2' });

function callHarness() {
  const streams: Array<{ onCall: (c: Rec) => void }> = [];
  const lists: Array<{ filter: string; view: string; resolve: (v: unknown) => void }> = [];
  const lookups: Array<{ ids: string[]; resolve: (v: unknown) => void }> = [];
  const timers: Array<{ fn: () => void; ms: number }> = [];
  const feed = createCallFeed({
    list: (filter: string, view: string) => new Promise((resolve) => lists.push({ filter, view, resolve })),
    lookup: (ids: string[]) => new Promise((resolve) => lookups.push({ ids, resolve })),
    stream: (_filter: string, h: { onCall: (c: Rec) => void }) => {
      streams.push(h);
      return { close: () => {} };
    },
    schedule: (fn: () => void) => fn(),
    delay: (fn: () => void, ms: number) => timers.push({ fn, ms }),
    cancel: () => {},
  });
  const ids = () => feed.state.calls.map((c: Rec) => c.id);
  return { feed, streams, lists, lookups, timers, ids };
}

void t.test('call view: the list of calls is kept as their records; a live record alone is looked up and its partner put beside it', async (t) => {
  const h = callHarness();
  const started = h.feed.setFilter('observer == "inbound"');
  t.equal(h.lists[0].view, 'call');
  h.lists[0].resolve({ ok: true, value: { calls: [{ id: 'b:0', client: rec('b', 'outbound'), server: rec('b', 'inbound') }, { id: 'a:0', server: rec('a', 'inbound'), one_sided: 'server' }] } });
  await started;
  t.same(h.ids(), ['b-o0', 'b-i0', 'a-i0']);
  t.equal(h.timers.length, 0, 'nothing listed is looked up again');

  h.streams[0].onCall(rec('c', 'inbound'));
  h.streams[0].onCall(rec('d', 'inbound'));
  h.streams[0].onCall(rec('d', 'outbound'));
  t.same(h.ids(), ['d-o0', 'd-i0', 'c-i0', 'b-o0', 'b-i0', 'a-i0']);
  t.equal(h.timers.length, 1);
  h.timers.shift()!.fn();
  t.same(h.lookups[0].ids, ['c-i0'], 'only the record whose partner did not come');
  h.lookups[0].resolve({ ok: true, value: { calls: [{ id: 'c:0', client: rec('c', 'outbound'), server: rec('c', 'inbound') }] } });
  await tick();
  t.same(h.ids(), ['d-o0', 'd-i0', 'c-i0', 'c-o0', 'b-o0', 'b-i0', 'a-i0'], 'the partner next to its record: the row stays where it was');
  h.streams[0].onCall(rec('c', 'outbound'));
  t.equal(h.ids().filter((id: string) => id === 'c-o0').length, 1, 'the partner arriving later is not doubled');
});

void t.test('call view: a partner not found is looked up once more, then left; a new view reloads the list', async (t) => {
  const h = callHarness();
  const started = h.feed.setFilter('http');
  h.lists[0].resolve({ ok: true, value: { calls: [] } });
  await started;
  h.streams[0].onCall(rec('e', 'outbound'));
  h.timers.shift()!.fn();
  h.lookups[0].resolve({ ok: true, value: { calls: [{ id: 'e:0', client: rec('e', 'outbound'), one_sided: 'client' }] } });
  await tick();
  t.equal(h.timers.length, 1, 'a second try later');
  h.timers.shift()!.fn();
  t.same(h.lookups[1].ids, ['e-o0']);
  h.lookups[1].resolve({ ok: true, value: { calls: [{ id: 'e:0', client: rec('e', 'outbound'), one_sided: 'client' }] } });
  await tick();
  t.equal(h.timers.length, 0, 'then left one-sided');

  const reloaded = h.feed.setView('record');
  t.equal(h.lists[1].view, 'record');
  t.same(h.ids(), []);
  h.lists[1].resolve({ ok: true, value: { calls: [rec('e', 'outbound')] } });
  await reloaded;
  h.streams[1].onCall(rec('f', 'inbound'));
  t.equal(h.timers.length, 0, 'records are not looked up in the record view');
  t.same(h.ids(), ['f-i0', 'e-o0']);
});

void t.test('call view, no filter: every record comes on the stream, nothing is looked up', async (t) => {
  const h = callHarness();
  const started = h.feed.setFilter('');
  h.lists[0].resolve({ ok: true, value: { calls: [] } });
  await started;
  h.streams[0].onCall(rec('g', 'inbound'));
  t.equal(h.timers.length, 0);
});

void t.test('call view, paused: the count is of the calls a resume adds, not of records', async (t) => {
  const h = callHarness();
  const started = h.feed.setFilter('');
  h.lists[0].resolve({ ok: true, value: { calls: [{ id: 'a:0', client: rec('a', 'outbound'), one_sided: 'client' }] } });
  await started;
  h.feed.pause();
  // Two new calls (both records of each), and the server's record of the call listed already.
  for (const r of [rec('b', 'outbound'), rec('b', 'inbound'), rec('c', 'inbound'), rec('a', 'inbound'), rec('c', 'outbound'), rec('b', 'inbound')]) h.streams[0].onCall(r);
  t.equal(h.feed.state.pending, 2, 'b and c; a is listed, a record sent twice counts once');
  const calls = (ids: string[]) => new Set(ids.map((id) => id.replace(/-[oi]0$/, ''))).size;
  const before = calls(h.ids());
  h.feed.resume();
  t.equal(calls(h.ids()) - before, 2, 'as many calls as the button said');
  t.equal(h.feed.state.pending, 0);

  // One row per record: each new record counts.
  const records = h.feed.setView('record');
  h.lists[1].resolve({ ok: true, value: { calls: [rec('a', 'outbound')] } });
  await records;
  h.feed.pause();
  for (const r of [rec('a', 'outbound'), rec('d', 'outbound'), rec('d', 'inbound')]) h.streams[1].onCall(r);
  t.equal(h.feed.state.pending, 2, 'the listed record is not new');
});
