/**
 * What bounds WebSocket capture: a rate per connection (a token bucket), never a lifetime
 * count. Long-lived connections are driven over simulated hours of capture time; every message
 * either becomes a record or is counted when it ends — in a `capture_overflow` event and in the
 * next marker record — and the bytes a session holds stay bounded.
 */
import t from 'tap';
import type { CaptureEvent, Exchange } from '../../../sidecar/capture/session.ts';
import type { UpgradeInfo } from '../../../sidecar/http1/upgrade.ts';
import { createWebSocketSession, DEFAULT_MESSAGE_BURST, DEFAULT_MESSAGES_PER_SECOND, type WebSocketSessionOptions } from '../../../sidecar/websocket/session.ts';

const T0 = 1_700_000_000_000_000_000n;
const MS = 1_000_000n;
const OP_TEXT = 1;
const OP_PING = 9;

/** One frame; client frames masked as RFC 6455 asks. */
function frame(opcode: number, payload: Uint8Array | string, o: { fin?: boolean; masked?: boolean } = {}): Buffer {
  const data = Buffer.from(payload);
  const len = data.length;
  const m = o.masked ? 0x80 : 0;
  const head = [((o.fin ?? true) ? 0x80 : 0) | opcode];
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 255);
  else head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255);
  if (!o.masked) return Buffer.concat([Buffer.from(head), data]);
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  return Buffer.concat([Buffer.from(head), key, data.map((b, i) => b ^ key[i & 3])]);
}

function open(options: WebSocketSessionOptions = {}, maxBodyBytes = 1024) {
  const records: Exchange[] = [];
  const events: CaptureEvent[] = [];
  /** Per record: the overflow events counted when it was emitted. */
  const countedAt: number[] = [];
  const overflowEvents = () => events.filter((e) => e.kind === 'capture_overflow').length;
  const upgrade: UpgradeInfo = {
    protocol: 'websocket',
    request: { method: 'GET', path: '/feed', authority: 'frontend.shop', headers: {}, body: new Uint8Array() },
    responseHeaders: {},
    at: T0,
  };
  const session = createWebSocketSession(
    {
      maxBodyBytes,
      emit: (e) => {
        records.push(e);
        countedAt.push(overflowEvents());
      },
      event: (e) => events.push(e),
    },
    upgrade,
    options,
  );
  return { session, records, events, countedAt, overflowEvents };
}

const text = (e: Exchange) => Buffer.from((e.request ?? e.response)!.body).toString('utf8');
const isMarker = (e: Exchange) => e.error === 'capture_overflow';
/** The count a marker reports, and its split by side. */
function markerCount(e: Exchange): { n: number; client: number; server: number } {
  const m = /^(\d+) WebSocket messages? (?:was|were) forwarded but not recorded since the last record saying so \((\d+) from the client, (\d+) from the server\)/.exec(e.error_detail ?? '');
  if (m === null) throw new Error(`not a marker: ${e.error_detail}`);
  return { n: Number(m[1]), client: Number(m[2]), server: Number(m[3]) };
}

void t.test('a long-lived feed within the rate is recorded for good: 5000 messages over 500 s, no cap', async (t) => {
  const { session, records, events } = open();
  let held = 0;
  for (let i = 0; i < 5000; i++) {
    const at = T0 + BigInt(i) * 100n * MS;
    // The server's feed; the client pings every 15 s.
    session.serverData(frame(OP_TEXT, `{"order":${i},"status":"paid"}`), at);
    if (i % 150 === 0) session.clientData(frame(OP_PING, 'hb', { masked: true }), at + MS);
    held = Math.max(held, session.heldBytes());
  }
  const last = T0 + 500_000n * MS;
  t.equal(records.filter(isMarker).length, 0, 'no marker while the feed stays within the rate');
  const feed = records.filter((e) => e.method === 'TEXT');
  t.equal(feed.length, 5000, 'every message of the feed is a record, long after the first 1000');
  t.same(feed.slice(-1).map(text), ['{"order":4999,"status":"paid"}'], 'the last one too');
  t.equal(records.filter((e) => e.method === 'PING').length, 34);
  t.same(events, [], 'nothing counted as lost');
  t.ok(records.every((e, i) => e.ordinal === i), 'ordinals stay contiguous');
  t.equal(held, 0, 'nothing held between messages');
  session.close(last, 'fin');
  t.equal(records.length, 5034, 'nothing more at close');
});

