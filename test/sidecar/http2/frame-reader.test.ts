import t from 'tap';
import { FrameReader, type FrameReaderOptions } from '../../../sidecar/http2/frame-reader.ts';
import { FLAG, FRAME } from '../../../sidecar/http2/constants.ts';
import { rng, randomCuts } from '../http1/harness.ts';
import { data, frame, goaway, headers, ping, PREFACE, priority, pushPromise, rstStream, settings, windowUpdate } from './h2-wire.ts';

/** Reader events flattened (consecutive DATA / fragment pieces of one frame merged). */
function read(pieces: Uint8Array[], options: FrameReaderOptions = { expectPreface: true }, skips: Map<number, number> = new Map()): string[] {
  const ev: string[] = [];
  let acc: { kind: string; bytes: Buffer[] } | undefined;
  const flush = (): void => {
    if (acc !== undefined) ev.push(`${acc.kind} ${Buffer.concat(acc.bytes).toString('latin1')}`);
    acc = undefined;
  };
  const add = (kind: string, d: Uint8Array): void => {
    if (acc !== undefined && acc.kind !== kind) flush();
    acc ??= { kind, bytes: [] };
    acc.bytes.push(Buffer.from(d));
  };
  let skipped = 0;
  const r = new FrameReader(
    {
      onPreface: () => ev.push('preface'),
      onFrameStart: (h) => {
        flush();
        ev.push(`start type=${h.type} flags=${h.flags} stream=${h.streamId} len=${h.length}`);
      },
      onPushPromise: (_h, id) => ev.push(`promise ${id}`),
      onHeaderFragment: (_h, d) => add('fragment', d),
      onData: (_h, d) => add('data', d),
      onDataSkipped: (_h, n) => {
        skipped += n;
      },
      onFrameEnd: (h, payload) => {
        flush();
        ev.push(`end type=${h.type}${payload === undefined ? '' : ` payload=${Buffer.from(payload).toString('hex')}`}`);
      },
      onError: (detail) => {
        flush();
        ev.push(`error ${detail}`);
      },
    },
    options,
  );
  pieces.forEach((p, i) => {
    r.push(p);
    const n = skips.get(i);
    if (n !== undefined) {
      flush();
      ev.push(`skip ${n} ${r.skip(n)}`);
    }
  });
  flush();
  if (skipped > 0) ev.push(`skipped ${skipped}`);
  return ev;
}

function splits(buf: Buffer, seed = 3): Array<{ label: string; pieces: Buffer[] }> {
  const out: Array<{ label: string; pieces: Buffer[] }> = [];
  for (let k = 1; k < buf.length; k++) out.push({ label: `cut at ${k}`, pieces: [buf.subarray(0, k), buf.subarray(k)] });
  out.push({ label: 'byte by byte', pieces: Array.from(buf, (_, i) => buf.subarray(i, i + 1)) });
  const rand = rng(seed);
  for (let r = 0; r < 20; r++) {
    const cuts = [0, ...randomCuts(buf.length, 2 + Math.floor(rand() * 30), rand), buf.length];
    out.push({ label: `random ${r}`, pieces: cuts.slice(1).map((c, i) => buf.subarray(cuts[i], c)) });
  }
  return out;
}

const enc = (s: string): Buffer => Buffer.from(s, 'latin1');

void t.test('every frame kind, identical at every split', async (t) => {
  const wire = Buffer.concat([
    PREFACE,
    settings([[1, 4096], [5, 16384]]),
    headers(1, enc('BLOCK-ONE'), { priority: true }),
    headers(3, enc('BLOCK-THREE-LONGER'), { split: 5, pad: 3, endStream: true }),
    data(1, 'hello', { pad: 4 }),
    data(1, '', { endStream: true }),
    priority(5),
    windowUpdate(0, 1000),
    ping(),
    rstStream(3, 8),
    frame(0xfa, 0, 1, enc('extension frame')),
    goaway(3, 0, 'bye'),
  ]);
  const whole = read([wire]);
  t.same(whole.slice(0, 6), [
    'preface',
    'start type=4 flags=0 stream=0 len=12',
    'end type=4 payload=000100001000000500004000',
    'start type=1 flags=36 stream=1 len=14',
    'fragment BLOCK-ONE',
    'end type=1',
  ]);
  t.ok(whole.includes('fragment BLOCK'), 'first CONTINUATION piece');
  t.ok(whole.includes('data hello'), 'padding removed from DATA');
  t.ok(whole.includes('end type=7 payload=000000030000000062796' + '5'), 'GOAWAY payload kept');
  t.notOk(whole.some((e) => e.startsWith('error')), 'no error');
  let bad = 0;
  for (const { label, pieces } of splits(wire)) {
    const got = read(pieces);
    if (JSON.stringify(got) !== JSON.stringify(whole)) {
      bad++;
      if (bad <= 2) t.same(got, whole, label);
    }
  }
  t.equal(bad, 0, 'same events for every split');
});

