/** The live call list: list then stream, no gaps or duplicates, pause, capacity, filter changes. */
import t from 'tap';
import { loadBrowserModule } from './browser-modules.ts';

const { createCallFeed } = await loadBrowserModule('call-feed.js');

type Call = { id: string; start: string; end: string };
const call = (id: string): Call => ({ id, start: '1', end: '2' });

function harness(options: { capacity?: number } = {}) {
  const streams: Array<{ filter: string; onCall: (c: Call) => void; onOpen: () => void; onError: () => void; closed: boolean }> = [];
  const lists: Array<{ filter: string; resolve: (v: unknown) => void }> = [];
  const queued: Array<() => void> = [];
  const feed = createCallFeed({
    capacity: options.capacity,
    list: (filter: string) => new Promise((resolve) => lists.push({ filter, resolve })),
    stream: (filter: string, h: { onCall: (c: Call) => void; onOpen: () => void; onError: () => void }) => {
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
  t.equal(h.feed.state.added, 2, 'how many arrived on top, for keeping the scroll position');
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
