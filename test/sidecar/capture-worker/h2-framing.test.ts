/**
 * HTTP/2 frame boundaries on the forwarding thread (`h2-framing.ts`): at every way of cutting a
 * conversation into chunks, the runs cover each chunk exactly and mark as skippable exactly the
 * DATA payloads (after a padded frame's pad length); a real HTTP/2 capture session fed the copied
 * runs and told only the lengths of the skipped ones absorbs every skip and records every call,
 * headers whole and bodies cut; a connection that does not open with the preface is not followed.
 */
import t from 'tap';
import { FLAG, FRAME } from '../../../sidecar/http2/constants.ts';
import { createHttp2Session } from '../../../sidecar/http2/session.ts';
import type { CaptureEvent, Exchange } from '../../../sidecar/capture/session.ts';
import { H2Framing } from '../../../sidecar/capture-worker/h2-framing.ts';
import { MAY_SKIP, MUST_COPY } from '../../../sidecar/capture-worker/stream-framing.ts';
import { data, headers, ping, PREFACE, settings, settingsAck, TestHpackEncoder, windowUpdate } from '../http2/h2-wire.ts';
import { rng } from '../http1/harness.ts';
import { pieces } from './split-feed.ts';

/** One side's bytes as frames, each the unit the expectation is computed from. */
interface Side {
  pieces: Buffer[];
}

const fill = (n: number, c: string): string => c.repeat(n);