void t.test('a flood beyond the rate: recorded as the bucket allows, the rest counted when dropped, markers during the connection', async (t) => {
  const { session, records, events, countedAt } = open();
  const sent = 5000;
  let wireOut = 0;
  let wireIn = 0;
  let held = 0;
  // 500 messages a second for 10 s, the two sides taking turns.
  for (let i = 0; i < sent; i++) {
    const at = T0 + BigInt(i) * 2n * MS;
    const fromClient = i % 2 === 0;
    const f = frame(OP_TEXT, `m${i}`, { masked: fromClient });
    if (fromClient) {
      wireOut += f.length;
      session.clientData(f, at);
    } else {
      wireIn += f.length;
      session.serverData(f, at);
    }
    held = Math.max(held, session.heldBytes());
  }
  const beforeClose = records.length;
  session.close(T0 + 10_000n * MS, 'fin');

  const recorded = records.filter((e) => e.method === 'TEXT');
  const markers = records.filter(isMarker);
  const reported = markers.reduce((n, e) => n + markerCount(e).n, 0);
  const overflow = events.filter((e) => e.kind === 'capture_overflow');
  t.ok(overflow.every((e) => e.kind === 'capture_overflow' && e.reason === 'ws_message_rate'), 'counted under ws_message_rate');
  t.equal(recorded.length + reported, sent, 'recorded + reported in markers = messages sent');
  t.equal(recorded.length + overflow.length, sent, 'recorded + counted = messages sent');
  // The bucket: its burst, then its rate for the ten seconds.
  const expected = DEFAULT_MESSAGE_BURST + DEFAULT_MESSAGES_PER_SECOND * 10;
  t.ok(Math.abs(recorded.length - expected) <= 1, `about ${expected} recorded (${recorded.length})`);
  t.ok(recorded.some((e) => Number(text(e).slice(1)) > sent - 50), 'still recorded at the end of the flood');
  const numbers = recorded.map((e) => Number(text(e).slice(1)));
  t.ok(numbers.every((n, i) => i === 0 || n > numbers[i - 1]), 'recorded in order, none twice');

  // Each marker reports exactly the messages counted since the previous one.
  let previous = 0;
  let exact = true;
  records.forEach((e, i) => {
    if (!isMarker(e)) return;
    if (markerCount(e).n !== countedAt[i] - previous) exact = false;
    previous = countedAt[i];
  });
  t.ok(exact, 'every marker counts the messages dropped since the last one');
  const during = records.slice(0, beforeClose).filter(isMarker);
  t.ok(during.length >= 8, `markers during the connection, not only at close (${during.length})`);
  t.equal(markerCount(during[0]).n, 1, 'the first drop is reported at once');
  t.ok(
    during.every((e, i) => i === 0 || e.end - during[i - 1].end >= 1000n * MS),
    'at most one marker a second',
  );
  t.ok(markers.every((e) => e.path === '/feed' && e.authority === 'frontend.shop' && e.protocol === 'ws'), 'markers on the same edge as the messages');
  const dropped = { client: sent / 2 - recorded.filter((e) => e.request).length, server: sent / 2 - recorded.filter((e) => e.response).length };
  t.same(
    markers.reduce((a, e) => ({ client: a.client + markerCount(e).client, server: a.server + markerCount(e).server }), { client: 0, server: 0 }),
    dropped,
    'split by side',
  );
  t.equal(records.reduce((n, e) => n + e.bytes_out, 0), wireOut, 'bytes from the client: records + markers = the wire');
  t.equal(records.reduce((n, e) => n + e.bytes_in, 0), wireIn, 'bytes from the server: records + markers = the wire');
  t.ok(records.every((e, i) => e.ordinal === i), 'markers take their place in the ordinals');
  t.equal(held, 0, 'nothing held between messages');
});

