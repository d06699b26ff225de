/**
 * A body cut short (the capture limit, or the scan budget) may end in the first part of a
 * secret. A token at the very end that starts like a JWT is masked as a JWT; a run of 13–18
 * digits at the very end that starts like an issued card is masked as a card (whole). Text that
 * was not cut, and the same starts anywhere but at the cut, stay as they were.
 */
import t from 'tap';
import { findCutCard, findCutJwt } from '../../../sidecar/mask/detectors.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import type { HttpMessage } from '../../../record/record.ts';

const message = (body: string | Buffer, contentType: string, truncated: boolean): HttpMessage => {
  const bytes = Buffer.from(body);
  return { headers: {}, body: bytes, body_size: bytes.length + (truncated ? 1000 : 0), truncated, content_type: contentType };
};
const bodyOf = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString('latin1');

/** The body of the security review: a JWT's header and part of its claims, cut by the limit. */
const REVIEW = '{"id":7,"note":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiO';

void t.test("the security review's body: the JWT's first part is masked and reported", async (t) => {
  const r = maskRecord({ request: message(REVIEW, 'application/json', true), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), '{"id":7,"note":"****');
  t.same(r.redacted, ['request.body']);
  t.same(r.sensitive, ['jwt']);
  t.equal(r.request?.truncated, true);
});

void t.test('the scan budget cuts a body the same way', async (t) => {
  const policy = resolveMaskPolicy({ scanBudgetBytes: REVIEW.length });
  const r = maskRecord({ request: message(`${REVIEW}iJ4In0.c2lnbmF0dXJl","more":"x"}`, 'application/json', false), redacted: [], sensitive: [] }, policy);
  t.equal(bodyOf(r.request), '{"id":7,"note":"****');
  t.same(r.sensitive, ['jwt']);
  t.ok(r.redacted.includes('request.body'));
  // Shipped raw past the budget, the scanned part is masked all the same.
  const raw = maskRecord({ request: message(`${REVIEW}iJ4In0`, 'application/json', false), redacted: [], sensitive: [] }, resolveMaskPolicy({ scanBudgetBytes: REVIEW.length, unscannedBodies: 'raw' }));
  t.equal(bodyOf(raw.request), '{"id":7,"note":"****iJ4In0');
});

void t.test('a WebSocket text message cut by the limit', async (t) => {
  const r = maskRecord({ request: message('auth eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4', 'text/plain; charset=utf-8', true), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), 'auth ****');
  t.same(r.sensitive, ['jwt']);
});

void t.test('how much of a JWT a cut may leave', async (t) => {
  const ends: Array<[string, string]> = [
    ['x eyJh', 'x ****'],
    ['x eyJhbGciOiJIUzI1NiJ9', 'x ****'],
    ['x eyJhbGciOiJIUzI1NiJ9.', 'x ****'],
    ['x eyJhbGciOiJIUzI1NiJ9.e', 'x ****'],
    ['x eyJhbGciOiJIUzI1NiJ9.eyJ', 'x ****'],
    ['x eyJhbGciOiJIUzI1NiJ9.eyJzdWIi', 'x ****'],
    ['x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.', 'x ****'],
    ['x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2', 'x ****'],
    ['x eyJa.eyJb.c', 'x ****'],
    ['a.b.c.eyJhbGci', 'a.b.c.****'],
    ['x-eyJhbGci', 'x-****'],
    ['"eyJhbGci', '"****'],
  ];
  for (const [text, out] of ends) {
    const r = maskRecord({ request: message(text, 'text/plain', true), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), out, text);
    t.same(r.sensitive, ['jwt'], `${text}: a JWT`);
  }
});

void t.test('only what the cut ends in, only when the body was cut, only what starts like a JWT', async (t) => {
  const kept: Array<[string, boolean]> = [
    // Not cut: a body may end in anything.
    [REVIEW, false],
    ['note eyJhbGciOiJIUzI1NiJ9', false],
    // Cut, but the start is not at the end.
    ['eyJhbGciOiJIUzI1NiJ9 then words', true],
    ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiO and more', true],
    // Cut, but no JWT start.
    ['keyJhbGciOiJIUzI1NiJ9', true],
    ['x eyJ', true],
    ['x eyJhbGci.xyz', true],
    ['x eyJhbGci..', true],
    ['x eyJa.b.c.d', true],
    ['plain words to the end', true],
  ];
  for (const [text, truncated] of kept) {
    const r = maskRecord({ request: message(text, 'text/plain', truncated), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), text, `${text} (${truncated ? 'cut' : 'whole'})`);
    t.same(r.sensitive, [], `${text}: nothing found`);
  }
});