/** A conversation on one connection: three calls, padded DATA, CONTINUATION, an empty DATA frame, PING and WINDOW_UPDATE. */
function conversation(): { client: Side; server: Side; order: Array<['c' | 's', number]> } {
  const req = new TestHpackEncoder();
  const res = new TestHpackEncoder();
  const post = (path: string) => req.encode([[':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'shop.svc'], ['content-type', 'application/json']], { huffman: true });
  const get = (path: string) => req.encode([[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', 'shop.svc'], ['x-long', fill(300, 'v')]]);
  const status = (code: string) => res.encode([[':status', code], ['content-type', 'application/json']]);
  const client: Buffer[] = [
    PREFACE,
    settings([[4, 1 << 20]]),
    headers(1, post('/a')),
    data(1, fill(3000, 'a'), { pad: 5 }),
    data(1, fill(10, 'b'), { endStream: true }),
    headers(3, get('/b'), { endStream: true, split: 64 }),
    ping(),
    windowUpdate(0, 65535),
    headers(5, post('/c'), { pad: 2 }),
    data(5, fill(500, 'c'), { endStream: true }),
    settingsAck(),
  ];
  const server: Buffer[] = [
    settings([[3, 100]]),
    settingsAck(),
    headers(1, status('200')),
    data(1, fill(2000, 'd'), { pad: 3, endStream: true }),
    headers(3, status('404')),
    data(3, '', { endStream: true }),
    ping(true),
    headers(5, status('201')),
    data(5, fill(40, 'e')),
    data(5, '', { endStream: true }),
  ];
  const order: Array<['c' | 's', number]> = [
    ['c', 0], ['c', 1], ['s', 0], ['c', 2], ['c', 3], ['s', 1], ['c', 4], ['s', 2], ['s', 3], ['c', 5],
    ['c', 6], ['s', 4], ['s', 5], ['s', 6], ['c', 7], ['c', 8], ['c', 9], ['s', 7], ['s', 8], ['s', 9], ['c', 10],
  ];
  return { client: { pieces: client }, server: { pieces: server }, order };
}

/** What the worker must see of a side (everything but DATA payloads after the pad length) and the skippable byte count. */
function expected(side: Side, client: boolean): { must: Buffer; skippable: number } {
  const must: Buffer[] = [];
  let skippable = 0;
  side.pieces.forEach((piece, i) => {
    if (client && i === 0) {
      must.push(piece);
      return;
    }
    const type = piece[3];
    if (type !== FRAME.DATA) {
      must.push(piece);
      return;
    }
    const keep = 9 + ((piece[4] & FLAG.PADDED) !== 0 ? 1 : 0);
    must.push(piece.subarray(0, keep));
    skippable += piece.length - keep;
  });
  return { must: Buffer.concat(must), skippable };
}

/** Cuts `bytes` at `size`-byte steps (size 0: at random points from `rand`). */
const chunks = (bytes: Buffer, size: number, rand: () => number): Buffer[] => pieces(bytes, size, rand, 700);

void t.test('at every chunk size the runs cover each chunk and skip exactly the DATA payloads', async (t) => {
  const conv = conversation();
  let checked = 0;
  let bad = 0;
  for (const [name, side, client] of [['client', conv.client, true], ['server', conv.server, false]] as const) {
    const stream = Buffer.concat(side.pieces);
    const want = expected(side, client);
    const rand = rng(11);
    for (let size = 0; size <= 40; size++) {
      for (let round = 0; round < (size === 0 ? 20 : 1); round++) {
        const framing = new H2Framing();
        const must: Buffer[] = [];
        let skipped = 0;
        let mustCount = 0;
        let covered = 0;
        const runs: number[] = [];
        for (const chunk of chunks(stream, size, rand)) {
          const m = framing.split(client, chunk, runs);
          let at = 0;
          for (let r = 0; r < runs.length; r += 2) {
            if (r > 0 && runs[r] === runs[r - 2]) bad++; // runs of a kind are merged
            const piece = chunk.subarray(at, at + runs[r + 1]);
            if (runs[r] === MUST_COPY) must.push(piece);
            else skipped += piece.length;
            at += runs[r + 1];
          }
          if (at !== chunk.length) bad++;
          covered += at;
          mustCount += m;
        }
        checked++;
        const got = Buffer.concat(must);
        if (!got.equals(want.must) || skipped !== want.skippable || mustCount !== want.must.length || covered !== stream.length) {
          bad++;
          if (bad < 3) t.fail(`${name}, chunks of ${size}: ${got.length}/${want.must.length} copied, ${skipped}/${want.skippable} skipped`);
        }
      }
    }
  }
  t.equal(bad, 0, `${checked} chunkings of both sides described exactly`);
  t.ok(expected(conv.client, true).skippable > 3000 && expected(conv.server, false).skippable > 2000, 'the conversation has payloads to skip');
});

interface Fed {
  exchanges: Exchange[];
  events: CaptureEvent[];
  refused: number;
  skipped: number;
}

/**
 * Feeds the conversation to a real HTTP/2 capture session as the hand-off would: each chunk
 * copied whole (`advance`) when `copyWhole` says so, else split (`split`): its copy runs as data,
 * its skip runs as skips.
 */
function feed(size: number, seed: number, copyWhole: (rand: () => number) => boolean): Fed {
  const conv = conversation();
  const rand = rng(seed);
  const exchanges: Exchange[] = [];
  const events: CaptureEvent[] = [];
  const session = createHttp2Session({ maxBodyBytes: 64 * 1024, emit: (e) => exchanges.push(e), event: (e) => events.push(e) });
  const framing = new H2Framing();
  const runs: number[] = [];
  let refused = 0;
  let skipped = 0;
  let now = 1_000_000n;
  for (const [dir, index] of conv.order) {
    const client = dir === 'c';
    const piece = (client ? conv.client : conv.server).pieces[index];
    for (const chunk of chunks(piece, size, rand)) {
      now += 1000n;
      if (copyWhole(rand)) {
        if (!framing.advance(client, chunk)) refused++;
        if (client) session.clientData(chunk, now);
        else session.serverData(chunk, now);
        continue;
      }
      if (framing.split(client, chunk, runs) < 0) refused++;
      let at = 0;
      for (let r = 0; r < runs.length; r += 2) {
        const len = runs[r + 1];
        if (runs[r] === MUST_COPY) {
          const part = chunk.subarray(at, at + len);
          if (client) session.clientData(part, now);
          else session.serverData(part, now);
        } else {
          if (runs[r] !== MAY_SKIP) refused++;
          skipped += len;
          if (!(client ? session.skipClient!(len, now) : session.skipServer!(len, now))) refused++;
        }
        at += len;
      }
    }
  }
  session.close(now + 1000n, 'fin');
  return { exchanges, events, refused, skipped };
}

void t.test('a real HTTP/2 session absorbs every skip and records every call', async (t) => {
  const whole = feed(0, 3, () => true);
  t.equal(whole.exchanges.length, 3, 'three calls when nothing is skipped');
  t.equal(whole.refused, 0);
  const never = (): boolean => false;
  const half = (rand: () => number): boolean => rand() < 0.5;
  for (const [label, size, seed, copyWhole] of [
    ['every chunk split, random sizes', 0, 5, never],
    ['every chunk split, 7-byte chunks', 7, 6, never],
    ['every chunk split, 1-byte chunks', 1, 7, never],
    ['some chunks copied whole, some split', 0, 8, half],
    ['some chunks copied whole, some split, 13-byte chunks', 13, 9, half],
  ] as const) {
    const got = feed(size, seed, copyWhole);
    t.equal(got.refused, 0, `${label}: every skip absorbed`);
    t.ok(got.skipped > 0, `${label}: payload bytes skipped (${got.skipped})`);
    t.same(
      got.exchanges.map((e) => [e.method, e.path, e.status_code, e.error, e.request?.body_size, e.response?.body_size]),
      whole.exchanges.map((e) => [e.method, e.path, e.status_code, e.error, e.request?.body_size, e.response?.body_size]),
      `${label}: the same calls, statuses and true body sizes`,
    );
    t.same(got.events.filter((e) => e.kind !== 'body_truncated'), [], `${label}: no parse error, no cut`);
    if (copyWhole === never) {
      const a = got.exchanges.find((e) => e.path === '/a');
      t.equal(a?.request?.truncated, true, `${label}: a skipped body is marked cut`);
      t.equal(a?.response?.headers['content-type'], 'application/json', `${label}: the headers are whole`);
    }
  }
});

void t.test('a connection that does not open with the HTTP/2 preface is not followed', async (t) => {
  const http1 = new H2Framing();
  t.equal(http1.advance(true, Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')), false, 'an HTTP/1 request');
  t.equal(http1.split(false, Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), []), -1, 'and the other side with it');

  const late = new H2Framing();
  t.equal(late.advance(true, PREFACE.subarray(0, 10)), true, 'the preface so far');
  t.equal(late.advance(true, Buffer.from('xx')), false, 'a wrong byte past the start');

  const serverFirst = new H2Framing();
  t.equal(serverFirst.advance(false, Buffer.from('5.7.44-log\0 any greeting a server sends first')), true, 'a server speaking first is followed until the client speaks');
  t.equal(serverFirst.advance(true, Buffer.from([0x85, 0xa6, 0x0f, 0])), false, 'then dropped at the client\'s first bytes');
});