void t.test('drops left after a flood are reported by the next frame once the interval passed, else at close', async (t) => {
  const { session, records } = open({ burst: 2, messagesPerSecond: 1 });
  for (let i = 0; i < 5; i++) session.serverData(frame(OP_TEXT, `m${i}`), T0 + BigInt(i) * MS);
  // m0, m1 recorded; m2 dropped and reported at once; m3, m4 wait.
  t.same(records.map((e) => (isMarker(e) ? `marker ${markerCount(e).n}` : text(e))), ['m0', 'm1', 'marker 1']);
  // A ping 30 s later: the waiting drops are reported before it (and it is recorded: the bucket refilled).
  session.clientData(frame(OP_PING, 'hb', { masked: true }), T0 + 30_000n * MS);
  t.same(records.map((e) => (isMarker(e) ? `marker ${markerCount(e).n}` : text(e))), ['m0', 'm1', 'marker 1', 'marker 2', 'hb']);
  t.equal(records[3].start, T0 + 3n * MS, 'the marker spans the drops it reports');
  t.equal(records[3].end, T0 + 30_000n * MS);
  // Within the interval nothing waits for a frame: close reports the rest.
  for (let i = 5; i < 10; i++) session.serverData(frame(OP_TEXT, `m${i}`), T0 + 30_001n * MS + BigInt(i) * MS);
  const before = records.length;
  session.close(T0 + 30_100n * MS, 'reset');
  t.same(records.slice(5, before).map(text), ['m5'], 'the ping left one token: m5 recorded, m6 to m9 wait (a marker came less than a second ago)');
  const after = records.slice(before);
  t.equal(after.length, 1);
  t.equal(markerCount(after[0]).n, 4, 'the rest, at close');
  const total = records.filter((e) => e.method === 'TEXT').length + records.filter(isMarker).reduce((n, e) => n + markerCount(e).n, 0);
  t.equal(total, 10, 'every data message recorded or reported');
});

void t.test('bytes held: a recorded message at most the capture limit, one not recorded none', async (t) => {
  const { session, records } = open({ burst: 1, messagesPerSecond: 0 }, 1024);
  const big = Buffer.alloc(64 * 1024, 0x61);
  const f = frame(OP_TEXT, big);
  const half = 32 * 1024;
  session.serverData(f.subarray(0, half), T0 + MS);
  t.equal(session.heldBytes(), 1024, 'the first message is recorded: the capture limit is kept');
  session.serverData(f.subarray(half), T0 + 2n * MS);
  t.equal(session.heldBytes(), 0);
  t.match(records[0], { method: 'TEXT', response: { body_size: 64 * 1024, truncated: true } });
  t.equal(records[0].response!.body.length, 1024);
  let held = 0;
  for (let i = 0; i < 5000; i++) {
    session.serverData(f.subarray(0, half), T0 + BigInt(10 + 2 * i) * MS);
    held = Math.max(held, session.heldBytes());
    session.serverData(f.subarray(half), T0 + BigInt(11 + 2 * i) * MS);
  }
  t.equal(held, 0, 'messages not recorded are followed without keeping their bytes');
  session.close(T0 + 20_000n * MS, 'fin');
  const markers = records.filter(isMarker);
  t.equal(markers.reduce((n, e) => n + markerCount(e).n, 0), 5000);
  t.equal(markers.reduce((n, e) => n + e.bytes_in, 0), 5000 * f.length, 'their bytes are in the markers');
});

void t.test('bytes that passed unseen inside a message: the record says how many, the body stops at the gap', async (t) => {
  const { session, records } = open();
  const payload = Buffer.from('0123456789'.repeat(10));
  const f = frame(OP_TEXT, payload);
  session.serverData(f.subarray(0, 2 + 10), T0 + MS);
  t.equal(session.skipServer!(50, T0 + 2n * MS), true, 'inside the payload: absorbed');
  session.serverData(f.subarray(2 + 60), T0 + 3n * MS);
  session.serverData(frame(OP_TEXT, 'next'), T0 + 4n * MS);
  t.equal(session.skipServer!(3, T0 + 5n * MS), false, 'between frames: refused');
  t.equal(records.length, 2);
  t.match(records[0].response, { body_size: 100, truncated: true });
  t.equal(text(records[0]), '0123456789', 'what came before the gap');
  t.ok(records[0].notes?.includes('response.body: 50 bytes not captured (capture fell behind forwarding)'));
  t.equal(text(records[1]), 'next', 'the next message whole');
});
