/**
 * What goes wrong: garbage in either direction (a parse_error event, never a throw), a close
 * with calls pending, the pending cap, gaps (skip) and resync, an unsolicited ERR.
 */
import t from 'tap';
import { COM } from '../../../sidecar/mysql/constants.ts';
import { createMysqlSession } from '../../../sidecar/mysql/session.ts';
import type { CaptureEvent, Exchange } from '../../../sidecar/capture/session.ts';
import { cat, command, err, greeting, handshakeResponse, ok, pkt, query, resultSet } from './encoder.ts';
import { json, runAllCuts, runMy, type Step } from './harness.ts';

const login = (): Step[] => [
  { s: greeting() },
  { c: handshakeResponse({ user: 'app', db: 'shop', auth: Buffer.from('0123456789abcdef0123'), deprecateEof: true }) },
  { s: ok(2) },
];

void t.test('garbage instead of a greeting: parse_error, no throw', async (t) => {
  for (const banner of ['220 mail.example.com ESMTP Postfix\r\n', 'SSH-2.0-OpenSSH_9.6\r\n', '\x05\x00\x00\x00hello']) {
    const { exchanges, events } = runAllCuts(t, [{ s: Buffer.from(banner, 'latin1') }, { c: Buffer.from('QUIT\r\n') }, { close: 'fin' }]);
    t.match(events, [{ kind: 'parse_error', side: 'server', detail: /not a protocol 10 handshake/ }], JSON.stringify(banner));
    t.match(exchanges, [{ protocol: 'mysql', error: 'parse' }]);
  }
  const early = runAllCuts(t, [{ c: Buffer.from('GET / HTTP/1.1\r\n\r\n') }, { s: greeting() }]);
  t.match(early.events, [{ kind: 'parse_error', side: 'client', detail: /before the server greeting/ }]);
});

void t.test('garbage after the login: pending calls flushed, the session stops observing', async (t) => {
  const steps: Step[] = [
    ...login(),
    { c: query('SELECT 1') },
    // A "row" whose length runs past the packet: not a text row.
    { s: cat(pkt(1, Buffer.from([1])), pkt(2, Buffer.from('\x03def\x00\x00\x00\x01a\x00\x0c', 'latin1')), pkt(3, Buffer.from([0x20, 0x41]))) },
    { c: query('SELECT 2') },
    { s: resultSet(1, [{ name: '2' }], [['2']], { deprecateEof: true }) },
    { close: 'fin' },
  ];
  const { exchanges, events } = runMy(steps);
  t.match(events, [{ kind: 'parse_error', side: 'server' }]);
  t.equal(exchanges.length, 2, 'login and the query pending when the stream broke');
  t.match(exchanges[1], { method: 'SELECT', error: 'parse', error_detail: /mysql: malformed/ });

  const client = runAllCuts(t, [...login(), { c: pkt(7, Buffer.from('junk')) }, { s: ok(1) }, { close: 'fin' }]);
  t.match(client.events, [{ kind: 'parse_error', side: 'client', detail: /sequence 7/ }]);
  t.match(client.exchanges, [{ method: 'CONNECT' }, { error: 'parse' }]);
});

void t.test('random bytes never throw', async (t) => {
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (let k = 0; k < 200; k++) {
    const junk = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
    const steps: Step[] = k % 2 === 0 ? [{ s: junk }, { c: junk }, { close: 'reset' }] : [...login(), { c: query('SELECT 1') }, { s: junk }, { c: junk }, { close: 'reset' }];
    t.doesNotThrow(() => runMy(steps));
  }
});

void t.test('close with a pending query', async (t) => {
  const steps: Step[] = [...login(), { c: query('SELECT SLEEP(100)') }, { close: 'reset' }];
  const { exchanges } = runAllCuts(t, steps);
  t.equal(exchanges.length, 2);
  t.match(exchanges[1], { method: 'SELECT', error: 'reset', request: { headers: { user: 'app' } } });
  t.equal(exchanges[1].response, undefined);

  // Pipelined: the first gets the close reason, the rest are unpaired; a partial response is noted.
  const two = runAllCuts(t, [...login(), { c: cat(query('SELECT 1'), query('SELECT 2')) }, { s: pkt(1, Buffer.from([1])).subarray(0, 3) }, { close: 'fin' }]);
  t.match(two.exchanges, [{ method: 'CONNECT' }, { error: 'closed', notes: [/response cut short/] }, { error: 'unpaired' }]);
  const timeout = runMy([...login(), { c: query('SELECT 1') }, { close: 'timeout' }]);
  t.equal(timeout.exchanges[1].error, 'timeout');
});

