/**
 * A connection that ends during the startup phase, at any byte of it, leaves exactly one startup
 * record: marked with the error the close implies (or the server's own error when it sent one),
 * every byte counted. And a startup of a protocol version the server does not support (after an
 * SSLRequest, the only way one reaches the session) is recorded with the server's refusal.
 */
import t from 'tap';
import { serialize } from 'pg-protocol';
import { plain } from '../http1/harness.ts';
import { be, cat, greeting, runAllCuts, runPg, text, timeOf, type Step } from './harness.ts';

type Data = { c: Uint8Array } | { s: Uint8Array };

const startup = (): Buffer => cat(serialize.startup({ user: 'alice', database: 'shop' }));
const ssl = (): Buffer => cat(serialize.requestSsl());
const fatal = (sqlstate: string, message: string): Buffer => be.error({ S: 'FATAL', V: 'FATAL', C: sqlstate, M: message });
const bytesOf = (d: Data): Uint8Array => ('c' in d ? d.c : d.s);

/** A StartupMessage laid out as protocol 3 lays it out, with another version. */
function startupOfVersion(major: number, minor: number): Buffer {
  const b = startup();
  b.writeUInt16BE(major, 4);
  b.writeUInt16BE(minor, 6);
  return b;
}

/** A protocol 2.0 StartupPacket: fixed fields (database 64, user 32, options 64, unused 64, tty 64). */
function startupV2(): Buffer {
  const b = Buffer.alloc(296);
  b.writeUInt32BE(296, 0);
  b.writeUInt32BE(2 << 16, 4);
  b.write('shop', 8);
  b.write('alice', 72);
  return b;
}

/** How PostgreSQL refuses a protocol 1.x/2.x startup: the older error form, a type byte and text, no length. */
const legacyFatal = (message: string): Buffer => Buffer.from(`EFATAL:  ${message}\n\0`, 'latin1');

const UNSUPPORTED_9 = 'unsupported frontend protocol 9.0: server supports 3.0 to 3.0';
const UNSUPPORTED_2 = 'unsupported frontend protocol 2.0: server supports 3.0 to 3.0';
const UNENCRYPTED = 'received unencrypted data after SSL request';

interface Conversation {
  name: string;
  steps: Data[];
  /** What the startup record says once the whole conversation was seen. */
  error?: string;
  detail?: string;
}