void t.test('a JWT cut in a form body, after a percent-escape, and in a binary body', async (t) => {
  const form = maskRecord({ request: message('a=1&note=tok%20eyJhbGciOiJIUzI1NiJ9.eyJzd', 'application/x-www-form-urlencoded', true), redacted: [], sensitive: [] });
  t.equal(bodyOf(form.request), 'a=1&note=tok%20****');
  const binary = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x20]), Buffer.from('eyJhbGciOiJIUzI1NiJ9.eyJzd')]);
  const b = maskRecord({ request: message(binary, 'application/octet-stream', true), redacted: [], sensitive: [] });
  const out = Buffer.from(b.request!.body);
  t.equal(out.length, binary.length, 'masked byte for byte');
  t.equal(out.subarray(4).toString('latin1'), '*'.repeat(binary.length - 4));
  t.same(b.sensitive, ['jwt']);
});

void t.test('a multipart body cut inside its last part', async (t) => {
  const body = '--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nsee eyJhbGciOiJIUzI1NiJ9.eyJzd';
  const r = maskRecord({ request: message(body, 'multipart/form-data; boundary=b', true), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), '--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nsee ****');
  t.same(r.sensitive, ['jwt']);
});

void t.test('policy: with maskJwts false the cut JWT is reported, not masked', async (t) => {
  const r = maskRecord({ request: message(REVIEW, 'application/json', true), redacted: [], sensitive: [] }, resolveMaskPolicy({ maskJwts: false }));
  t.equal(bodyOf(r.request), REVIEW);
  t.same([r.redacted, r.sensitive], [[], ['jwt']]);
});

void t.test('a card cut at the end: 13 to 18 digits that start like a card are masked whole', async (t) => {
  const masked: Array<[string, string]> = [
    ['pay 4111 1111 1111 11', 'pay ****'],
    ['pay 4111111111111', 'pay ****'],
    ['{"note":"card 5500-0000-0000-00', '{"note":"card ****'],
    ['{"n":411111111111111', '{"n":****'],
  ];
  for (const [text, out] of masked) {
    const r = maskRecord({ request: message(text, 'text/plain', true), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), out, text);
    t.same(r.sensitive, ['card'], `${text}: a card`);
  }
  const form = maskRecord({ request: message('q=4111+1111+1111+11', 'application/x-www-form-urlencoded', true), redacted: [], sensitive: [] });
  t.equal(bodyOf(form.request), 'q=****', '+ is a space in a form');
  const kept: Array<[string, boolean]> = [
    // Too short to tell from the numbers that end cut text.
    ['pay 4111 1111 1111', true],
    ['id 411111111111', true],
    // Millisecond timestamps, and other numbers that start like no card.
    ['at 1700000000000', true],
    ['n 9111111111111111', true],
    // A decimal fraction, digits longer than any card, a number that is not at the end.
    ['x 0.4111111111111111', true],
    ['n 41111111111111111111111', true],
    ['pay 4111 1111 1111 11 then', true],
    // Not cut.
    ['pay 4111 1111 1111 11', false],
  ];
  for (const [text, truncated] of kept) {
    const r = maskRecord({ request: message(text, 'text/plain', truncated), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), text, `${text} (${truncated ? 'cut' : 'whole'})`);
    t.same(r.sensitive, [], `${text}: nothing found`);
  }
  // A whole card at the cut passes Luhn: masked as before, its last four kept.
  const whole = maskRecord({ request: message('pay 4111 1111 1111 1111', 'text/plain', true), redacted: [], sensitive: [] });
  t.equal(bodyOf(whole.request), 'pay ****1111');
});

void t.test('the finders on their own', async (t) => {
  t.equal(findCutJwt('a eyJhbGci'), 2);
  t.equal(findCutJwt('%20eyJhbGci'), 3, 'right after a percent-escape');
  t.equal(findCutJwt('x%2eyJhbGci'), -1, 'not inside one');
  t.equal(findCutJwt('eyJa.eyJb.c.eyJd'), 12, 'the last start with at most two dots after it');
  t.equal(findCutJwt('eyJ-eyJa'), 0);
  t.equal(findCutCard('n %204111111111111'), 5, 'right after a percent-escape');
  t.equal(findCutCard('4111%201111%201111%2011'), 0, '%20 between the groups');
  t.equal(findCutCard('4111+1111+1111+11'), -1, '+ is a plus outside a form');
  t.equal(findCutCard('4111+1111+1111+11', true), 0);
});