void t.test('more than 128 commands awaiting the server: capture_overflow', async (t) => {
  const queries = Array.from({ length: 130 }, (_, i) => query(`SELECT ${i}`));
  const { exchanges, events } = runMy([...login(), { c: cat(...queries) }, { s: ok(1) }, { close: 'fin' }]);
  t.match(events, [{ kind: 'capture_overflow', reason: 'pending_exchanges' }]);
  t.equal(exchanges.length, 1 + 129);
  t.match(exchanges[1], { error: 'capture_overflow' });
  t.ok(exchanges.slice(1).every((e) => e.error === 'capture_overflow'));
  const fine = runMy([...login(), { c: cat(...queries.slice(0, 128)) }, ...queries.slice(0, 128).map((): Step => ({ s: ok(1) }))]);
  t.same(fine.events, []);
  t.equal(fine.exchanges.length, 129);
});

void t.test('an ERR with nothing awaiting it is its own record', async (t) => {
  const { exchanges, events } = runAllCuts(t, [...login(), { s: err(0, 4031, 'HY000', 'The client was disconnected by the server because of inactivity.') }, { close: 'fin' }]);
  t.same(events, []);
  t.match(exchanges[1], { error: 'server_error', error_detail: /ERROR 4031 \(HY000\)/, notes: ['error with no command awaiting an answer'] });
  t.equal(exchanges[1].request, undefined);
});

function drive(): { s: ReturnType<typeof createMysqlSession>; exchanges: Exchange[]; events: CaptureEvent[] } {
  const exchanges: Exchange[] = [];
  const events: CaptureEvent[] = [];
  const s = createMysqlSession({ maxBodyBytes: 65536, emit: (e) => exchanges.push(e), event: (e) => events.push(e) });
  let now = 1n;
  for (const step of login()) {
    if ('s' in step) s.serverData(step.s, now++);
    else if ('c' in step) s.clientData(step.c, now++);
  }
  return { s, exchanges, events };
}

void t.test('skip inside a query text and inside rows; not across packets', async (t) => {
  const { s, exchanges } = drive();
  const q = query(`SELECT '${'a'.repeat(100)}'`);
  s.clientData(q.subarray(0, 20), 10n);
  t.equal(s.skipClient?.(50, 11n), true, 'a gap inside the query text is absorbed');
  s.clientData(q.subarray(70), 12n);
  const rows = resultSet(1, [{ name: 'x' }], [['y'.repeat(200)], ['z']], { deprecateEof: true });
  // Count packet (5 B), column def, then the first row: header + 3-byte length + 200 bytes.
  const rowStart = rows.indexOf(Buffer.from('yyyy')) - 3 - 4;
  s.serverData(rows.subarray(0, rowStart + 4 + 10), 13n);
  t.equal(s.skipServer?.(100, 14n), true, 'a gap inside a row is absorbed');
  t.equal(s.skipServer?.(1000, 14n), false, 'a gap past the packet is not');
  s.serverData(rows.subarray(rowStart + 4 + 110), 15n);
  s.close(16n, 'fin');
  t.equal(exchanges.length, 2);
  const ex = exchanges[1];
  t.equal(ex.error, undefined);
  t.equal(ex.request?.truncated, true);
  t.match(ex.notes, [/request.body: 50 bytes not captured/, /response.body: 100 bytes not captured in 1 row \(/, /row 1: value cut/]);
  const body = json(ex.response?.body);
  t.equal(body.row_count, 2);
  t.equal(body.truncated, true);
  t.equal(s.skipClient?.(5, 17n), true, 'a closed session absorbs anything');
});

void t.test('resync flushes what is pending as capture_overflow and stops', async (t) => {
  const { s, exchanges } = drive();
  s.clientData(cat(query('SELECT 1'), command(COM.PING)), 10n);
  t.equal(s.skipClient?.(3, 11n), false, 'between packets a gap cannot be absorbed');
  s.resync?.(12n, 'gap');
  t.match(exchanges.slice(1), [{ method: 'SELECT', error: 'capture_overflow' }, { method: 'PING', error: 'capture_overflow' }]);
  s.serverData(ok(1), 13n);
  s.close(14n, 'fin');
  t.equal(exchanges.length, 3, 'nothing after the resync');

  const idle = drive();
  idle.s.resync?.(10n, 'gap');
  t.match(idle.exchanges.slice(1), [{ error: 'capture_overflow', error_detail: /capture fell behind/ }]);
});