const conversations: Conversation[] = [
  {
    name: 'SSLRequest refused, then SCRAM-SHA-256',
    steps: [
      { c: ssl() },
      { s: Buffer.from('N') },
      { c: startup() },
      { s: be.authSasl(['SCRAM-SHA-256']) },
      { c: cat(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=*,r=clientNONCE')) },
      { s: be.authSaslContinue('r=clientNONCEserver,s=c2FsdA==,i=4096') },
      { c: cat(serialize.sendSCRAMClientFinalMessage('c=biws,r=clientNONCEserver,p=PROOF')) },
      { s: cat(be.authSaslFinal('v=SIG'), greeting()) },
    ],
  },
  {
    name: 'a cleartext password refused',
    steps: [
      { c: startup() },
      { s: be.authCleartext() },
      { c: cat(serialize.password('wrong-pass')) },
      { s: fatal('28P01', 'password authentication failed for user "alice"') },
    ],
    error: 'server_error',
    detail: 'FATAL 28P01: password authentication failed for user "alice"',
  },
  {
    name: 'SSLRequest and StartupMessage in one write (the server refuses the unencrypted bytes)',
    steps: [{ c: cat(ssl(), startup()) }, { s: cat(Buffer.from('N'), fatal('08P01', UNENCRYPTED)) }],
    error: 'server_error',
    detail: `FATAL 08P01: ${UNENCRYPTED}`,
  },
  {
    name: 'SSLRequest refused, then protocol 9.0',
    steps: [{ c: ssl() }, { s: Buffer.from('N') }, { c: startupOfVersion(9, 0) }, { s: fatal('0A000', UNSUPPORTED_9) }],
    error: 'server_error',
    detail: `FATAL 0A000: ${UNSUPPORTED_9}`,
  },
  {
    name: 'SSLRequest refused, then protocol 2.0',
    steps: [{ c: ssl() }, { s: Buffer.from('N') }, { c: startupV2() }, { s: legacyFatal(UNSUPPORTED_2) }],
    error: 'server_error',
    detail: `FATAL: ${UNSUPPORTED_2}`,
  },
];

const ENDINGS: Array<{ label: string; steps: Step[]; error: string }> = [
  { label: 'fin', steps: [{ close: 'fin' }], error: 'closed' },
  { label: 'reset', steps: [{ close: 'reset' }], error: 'reset' },
  { label: 'client FIN then close', steps: [{ cend: true }, { close: 'fin' }], error: 'closed' },
  { label: 'server FIN then close', steps: [{ send: true }, { close: 'fin' }], error: 'closed' },
];

/** Every data step fed one byte at a time. */
function bytewise(steps: Step[]): Map<number, number[]> {
  const cuts = new Map<number, number[]>();
  steps.forEach((s, i) => {
    const n = 'c' in s ? s.c.length : 's' in s ? s.s.length : 0;
    if (n > 1) cuts.set(i, Array.from({ length: n - 1 }, (_, k) => k + 1));
  });
  return cuts;
}

void t.test('the connection ends at any byte of the startup: one startup record, the close error, every byte counted', async (t) => {
  for (const conv of conversations) {
    let checked = 0;
    let failures = 0;
    const fail = (what: string): void => {
      if (failures++ < 5) t.fail(`${conv.name}: ${what}`);
    };
    conv.steps.forEach((step, k) => {
      const data = bytesOf(step);
      for (let cut = 1; cut <= data.length; cut++) {
        const prefix: Data[] = [...conv.steps.slice(0, k), 'c' in step ? { c: data.subarray(0, cut) } : { s: data.subarray(0, cut) }];
        const finished = k === conv.steps.length - 1 && cut === data.length;
        const sent = (side: 'c' | 's'): number => prefix.reduce((n, d) => n + (side in d ? bytesOf(d).length : 0), 0);
        for (const ending of ENDINGS) {
          const steps: Step[] = [...prefix, ...ending.steps];
          const where = `step ${k} cut at ${cut}, ${ending.label}`;
          const whole = runPg(steps);
          checked++;
          if (JSON.stringify(plain(runPg(steps, bytewise(steps)))) !== JSON.stringify(plain(whole))) fail(`${where}: byte by byte differs`);
          if (whole.events.length > 0) fail(`${where}: events ${JSON.stringify(whole.events)}`);
          if (whole.exchanges.length !== 1) {
            fail(`${where}: ${whole.exchanges.length} records`);
            continue;
          }
          const ex = whole.exchanges[0];
          const error = finished ? conv.error : ending.error;
          const detail = finished ? conv.detail : undefined;
          const got = { method: ex.method, start: ex.start, error: ex.error, detail: ex.error_detail, out: ex.bytes_out, in: ex.bytes_in };
          const want = { method: 'STARTUP', start: timeOf(0), error, detail, out: sent('c'), in: sent('s') };
          if (JSON.stringify(plain(got)) !== JSON.stringify(plain(want))) fail(`${where}: ${JSON.stringify(plain(got))}, want ${JSON.stringify(plain(want))}`);
        }
      }
    });
    t.equal(failures, 0, `${conv.name}: ${checked} cut points and endings`);
  }
});

void t.test('what a startup cut short keeps: its parameters once the StartupMessage was whole, no byte of a cut message', async (t) => {
  const packet = startup();
  const cut = runPg([{ c: packet.subarray(0, 20) }, { close: 'reset' }]);
  t.match(cut.exchanges, [{ method: 'STARTUP', error: 'reset', bytes_out: 20, bytes_in: 0, notes: ['request cut short: 20 bytes of an incomplete message'] }]);
  t.equal(cut.exchanges[0].response, undefined);

  // After the StartupMessage, the server's authentication request, the client's password cut short.
  const password = cat(serialize.password('hunter2-secret'));
  const mid = runPg([{ c: packet }, { s: be.authCleartext() }, { c: password.subarray(0, 7) }, { close: 'fin' }]);
  t.match(mid.exchanges, [{ method: 'STARTUP', path: 'shop', error: 'closed', request: { headers: { user: 'alice', database: 'shop' } }, response: { headers: { auth: 'cleartext' } } }]);
  t.equal(mid.exchanges[0].bytes_out, packet.length + 7);
  t.notOk(JSON.stringify(plain(mid.exchanges)).includes('hunter2'), 'no byte of the cut password kept');

  // SSLRequest and StartupMessage in one write, no answer yet: the held bytes are counted, not read.
  const held = runPg([{ c: cat(ssl(), packet) }, { close: 'reset' }]);
  t.match(held.exchanges, [{ method: 'STARTUP', error: 'reset', bytes_out: 8 + packet.length, notes: [`${packet.length} client bytes awaiting the answer to the encryption request, not read`] }]);
});

void t.test('SSLRequest then a protocol 9.0 startup: the server refusal is the record, with all its bytes', async (t) => {
  const v9 = startupOfVersion(9, 0);
  const refusal = fatal('0A000', UNSUPPORTED_9);
  const scripts: Array<[string, Step[]]> = [
    ['one client write, N and the error in one server write', [{ c: cat(ssl(), v9) }, { s: cat(Buffer.from('N'), refusal) }, { send: true }, { close: 'fin' }]],
    ['one client write, N and the error apart', [{ c: cat(ssl(), v9) }, { s: Buffer.from('N') }, { s: refusal }, { close: 'fin' }]],
    ['the client waits for N', [{ c: ssl() }, { s: Buffer.from('N') }, { c: v9 }, { s: refusal }, { close: 'reset' }]],
  ];
  for (const [name, steps] of scripts) {
    const { exchanges, events } = runAllCuts(t, steps);
    t.same(events, [], `${name}: no parse error`);
    t.equal(exchanges.length, 1, name);
    t.match(exchanges[0], {
      protocol: 'postgres',
      method: 'STARTUP',
      path: 'shop',
      error: 'server_error',
      error_detail: `FATAL 0A000: ${UNSUPPORTED_9}`,
      bytes_out: 8 + v9.length,
      bytes_in: 1 + refusal.length,
      notes: ['SSLRequest refused (N): plaintext', 'protocol 9.0 requested'],
      request: { headers: { user: 'alice', database: 'shop' } },
      response: { headers: { severity: 'FATAL', sqlstate: '0A000', message: UNSUPPORTED_9 } },
    }, name);
  }
});

void t.test('other protocol versions: refused in the form the server uses for them', async (t) => {
  // Protocol 2.0: the server's error has the older form; the packet names no parameters read here.
  const legacy = runAllCuts(t, [{ c: ssl() }, { s: Buffer.from('N') }, { c: startupV2() }, { s: legacyFatal(UNSUPPORTED_2) }, { close: 'fin' }]);
  t.same(legacy.events, []);
  t.match(legacy.exchanges, [{ method: 'STARTUP', error: 'server_error', error_detail: `FATAL: ${UNSUPPORTED_2}`, bytes_in: 1 + legacyFatal(UNSUPPORTED_2).length, notes: ['SSLRequest refused (N): plaintext', 'protocol 2.0 requested'] }]);
  t.same(legacy.exchanges[0].request?.headers, {});
  t.match(legacy.exchanges[0].response?.headers, { severity: 'FATAL', message: UNSUPPORTED_2 });

  // A server that accepted the version: what follows is not protocol 3, said once.
  const accepted = runPg([{ c: ssl() }, { s: Buffer.from('N') }, { c: startupOfVersion(4, 0) }, { s: be.authOk() }, { close: 'fin' }]);
  t.match(accepted.events, [{ kind: 'parse_error', side: 'server', detail: 'postgres: protocol 4.0 accepted by the server: not parsed' }]);
  t.match(accepted.exchanges, [{ method: 'STARTUP', error: 'parse', notes: ['SSLRequest refused (N): plaintext', 'protocol 4.0 requested'] }]);
  t.equal(accepted.exchanges.length, 1);

  // What the client sends after an unsupported startup is not read (nor taken for protocol 3).
  const after = runPg([{ c: ssl() }, { s: Buffer.from('N') }, { c: cat(startupOfVersion(9, 0), Buffer.from('\xff\xff garbage', 'latin1')) }, { s: fatal('0A000', UNSUPPORTED_9) }]);
  t.same(after.events, []);
  t.match(after.exchanges, [{ method: 'STARTUP', error: 'server_error' }]);
});

void t.test('an ErrorResponse answering the SSLRequest itself ends the startup', async (t) => {
  const refusal = fatal('08P01', 'unsupported SSL negotiation');
  const { exchanges, events } = runAllCuts(t, [{ c: ssl() }, { s: refusal }, { close: 'fin' }]);
  t.same(events, []);
  t.equal(exchanges.length, 1);
  t.match(exchanges[0], { method: 'STARTUP', error: 'server_error', error_detail: 'FATAL 08P01: unsupported SSL negotiation', bytes_out: 8, bytes_in: refusal.length, response_start: timeOf(1), end: timeOf(1) });
  t.equal(text(exchanges[0].request?.body), '');
});
