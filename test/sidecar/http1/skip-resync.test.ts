/**
 * Gaps in what capture sees (the hand-off to the capture worker was full): bytes skipped inside
 * a body keep the framing (the body is cut and says so); a gap anywhere else makes the pending
 * calls `capture_overflow` records and capture resumes at the next request line, pairing the
 * response that follows it.
 */
import t from 'tap';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { createHttp1Session } from '../../../sidecar/http1/session.ts';

function session() {
  const got: Exchange[] = [];
  const s = createHttp1Session({ maxBodyBytes: 1024, emit: (e) => got.push(e), event: () => undefined });
  return { s, got };
}

const b = (text: string) => Buffer.from(text);

void t.test('a gap inside a known-length body: framing kept, the body cut with its true size and a note', async (t) => {
  const { s, got } = session();
  s.clientData(b('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\n\r\nfirst-ten-'), 1n);
  t.ok(s.skipClient!(10, 2n), 'absorbed inside the body');
  s.clientData(b('last-ten--'), 3n);
  s.serverData(b('HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok'), 4n);
  s.clientData(b('GET /next HTTP/1.1\r\nHost: a\r\n\r\n'), 5n);
  s.serverData(b('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), 6n);
  t.equal(got.length, 2);
  t.equal(got[0].path, '/upload');
  t.equal(got[0].status_code, 201);
  t.equal(got[0].request?.body_size, 30, 'true size');
  t.equal(Buffer.from(got[0].request!.body).toString(), 'first-ten-', 'nothing kept after the gap');
  t.equal(got[0].request?.truncated, true);
  t.match(got[0].notes, [/10 bytes not captured/]);
  t.equal(got[1].path, '/next', 'the next call parsed in step');
  t.equal(got[0].error, undefined);
});

void t.test('a gap across a head: pending calls cut, capture resumes at the next request line and pairs its response', async (t) => {
  const { s, got } = session();
  s.clientData(b('GET /a HTTP/1.1\r\nHost: a\r\n'), 1n);
  t.notOk(s.skipClient!(40, 2n), 'not absorbable: framing lost');
  s.resync!(2n, 'connection_budget');
  t.equal(got.length, 1);
  t.equal(got[0].error, 'capture_overflow');
  t.equal(got[0].path, undefined, 'the head was never complete');
  // The response to the lost call arrives before the next request: not paired with anything.
  s.serverData(b('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nlost!'), 3n);
  s.clientData(b('rest of a body that started in the gap'), 4n);
  s.clientData(b('GET /b HTTP/1.1\r\nHost: a\r\n\r\n'), 5n);
  s.serverData(b('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'), 6n);
  t.equal(got.length, 2);
  t.equal(got[1].path, '/b');
  t.equal(got[1].status_code, 404, 'paired with its own response');
  t.match(got[1].notes, [/capture resumed after a gap/]);
  t.ok(got[1].ordinal > got[0].ordinal, 'ordinals stay unique');
});

void t.test('a gap with nothing pending leaves one marker record', async (t) => {
  const { s, got } = session();
  s.clientData(b('GET /a HTTP/1.1\r\nHost: a\r\n\r\n'), 1n);
  s.serverData(b('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), 2n);
  t.equal(got.length, 1);
  t.notOk(s.skipClient!(100, 3n));
  s.resync!(3n, 'sidecar_budget');
  t.equal(got.length, 2);
  t.equal(got[1].error, 'capture_overflow');
  t.not(got[1].ordinal, got[0].ordinal);
});
