/**
 * WebSocket capture against the real `ws` library: a server and a client talk through a TCP
 * relay that records every chunk; the chunks are then replayed into an HTTP/1 session whose
 * upgrade goes to the WebSocket session — whole, and cut every way.
 */
import net from 'node:net';
import { once } from 'node:events';
import t from 'tap';
import { WebSocket, WebSocketServer } from 'ws';
import { createWebSocketSession } from '../../../sidecar/websocket/session.ts';
import { allCuts, bytes, plain, runSession, type Step } from '../http1/harness.ts';
import type { CaptureEvent, Exchange } from '../../../sidecar/capture/session.ts';
import { createHttp1Session } from '../../../sidecar/http1/session.ts';
import type { WebSocketSessionOptions } from '../../../sidecar/websocket/session.ts';

interface Recorded {
  steps: Step[];
}

/** Runs `talk` against a ws echo server through a recording relay; returns the recorded steps. */
async function record(serverOptions: ConstructorParameters<typeof WebSocketServer>[0], clientOptions: ConstructorParameters<typeof WebSocket>[2], talk: (ws: WebSocket) => Promise<void>): Promise<Recorded> {
  const wss = new WebSocketServer({ ...serverOptions, port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const steps: Step[] = [];
  const relay = net.createServer((down) => {
    const up = net.connect((wss.address() as net.AddressInfo).port, '127.0.0.1');
    down.on('data', (d) => {
      steps.push({ c: Buffer.from(d) });
      up.write(d);
    });
    up.on('data', (d) => {
      steps.push({ s: Buffer.from(d) });
      down.write(d);
    });
    down.on('end', () => up.end());
    up.on('end', () => down.end());
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  const ws = new WebSocket(`ws://127.0.0.1:${(relay.address() as net.AddressInfo).port}/feed?room=1`, clientOptions);
  await once(ws, 'open');
  await talk(ws);
  ws.close(1000, 'bye');
  await once(ws, 'close');
  await new Promise((r) => setTimeout(r, 50));
  relay.close();
  wss.close();
  steps.push({ close: 'fin' });
  return { steps };
}

const run = (steps: Step[], cuts = new Map<number, number[]>()) =>
  runSession(steps, cuts, 64 * 1024, { upgradeSession: (ctx, info) => (info.protocol === 'websocket' ? createWebSocketSession(ctx, info) : undefined) });

const text = (e: Exchange) => Buffer.from((e.request ?? e.response)!.body).toString('utf8');
const side = (e: Exchange) => (e.request ? 'client' : 'server');

/** Echo replies arrive one by one: waits for `n` of them. */
function replies(ws: WebSocket, n: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    ws.on('message', () => {
      if (++got === n) resolve();
    });
  });
}

void t.test('text, binary, fragmented, ping and close, each a record; every split gives the same', async (t) => {
  const { steps } = await record({ perMessageDeflate: false }, { perMessageDeflate: false }, async (ws) => {
    const done = replies(ws, 3);
    ws.send('hello');
    ws.send(Buffer.from([0, 1, 2, 250]));
    ws.send('frag-', { fin: false });
    ws.send('ment', { fin: true });
    ws.ping('are you there');
    await done;
  });
  const whole = run(steps);
  const ws = whole.exchanges.filter((e) => e.protocol === 'ws');
  const seen = ws.map((e) => `${side(e)} ${e.method} ${e.method === 'BINARY' ? Buffer.from(e.request?.body ?? e.response!.body).toString('hex') : text(e)}`);
  const data = seen.filter((x) => !x.includes('PONG') && !x.includes('PING'));
  t.same(data.filter((x) => x.startsWith('client')), ['client TEXT hello', 'client BINARY 000102fa', 'client TEXT frag-ment', 'client CLOSE 1000 normal closure: bye'], 'what the client sent, in order');
  t.same(data.filter((x) => x.startsWith('server')), ['server TEXT hello', 'server BINARY 000102fa', 'server TEXT frag-ment', 'server CLOSE 1000 normal closure: bye'], 'what the server sent, in order');
  for (const expected of ['client TEXT hello', 'server TEXT frag-ment', 'client PING are you there', 'server PONG are you there', 'client CLOSE 1000 normal closure: bye']) {
    t.ok(seen.includes(expected), expected);
  }
  const upgradeCall = whole.exchanges.find((e) => e.protocol === 'http');
  t.equal(upgradeCall?.status_code, 101, 'the upgrade call is its own record');
  t.ok(ws.every((e) => e.path === '/feed?room=1' && e.ordinal > upgradeCall!.ordinal), 'messages carry the path, numbered after the upgrade');
  t.ok(ws.find((e) => text(e) === 'frag-ment' && side(e) === 'client')?.notes?.includes('2 frames'));
  const expected = JSON.stringify(plain(whole));
  let bad = 0;
  let runs = 0;
  for (const { cuts } of allCuts(steps)) {
    runs++;
    if (JSON.stringify(plain(run(steps, cuts))) !== expected) bad++;
  }
  t.equal(bad, 0, `identical records for all ${runs} ways to cut`);
});

void t.test('permessage-deflate with context takeover is inflated for display', async (t) => {
  const big = 'the quick brown fox jumps over the lazy dog; '.repeat(20);
  const { steps } = await record({ perMessageDeflate: { threshold: 0 } }, { perMessageDeflate: { threshold: 0 } }, async (ws) => {
    const done = replies(ws, 3);
    ws.send(big);
    ws.send(big);
    ws.send('short');
    await done;
  });
  const ws = run(steps).exchanges.filter((e) => e.protocol === 'ws' && e.method === 'TEXT');
  t.equal(ws.length, 6);
  t.same(ws.map(text).sort(), [big, big, big, big, 'short', 'short'].sort(), 'six texts, all readable');
  t.equal(ws.filter((e) => text(e) === big).length, 4, 'both copies each way, the second one referring back into the first');
  t.ok(ws.every((e) => e.notes?.some((n) => n.includes('permessage-deflate removed'))));
  const second = ws.filter((e) => side(e) === 'client' && text(e) === big)[1];
  t.ok(second.bytes_out < big.length / 4, 'the second copy was tiny on the wire');
});

/** Replays recorded steps `gapMs` apart (capture time), the WebSocket session under `options`. */
function paced(steps: Step[], gapMs: number, options: WebSocketSessionOptions): { exchanges: Exchange[]; events: CaptureEvent[] } {
  const exchanges: Exchange[] = [];
  const events: CaptureEvent[] = [];
  const session = createHttp1Session(
    { maxBodyBytes: 64 * 1024, emit: (e) => exchanges.push(e), event: (e) => events.push(e) },
    { upgradeSession: (ctx, info) => (info.protocol === 'websocket' ? createWebSocketSession(ctx, info, options) : undefined) },
  );
  steps.forEach((step, i) => {
    const now = 1_700_000_000_000_000_000n + BigInt(i * gapMs) * 1_000_000n;
    if ('c' in step) session.clientData(bytes(step.c), now);
    else if ('s' in step) session.serverData(bytes(step.s), now);
    else if ('cend' in step) session.clientEnd(now);
    else if ('send' in step) session.serverEnd(now);
    else session.close(now, step.close);
  });
  return { exchanges, events };
}

void t.test('permessage-deflate with context takeover: messages not recorded still carry the context, later ones stay readable', async (t) => {
  const common = 'order status shipped to the customer at the usual address; '.repeat(12);
  // Different lengths before the common text: a back-reference read against a stale context gives other bytes.
  const message = (i: number) => `${i}:${'#'.repeat(i * 7)} ${common}`;
  const { steps } = await record({ perMessageDeflate: { threshold: 0 } }, { perMessageDeflate: { threshold: 0 } }, async (ws) => {
    // One at a time, so that each message is its own chunk.
    for (let i = 0; i < 20; i++) {
      const reply = once(ws, 'message');
      ws.send(message(i));
      await reply;
    }
  });
  // A burst of 3, then 2 a second, chunks 100 ms apart: most messages go unrecorded.
  const { exchanges, events } = paced(steps, 100, { burst: 3, messagesPerSecond: 2 });
  const ws = exchanges.filter((e) => e.protocol === 'ws');
  const texts = ws.filter((e) => e.method === 'TEXT');
  const markers = ws.filter((e) => e.error === 'capture_overflow');
  const reported = markers.reduce((n, e) => n + Number(/^(\d+) /.exec(e.error_detail ?? '')![1]), 0);
  t.ok(markers.length > 0 && texts.length > 3, `some recorded (${texts.length}), some not (${reported})`);
  t.equal(texts.length + reported, 40, 'recorded + reported = the 40 text messages (close frames always recorded)');
  t.equal(events.filter((e) => e.kind === 'capture_overflow').length, reported, 'each counted');
  for (const dir of ['client', 'server'] as const) {
    const firstDrop = markers.find((e) => new RegExp(`[1-9]\\d* from the ${dir}`).test(e.error_detail ?? ''));
    const after = texts.filter((e) => side(e) === dir && firstDrop !== undefined && e.ordinal > firstDrop.ordinal);
    t.ok(after.length > 0, `${dir}: messages recorded after some were not`);
  }
  t.ok(
    texts.every((e) => text(e) === message(Number(text(e).split(':')[0])) && e.notes?.includes(`${e.request ? 'request' : 'response'}.body: permessage-deflate removed`)),
    'every recorded message inflated, also those referring back into unrecorded ones',
  );
  t.ok(texts.some((e) => (e.bytes_out || e.bytes_in) < common.length / 4), 'they did refer back (tiny on the wire)');
  t.same(ws.filter((e) => e.method === 'CLOSE').map(text), ['1000 normal closure: bye', '1000 normal closure: bye'], 'the close frames, recorded whatever the rate');
});

void t.test('garbage after the upgrade is a parse error event, never a throw; messages beyond the rate bound are counted', async (t) => {
  const head = 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n';
  const ok = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
  const garbage = run([{ c: head }, { s: ok }, { s: Buffer.from([0x83, 0x01, 0x00]) }, { close: 'fin' }]);
  t.ok(garbage.events.some((e) => e.kind === 'parse_error'));
  const frames = Buffer.concat(Array.from({ length: 5 }, () => Buffer.from([0x81, 0x01, 0x61])));
  // A burst of three and no refill: the last two messages of the chunk are not recorded.
  const capped = runSession([{ c: head }, { s: ok }, { s: frames }, { close: 'fin' }], new Map(), 1024, {
    upgradeSession: (ctx, info) => createWebSocketSession(ctx, info, { burst: 3, messagesPerSecond: 0 }),
  });
  const ws = capped.exchanges.filter((e) => e.protocol === 'ws');
  t.same(ws.map((e) => e.method ?? e.error), ['TEXT', 'TEXT', 'TEXT', 'capture_overflow', 'capture_overflow'], 'three messages, a marker at the first drop, one at close');
  t.match(ws[3], { error: 'capture_overflow', error_detail: /^1 WebSocket message was forwarded but not recorded/, path: '/ws', bytes_in: 3 });
  t.match(ws[4], { error: 'capture_overflow', error_detail: /^1 WebSocket message was forwarded but not recorded/, bytes_in: 3 });
  t.same(capped.events.filter((e) => e.kind === 'capture_overflow'), [{ kind: 'capture_overflow', reason: 'ws_message_rate' }, { kind: 'capture_overflow', reason: 'ws_message_rate' }], 'each message not recorded counted once');
});
