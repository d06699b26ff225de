import t from 'tap';
import type { CaptureContext, CaptureSession, CloseReason } from '../../../sidecar/capture/session.ts';
import { CaptureTap, MAX_PROBE_BYTES, type CaptureFactory, type CapturedProtocol, type DetectResult } from '../../../sidecar/proxy/capture-tap.ts';

type Call = [string, ...unknown[]];

function recordingFactory(detect: (b: Uint8Array) => DetectResult, opts: { throwOn?: string } = {}) {
  const calls: Call[] = [];
  const created: CapturedProtocol[] = [];
  const factory: CaptureFactory = {
    detect,
    createSession(protocol: CapturedProtocol, _ctx: CaptureContext): CaptureSession {
      created.push(protocol);
      const guard = (name: string) => {
        if (opts.throwOn === name) throw new Error(`boom in ${name}`);
      };
      return {
        clientData: (chunk) => (guard('clientData'), calls.push(['c', Buffer.from(chunk).toString()])),
        serverData: (chunk) => (guard('serverData'), calls.push(['s', Buffer.from(chunk).toString()])),
        clientEnd: () => (guard('clientEnd'), calls.push(['ce'])),
        serverEnd: () => (guard('serverEnd'), calls.push(['se'])),
        close: (_now: bigint, reason: CloseReason) => (guard('close'), calls.push(['close', reason])),
      };
    },
  };
  return { factory, calls, created };
}

function tapWith(factory: CaptureFactory, detectTimeoutMs = 20) {
  const faults: unknown[] = [];
  const protocols: CapturedProtocol[] = [];
  let t0 = 0n;
  const tap = new CaptureTap({
    factory,
    clock: () => ++t0,
    maxBodyBytes: 1024,
    detectTimeoutMs,
    onExchange: () => undefined,
    onEvent: () => undefined,
    onProtocol: (p) => protocols.push(p),
    onFault: (err) => faults.push(err),
  });
  return { tap, faults, protocols };
}

const httpish = (b: Uint8Array): DetectResult => {
  const s = Buffer.from(b).toString();
  if (s.startsWith('GET ')) return 'http1';
  if ('GET '.startsWith(s)) return 'need-more';
  return 'tcp';
};

