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
import { allCuts, plain, runSession, type Step } from '../http1/harness.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';

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

void t.test('garbage after the upgrade is a parse error event, never a throw; messages beyond the cap are counted', async (t) => {
  const head = 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n';
  const ok = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
  const garbage = run([{ c: head }, { s: ok }, { s: Buffer.from([0x83, 0x01, 0x00]) }, { close: 'fin' }]);
  t.ok(garbage.events.some((e) => e.kind === 'parse_error'));
  const frames = Buffer.concat(Array.from({ length: 5 }, () => Buffer.from([0x81, 0x01, 0x61])));
  const capped = runSession([{ c: head }, { s: ok }, { s: frames }, { close: 'fin' }], new Map(), 1024, {
    upgradeSession: (ctx, info) => createWebSocketSession(ctx, info, { maxMessages: 3 }),
  });
  const ws = capped.exchanges.filter((e) => e.protocol === 'ws');
  t.equal(ws.length, 4, 'three messages and one summary');
  t.match(ws[3], { error: 'capture_overflow', error_detail: /2 more WebSocket messages/ });
  t.ok(capped.events.some((e) => e.kind === 'capture_overflow'));
});
