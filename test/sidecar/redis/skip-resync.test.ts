/**
 * Gaps in what capture sees: a gap inside a string value keeps the framing (the value is cut and
 * says so); a gap anywhere else flushes the waiting commands as `capture_overflow` and capture
 * resumes at the next chunk that starts a command array.
 */
import t from 'tap';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { createRedisSession } from '../../../sidecar/redis/session.ts';
import { cmd, text } from './harness.ts';

function session() {
  const got: Exchange[] = [];
  const s = createRedisSession({ maxBodyBytes: 1024, emit: (e) => got.push(e), event: () => undefined });
  return { s, got };
}

void t.test('a gap inside a bulk value is absorbed; the value says what was missed', async (t) => {
  const { s, got } = session();
  s.clientData(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$30\r\nfirst-ten-'), 1n);
  t.ok(s.skipClient!(10, 2n), 'absorbed inside the value');
  s.clientData(Buffer.concat([Buffer.from('last-ten--\r\n'), cmd('GET', 'k')]), 3n);
  s.serverData(Buffer.from('+OK\r\n$20\r\n0123'), 4n);
  t.ok(s.skipServer!(16, 5n));
  s.serverData(Buffer.from('\r\n'), 5n);
  t.notOk(s.skipServer!(3, 5n), 'between replies: not absorbable');
  t.equal(got.length, 2);
  t.equal(text(got[1].response?.body), '"0123"… [20 bytes, 16 not captured]');
  t.match(got[1].notes, [/response.body: 16 bytes not captured/]);
  t.equal(got[1].response?.truncated, true);
  t.equal(text(got[0].request?.body), 'SET k "first-ten-"… [30 bytes, 10 not captured]');
  t.equal(got[0].request?.truncated, true);
  t.match(got[0].notes, [/10 bytes not captured/]);
  t.equal(got[0].request?.body_size, 57, 'wire size includes the gap');
});

void t.test('a gap in the framing: pending commands cut, capture resumes at the next command', async (t) => {
  const { s, got } = session();
  s.clientData(Buffer.concat([cmd('GET', 'a'), Buffer.from('*2\r\n$3\r\nGE')]), 1n);
  t.notOk(s.skipClient!(50, 2n));
  s.resync!(2n, 'connection_budget');
  t.same(got.map((e) => [e.method, e.error]), [['GET', 'capture_overflow']]);
  // The reply to the lost command arrives before the next command: skipped.
  s.serverData(Buffer.from('$1\r\nA\r\n'), 3n);
  s.clientData(Buffer.from('tail of something in the gap'), 4n);
  s.clientData(cmd('GET', 'b'), 5n);
  s.serverData(Buffer.from('$1\r\nB\r\n'), 6n);
  t.same(got.map((e) => [e.method, e.path, e.error, text(e.response?.body)]), [
    ['GET', 'a', 'capture_overflow', ''],
    ['GET', 'b', undefined, '"B"'],
  ]);
  t.match(got[1].notes, [/capture resumed after a gap/]);
  t.ok(got[1].ordinal > got[0].ordinal);
});

void t.test('a gap with nothing pending leaves one marker record', async (t) => {
  const { s, got } = session();
  s.clientData(cmd('PING'), 1n);
  s.serverData(Buffer.from('+PONG\r\n'), 2n);
  s.resync!(3n, 'connection_budget');
  t.equal(got.length, 2);
  t.match(got[1], { error: 'capture_overflow', start: 3n, end: 3n });
  t.equal(got[1].method, undefined);
  t.ok(s.skipClient!(100, 4n), 'while waiting for a command, gaps are nothing');
  t.ok(s.skipServer!(100, 4n));
});