void t.test('client bytes pick the protocol and are replayed in order', async (t) => {
  const { factory, calls, created } = recordingFactory(httpish);
  const { tap, protocols } = tapWith(factory);
  tap.clientData(Buffer.from('GE'));
  t.same(created, [], 'undecided after a partial method');
  tap.clientData(Buffer.from('T / HTTP/1.1\r\n\r\n'));
  t.same(created, ['http']);
  t.same(protocols, ['http']);
  tap.serverData(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
  tap.close('fin');
  t.same(calls, [
    ['c', 'GE'],
    ['c', 'T / HTTP/1.1\r\n\r\n'],
    ['s', 'HTTP/1.1 200 OK\r\n\r\n'],
    ['close', 'fin'],
  ]);
});

void t.test('the server speaking first makes the connection opaque at once', async (t) => {
  const { factory, calls, created } = recordingFactory(httpish);
  const { tap } = tapWith(factory);
  tap.serverData(Buffer.from('220 smtp ready\r\n'));
  t.same(created, ['tcp']);
  tap.clientData(Buffer.from('GET / HTTP/1.1\r\n'));
  t.same(created, ['tcp'], 'later client bytes do not change it');
  t.same(calls, [
    ['s', '220 smtp ready\r\n'],
    ['c', 'GET / HTTP/1.1\r\n'],
  ]);
});

void t.test('a client that trickles past the detect timeout is opaque', async (t) => {
  const { factory, created } = recordingFactory(httpish);
  const { tap } = tapWith(factory, 10);
  tap.clientData(Buffer.from('G'));
  t.same(created, []);
  await new Promise((r) => setTimeout(r, 40));
  t.same(created, ['tcp']);
});

void t.test('the detect timeout is judged on the bytes\' own times: bytes seen in time decide however late they arrive', async (t) => {
  // The capture worker is handed bytes in batches: the rest of a request line seen 5 ms after its
  // start may reach the tap a batch (and more than the timeout) later.
  const { factory, created } = recordingFactory(httpish);
  let now = 1_000_000_000n;
  const protocols: CapturedProtocol[] = [];
  const tap = new CaptureTap({
    factory,
    clock: () => now,
    maxBodyBytes: 1024,
    detectTimeoutMs: 10,
    detectGraceMs: 60,
    onExchange: () => undefined,
    onEvent: () => undefined,
    onProtocol: (p) => protocols.push(p),
    onFault: () => undefined,
  });
  tap.clientData(Buffer.from('GE'));
  await new Promise((r) => setTimeout(r, 30));
  now += 5_000_000n;
  tap.clientData(Buffer.from('T / HTTP/1.1\r\n\r\n'));
  t.same(created, ['http'], 'seen 5 ms after the first bytes, delivered 30 ms later: still HTTP');

  // Seen after the timeout (by their own time): opaque, however soon they arrive.
  const late = recordingFactory(httpish);
  const lateTap = new CaptureTap({ factory: late.factory, clock: () => now, maxBodyBytes: 1024, detectTimeoutMs: 10, detectGraceMs: 60, onExchange: () => undefined, onEvent: () => undefined, onProtocol: () => undefined, onFault: () => undefined });
  lateTap.clientData(Buffer.from('GE'));
  now += 11_000_000n;
  lateTap.clientData(Buffer.from('T / HTTP/1.1\r\n\r\n'));
  t.same(late.created, ['tcp'], 'seen 11 ms after, with a 10 ms timeout: opaque');

  // No more bytes at all: the timer ends it, after the grace.
  const silent = recordingFactory(httpish);
  const silentTap = new CaptureTap({ factory: silent.factory, clock: () => now, maxBodyBytes: 1024, detectTimeoutMs: 10, detectGraceMs: 40, onExchange: () => undefined, onEvent: () => undefined, onProtocol: () => undefined, onFault: () => undefined });
  silentTap.clientData(Buffer.from('GE'));
  await new Promise((r) => setTimeout(r, 20));
  t.same(silent.created, [], 'still waiting within the grace');
  await new Promise((r) => setTimeout(r, 60));
  t.same(silent.created, ['tcp'], 'opaque once the timeout and the grace have passed');
});

void t.test('a silent connection is never classified and yields nothing', async (t) => {
  const { factory, calls, created } = recordingFactory(httpish);
  const { tap, protocols } = tapWith(factory, 5);
  await new Promise((r) => setTimeout(r, 20));
  tap.close('fin');
  t.same(created, []);
  t.same(calls, []);
  t.same(protocols, []);
  t.equal(tap.protocol, undefined);
});

void t.test('more than MAX_PROBE_BYTES without an answer is opaque', async (t) => {
  const { factory, created } = recordingFactory(() => 'need-more');
  const { tap } = tapWith(factory, 10_000);
  tap.clientData(Buffer.alloc(MAX_PROBE_BYTES - 1));
  t.same(created, []);
  tap.clientData(Buffer.alloc(1));
  t.same(created, ['tcp']);
});

void t.test('a client FIN before detection decides on what was seen', async (t) => {
  const { factory, calls, created } = recordingFactory(httpish);
  const { tap } = tapWith(factory, 10_000);
  tap.clientData(Buffer.from('G'));
  tap.clientEnd();
  t.same(created, ['tcp']);
  t.same(calls, [['c', 'G'], ['ce']]);
});

void t.test('a session that throws is dropped, counted once, and never called again', async (t) => {
  const { factory, calls } = recordingFactory(httpish, { throwOn: 'serverData' });
  const { tap, faults } = tapWith(factory);
  tap.clientData(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  tap.serverData(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
  tap.serverData(Buffer.from('more'));
  tap.clientData(Buffer.from('more'));
  tap.close('fin');
  t.equal(faults.length, 1);
  t.same(calls, [['c', 'GET / HTTP/1.1\r\n\r\n']]);
});

void t.test('a detector that throws is a fault, not an exception', async (t) => {
  const { factory } = recordingFactory(() => {
    throw new Error('detector bug');
  });
  const { tap, faults } = tapWith(factory);
  t.doesNotThrow(() => tap.clientData(Buffer.from('x')));
  t.equal(faults.length, 1);
});

void t.test('disable() stops without flushing', async (t) => {
  const { factory, calls } = recordingFactory(httpish);
  const { tap } = tapWith(factory);
  tap.clientData(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  tap.disable();
  tap.close('reset');
  t.same(calls, [['c', 'GET / HTTP/1.1\r\n\r\n']]);
});

/** A stand-in greeting detector: `GREETING!` is the protocol, any prefix of it needs more. */
const greeting = (b: Uint8Array): 'mysql' | 'need-more' | undefined => {
  const s = Buffer.from(b).toString();
  if (s.startsWith('GREETING!')) return 'mysql';
  return 'GREETING!'.startsWith(s) ? 'need-more' : undefined;
};

void t.test('a server greeting names a server-first protocol; its bytes are replayed', async (t) => {
  const { factory, calls, created } = recordingFactory(httpish);
  factory.detectServerFirst = greeting;
  const { tap, protocols } = tapWith(factory);
  tap.serverData(Buffer.from('GREET'));
  t.same(created, [], 'undecided on half a greeting');
  tap.serverData(Buffer.from('ING! v10'));
  t.same(created, ['mysql']);
  t.same(protocols, ['mysql']);
  tap.clientData(Buffer.from('login'));
  tap.close('fin');
  t.same(calls, [
    ['s', 'GREET'],
    ['s', 'ING! v10'],
    ['c', 'login'],
    ['close', 'fin'],
  ]);
});

void t.test('server first: another banner, a client answering an unplaced greeting, or the timeout is opaque', async (t) => {
  const banner = recordingFactory(httpish);
  banner.factory.detectServerFirst = greeting;
  tapWith(banner.factory).tap.serverData(Buffer.from('220 smtp ready\r\n'));
  t.same(banner.created, ['tcp'], 'an SMTP banner');

  const answered = recordingFactory(httpish);
  answered.factory.detectServerFirst = greeting;
  const a = tapWith(answered.factory).tap;
  a.serverData(Buffer.from('GREE'));
  a.clientData(Buffer.from('hello'));
  t.same(answered.created, ['tcp'], 'the client spoke before the greeting was placed');
  t.same(answered.calls, [
    ['s', 'GREE'],
    ['c', 'hello'],
  ]);

  const slow = recordingFactory(httpish);
  slow.factory.detectServerFirst = greeting;
  const s = tapWith(slow.factory, 10).tap;
  s.serverData(Buffer.from('GR'));
  await new Promise((r) => setTimeout(r, 40));
  t.same(slow.created, ['tcp'], 'half a greeting, then silence: opaque after the detect timeout');

  const clientFirst = recordingFactory(httpish);
  clientFirst.factory.detectServerFirst = greeting;
  const c = tapWith(clientFirst.factory).tap;
  c.clientData(Buffer.from('GE'));
  c.serverData(Buffer.from('GREETING!'));
  t.same(clientFirst.created, ['tcp'], 'a greeting after the client spoke is not server-first');
});

void t.test('server first, client decides: the HTTP/2 server SETTINGS waits for the client preface, both replayed', async (t) => {
  const { factory, calls, created } = recordingFactory((b) => (Buffer.from(b).toString().startsWith('PRI') ? 'http2' : 'need-more'));
  factory.detectServerFirst = () => 'client-decides';
  const { tap } = tapWith(factory);
  tap.serverData(Buffer.from('SETTINGS'));
  tap.serverData(Buffer.from('MORE'));
  t.same(created, [], 'undecided while only the server spoke');
  tap.clientData(Buffer.from('PRI * HTTP/2.0'));
  t.same(created, ['http2']);
  t.same(calls, [
    ['s', 'SETTINGS'],
    ['s', 'MORE'],
    ['c', 'PRI * HTTP/2.0'],
  ]);

  const silent = recordingFactory(() => 'need-more');
  silent.factory.detectServerFirst = () => 'client-decides';
  const s = tapWith(silent.factory, 10).tap;
  s.serverData(Buffer.from('SETTINGS'));
  await new Promise((r) => setTimeout(r, 40));
  t.same(silent.created, ['tcp'], 'a client that never speaks: opaque after the detect timeout');
});