void t.test('server side: no preface, PUSH_PROMISE with padding', async (t) => {
  const wire = Buffer.concat([settings(), pushPromise(1, 2, enc('PROMISED'), 2), headers(2, enc('RESP')), data(2, 'pushed body', { endStream: true })]);
  const whole = read([wire], { expectPreface: false });
  t.same(whole, [
    'start type=4 flags=0 stream=0 len=0',
    'end type=4 payload=',
    'start type=5 flags=12 stream=1 len=15',
    'promise 2',
    'fragment PROMISED',
    'end type=5',
    'start type=1 flags=4 stream=2 len=4',
    'fragment RESP',
    'end type=1',
    'start type=0 flags=1 stream=2 len=11',
    'data pushed body',
    'end type=0',
  ]);
  for (const { label, pieces } of splits(wire)) t.same(read(pieces, { expectPreface: false }), whole, label);
});

void t.test('framing errors', async (t) => {
  const bad = (label: string, wire: Buffer, re: RegExp, options: FrameReaderOptions = { expectPreface: true }): void => {
    const ev = read([wire], options);
    t.match(ev[ev.length - 1], re, label);
    for (const { pieces } of splits(wire).slice(0, 40)) t.match(read(pieces, options).at(-1), re, `${label} (split)`);
  };
  bad('not the preface', enc('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /error bytes do not start with the HTTP\/2 client preface/);
  bad('first frame not SETTINGS', Buffer.concat([PREFACE, ping()]), /first frame is of type 6/);
  bad('too large', Buffer.concat([PREFACE, settings(), frame(FRAME.DATA, 0, 1, Buffer.alloc(16385))]), /over SETTINGS_MAX_FRAME_SIZE 16384/);
  bad('DATA on stream 0', Buffer.concat([PREFACE, settings(), frame(FRAME.DATA, 0, 0, enc('x'))]), /type 0 on stream 0/);
  bad('SETTINGS on a stream', Buffer.concat([PREFACE, settings(), frame(FRAME.SETTINGS, 0, 1)]), /type 4 on stream 1/);
  bad('bad SETTINGS length', Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(5))]), /SETTINGS frame with length 5/);
  bad('bad PING length', Buffer.concat([PREFACE, settings(), frame(FRAME.PING, 0, 0, Buffer.alloc(7))]), /length 7, not 8/);
  bad('padding too long', Buffer.concat([PREFACE, settings(), frame(FRAME.DATA, FLAG.PADDED, 1, Buffer.from([9, 1, 2]))]), /padding of 9 bytes/);
  bad('CONTINUATION without block', Buffer.concat([PREFACE, settings(), frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, enc('x'))]), /without a header block/);
  bad(
    'frame inside a header block',
    Buffer.concat([PREFACE, settings(), frame(FRAME.HEADERS, 0, 1, enc('x')), ping()]),
    /inside a header block of stream 1/,
  );
  bad('garbage', Buffer.from('ffffffffffffffffffffffffffffffffffff', 'hex'), /error/, { expectPreface: false });
});

void t.test('SETTINGS_MAX_FRAME_SIZE raises the bound', async (t) => {
  const big = frame(FRAME.DATA, 0, 1, Buffer.alloc(20000, 0x61));
  const events: string[] = [];
  const r = new FrameReader(
    {
      onFrameStart: () => {},
      onHeaderFragment: () => {},
      onData: (_h, d) => events.push(`data ${d.length}`),
      onFrameEnd: (h) => events.push(`end ${h.type}`),
      onError: (d) => events.push(`error ${d}`),
    },
    { expectPreface: false },
  );
  r.allowFrameSize(1 << 20);
  r.push(settings());
  r.push(big);
  t.same(events, ['end 4', 'data 20000', 'end 0']);
});

void t.test('skip: only inside a DATA payload', async (t) => {
  const wire = Buffer.concat([PREFACE, settings(), data(1, 'abcdefghij', { pad: 2 }), data(1, 'xyz', { endStream: true })]);
  const headerEnd = PREFACE.length + 9 + 9;
  // Inside the DATA content after its pad length byte: absorbed, the next frame still reads fine.
  const ok = read([wire.subarray(0, headerEnd + 3), wire.subarray(headerEnd + 3 + 6)], { expectPreface: true }, new Map([[0, 6]]));
  t.same(ok, [
    'preface',
    'start type=4 flags=0 stream=0 len=0',
    'end type=4 payload=',
    'start type=0 flags=8 stream=1 len=13',
    'data ab',
    'skip 6 true',
    'data ij',
    'end type=0',
    'start type=0 flags=1 stream=1 len=3',
    'data xyz',
    'end type=0',
    'skipped 6',
  ]);
  // Through the content into the padding: still absorbed.
  const intoPad = read([wire.subarray(0, headerEnd + 3), wire.subarray(headerEnd + 3 + 9)], { expectPreface: true }, new Map([[0, 9]]));
  t.ok(intoPad.includes('skip 9 true') && intoPad.includes('data xyz'), 'content and padding skipped');
  t.ok(intoPad.includes('skipped 8'), 'only content counted');
  // Past the frame's end, or in a frame header: refused.
  t.ok(read([wire.subarray(0, headerEnd + 3)], { expectPreface: true }, new Map([[0, 13]])).includes('skip 13 false'), 'past the frame');
  t.ok(read([wire.subarray(0, headerEnd - 4)], { expectPreface: true }, new Map([[0, 2]])).includes('skip 2 false'), 'inside a frame header');
  t.ok(read([wire.subarray(0, headerEnd)], { expectPreface: true }, new Map([[0, 2]])).includes('skip 2 false'), 'before the pad length');
});
