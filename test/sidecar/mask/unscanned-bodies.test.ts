/**
 * Bodies that cannot be scanned are not shipped: a content-encoding the capture path could not
 * remove, and bytes past the per-record scan budget. Both are cut with a note and a `redacted`
 * entry unless the policy ships them raw.
 */
import t from 'tap';
import zlib from 'node:zlib';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { resolveMaskPolicy, DEFAULT_SCAN_BUDGET_BYTES } from '../../../sidecar/mask/policy.ts';
import { runSession } from '../http1/harness.ts';
import type { HttpMessage } from '../../../record/record.ts';

const text = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString('latin1');

function captured(response: string | Buffer, encoding: string) {
  const body = typeof response === 'string' ? Buffer.from(response, 'latin1') : response;
  const res = Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: ${encoding}\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'),
    body,
  ]);
  const { exchanges } = runSession([{ c: 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n' }, { s: res.toString('latin1') }, { close: 'fin' }]);
  return exchanges[0];
}

void t.test('through the HTTP/1 capture: a corrupt gzip body is left out, size and type kept', async (t) => {
  const gz = zlib.gzipSync('{"password":"hunter2-gz"}');
  const corrupt = Buffer.concat([gz.subarray(0, 14), Buffer.from('RAW-SECRET-in-corrupt-gzip'), gz.subarray(14)]);
  const exchange = captured(corrupt, 'gzip');
  t.ok(exchange.notes?.some((n) => n.startsWith('response.body: ')), 'the capture path noted the failure');
  const r = maskRecord({ ...exchange, redacted: [], sensitive: [] });
  t.equal(r.response?.body.length, 0, 'body left out');
  t.equal(r.response?.body_size, corrupt.length, 'true size kept');
  t.equal(r.response?.content_type, 'application/json');
  t.equal(r.response?.truncated, true);
  t.ok(r.redacted.includes('response.body'));
  t.ok(r.notes?.some((n) => /^response\.body: left out: content-encoding gzip could not be removed/.test(n)), 'a note says why');
});

void t.test('through the HTTP/1 capture: a body gzip could decode is masked as usual', async (t) => {
  const exchange = captured(zlib.gzipSync('{"password":"hunter2-gz","ok":1}'), 'gzip');
  const r = maskRecord({ ...exchange, redacted: [], sensitive: [] });
  t.equal(text(r.response), '{"password":"****","ok":1}');
  t.same(r.redacted, ['response.body.$.password']);
  t.equal(r.notes, undefined);
});

void t.test('an unknown coding is left out even without a note; the policy may ship it raw', async (t) => {
  const exchange = captured('not-really-compressed {"password":"pw"}', 'compress');
  const cut = maskRecord({ ...exchange, redacted: [], sensitive: [], notes: undefined });
  t.equal(cut.response?.body.length, 0);
  t.ok(cut.redacted.includes('response.body'));
  const raw = maskRecord({ ...exchange, redacted: [], sensitive: [] }, resolveMaskPolicy({ unscannedBodies: 'raw' }));
  t.equal(text(raw.response), 'not-really-compressed {"password":"pw"}');
  t.ok(raw.notes?.some((n) => /shipped unscanned \(unscannedBodies: raw\)/.test(n)));
  t.notOk(raw.redacted.includes('response.body'));
});

void t.test('a body still starting with the gzip magic is left out even when nothing noted it', async (t) => {
  const gz = zlib.gzipSync('{"token":"abc-gz-secret"}');
  const r = maskRecord({
    response: { headers: {}, body: gz, body_size: gz.length, truncated: false, content_type: 'application/json', content_encoding: 'gzip' },
  });
  t.equal(r.response?.body.length, 0);
});

void t.test('identity and no coding are scanned normally', async (t) => {
  const r = maskRecord({ response: { headers: {}, body: Buffer.from('{"pwd":"x"}'), body_size: 11, truncated: false, content_encoding: 'identity' } });
  t.equal(text(r.response), '{"pwd":"****"}');
});

void t.test('the scan budget: the scanned part is masked and reported, the rest cut with a note', async (t) => {
  const policy = resolveMaskPolicy({ scanBudgetBytes: 64 });
  const head = '{"password":"p1","note":"4111 1111 1111 1111",'; // 46 bytes
  const req = head + '"pad":"' + 'x'.repeat(40) + '","token":"LATE-SECRET-past-budget"}';
  const res = '{"client_secret":"RES-SECRET"}';
  const r = maskRecord(
    {
      request: { headers: {}, body: Buffer.from(req), body_size: req.length, truncated: false, content_type: 'application/json' },
      response: { headers: {}, body: Buffer.from(res), body_size: res.length, truncated: false, content_type: 'application/json' },
    },
    policy,
  );
  const out = text(r.request);
  // The first 64 bytes, masked: the head (46 bytes), `"pad":"` and eleven x.
  t.equal(out, '{"password":"****","note":"****1111","pad":"' + 'x'.repeat(11), 'cut at the budget');
  t.notOk(out.includes('LATE-SECRET'), 'nothing past the budget');
  t.equal(r.request?.truncated, true);
  t.equal(r.request?.body_size, req.length, 'true size kept');
  t.ok(r.sensitive.includes('password') && r.sensitive.includes('card'), 'findings of the scanned part are reported');
  t.equal(r.response?.body.length, 0, 'the budget is per record: nothing left for the response');
  t.ok(r.redacted.includes('request.body') && r.redacted.includes('response.body'));
  t.ok(r.notes?.some((n) => n.startsWith('request.body: cut after 64 of')));
  t.ok(r.notes?.some((n) => n.startsWith('response.body: cut after 0 of')));

  const raw = maskRecord({ request: { headers: {}, body: Buffer.from(req), body_size: req.length, truncated: false } }, resolveMaskPolicy({ scanBudgetBytes: 64, unscannedBodies: 'raw' }));
  t.ok(text(raw.request).includes('LATE-SECRET'), 'raw ships the rest unscanned when the policy says so');
  t.ok(raw.notes?.some((n) => /the rest shipped unscanned/.test(n)));
});

void t.test('the default budget covers two default-size bodies', async (t) => {
  t.ok(DEFAULT_SCAN_BUDGET_BYTES >= 2 * 64 * 1024);
  const big = '{"a":"' + 'x'.repeat(64 * 1024) + '","password":"p"}';
  const r = maskRecord({
    request: { headers: {}, body: Buffer.from(big), body_size: big.length, truncated: false, content_type: 'application/json' },
    response: { headers: {}, body: Buffer.from(big), body_size: big.length, truncated: false, content_type: 'application/json' },
  });
  t.equal(r.notes, undefined);
  t.same(r.redacted, ['request.body.$.password', 'response.body.$.password']);
});
