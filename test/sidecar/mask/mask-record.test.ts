import t from 'tap';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { resolveMaskPolicy, DEFAULT_MASK_POLICY } from '../../../sidecar/mask/policy.ts';
import { cardDigits, isJwt, luhnValid } from '../../../sidecar/mask/detectors.ts';
import type { HttpMessage } from '../../../record/record.ts';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

const msg = (headers: Record<string, string>, body = '', contentType?: string, truncated = false): HttpMessage => ({
  headers,
  body: Buffer.from(body),
  body_size: Buffer.byteLength(body),
  truncated,
  ...(contentType === undefined ? {} : { content_type: contentType }),
});
const text = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString();

void t.test('sensitive headers: scheme kept, values masked, cookie names kept', async (t) => {
  const r = maskRecord({
    request: msg({
      authorization: `Bearer ${JWT}`,
      'proxy-authorization': 'Basic dXNlcjpwYXNz',
      cookie: 'sid=abc123; theme=dark',
      'x-api-key': 'k-123',
      accept: 'application/json',
    }),
    response: msg({ 'set-cookie': 'sid=new; Path=/; HttpOnly\nlang=en; Max-Age=60' }),
  });
  t.same(r.request?.headers, {
    authorization: 'Bearer ****',
    'proxy-authorization': 'Basic ****',
    cookie: 'sid=****; theme=****',
    'x-api-key': '****',
    accept: 'application/json',
  });
  t.same(r.response?.headers, { 'set-cookie': 'sid=****; Path=/; HttpOnly\nlang=****; Max-Age=60' });
  t.same(r.redacted, [
    'request.headers.authorization',
    'request.headers.proxy-authorization',
    'request.headers.cookie',
    'request.headers.x-api-key',
    'response.headers.set-cookie',
  ]);
  t.same(r.sensitive.sort(), ['api_key', 'authorization', 'cookie', 'jwt']);
});

void t.test('a JWT in any header, in the path or query', async (t) => {
  const r = maskRecord({ path: `/v1/verify/${JWT}?id_token=x&page=2&t=${JWT}`, request: msg({ 'x-id': JWT }) });
  t.equal(r.path, '/v1/verify/****?id_token=****&page=2&t=****');
  t.equal(r.request?.headers['x-id'], '****');
  t.same(r.redacted.sort(), ['path', 'path.query.id_token', 'request.headers.x-id']);
  t.same(r.sensitive.sort(), ['jwt', 'token']);
});

const bodyTable: Array<{ name: string; body: string; ct?: string; truncated?: boolean; out: string; redacted: string[]; sensitive: string[] }> = [
  {
    name: 'JSON keys, nested and in arrays, case- and separator-insensitive',
    body: '{"user":{"name":"a","Password":"p1"},"items":[{"access_token":"t1"},{"refreshToken":7}],"client-secret":{"x":1},"API_KEY":"k","keep":"v"}',
    ct: 'application/json',
    out: '{"user":{"name":"a","Password":"****"},"items":[{"access_token":"****"},{"refreshToken":"****"}],"client-secret":"****","API_KEY":"****","keep":"v"}',
    redacted: [
      'request.body.$.user.Password',
      'request.body.$.items[0].access_token',
      'request.body.$.items[1].refreshToken',
      'request.body.$["client-secret"]',
      'request.body.$.API_KEY',
    ],
    sensitive: ['api_key', 'password', 'secret', 'token'],
  },
  {
    name: 'JSON formatting and big numbers stay as they were',
    body: '{\n  "id": 12345678901234567890,\n  "passwd" : "x"\n}',
    out: '{\n  "id": 12345678901234567890,\n  "passwd" : "****"\n}',
    redacted: ['request.body.$.passwd'],
    sensitive: ['password'],
  },
  {
    name: 'card numbers in JSON strings and as numbers; Luhn-invalid and timestamps left alone',
    body: '{"card":"4111 1111 1111 1111","n":5555555555554444,"bad":"4111 1111 1111 1112","ts":1700000000004}',
    ct: 'application/json; charset=utf-8',
    out: '{"card":"****1111","n":"****4444","bad":"4111 1111 1111 1112","ts":1700000000004}',
    redacted: ['request.body.$.card', 'request.body.$.n'],
    sensitive: ['card'],
  },
  {
    name: 'JWT and e-mail inside JSON values: JWT masked, e-mail only reported',
    body: `{"note":"token ${JWT} from jane@example.com"}`,
    ct: 'application/json',
    out: '{"note":"token **** from jane@example.com"}',
    redacted: ['request.body.$.note'],
    sensitive: ['jwt', 'email'],
  },
  {
    name: 'truncated JSON falls back to key/value patterns',
    body: '{"user":"a","password":"hunter2","token":"abcdef","list":[1,2',
    ct: 'application/json',
    truncated: true,
    out: '{"user":"a","password":"****","token":"****","list":[1,2',
    redacted: ['request.body.$..password', 'request.body.$..token'],
    sensitive: ['password', 'token'],
  },
  {
    name: 'a secret value cut by the body limit is masked to the end',
    body: '{"user":"a","client_secret":"abcdefgh',
    ct: 'application/json',
    truncated: true,
    out: '{"user":"a","client_secret":"****',
    redacted: ['request.body.$..client_secret'],
    sensitive: ['secret'],
  },
  {
    name: 'form-urlencoded',
    body: 'username=jane&password=hunter2&card=4242-4242-4242-4242&api%5Fkey=zz',
    ct: 'application/x-www-form-urlencoded',
    out: 'username=jane&password=****&card=****4242&api%5Fkey=****',
    redacted: ['request.body.password', 'request.body.api_key', 'request.body'],
    sensitive: ['password', 'api_key', 'card'],
  },
  {
    name: 'plain text: cards and JWTs, nothing else touched',
    body: `order 42 paid with 378282246310005 by bob@example.org; session ${JWT}.`,
    ct: 'text/plain',
    out: 'order 42 paid with ****0005 by bob@example.org; session ****.',
    redacted: ['request.body'],
    sensitive: ['jwt', 'card', 'email'],
  },
  {
    name: 'nothing sensitive: body unchanged',
    body: '{"a":[1,2,3],"b":{"c":"d"}}',
    ct: 'application/json',
    out: '{"a":[1,2,3],"b":{"c":"d"}}',
    redacted: [],
    sensitive: [],
  },
];

for (const c of bodyTable) {
  void t.test(`body: ${c.name}`, async (t) => {
    const input = msg({}, c.body, c.ct, c.truncated);
    const r = maskRecord({ request: input });
    t.equal(text(r.request), c.out);
    t.same(r.redacted, c.redacted);
    t.same([...r.sensitive].sort(), [...c.sensitive].sort());
    t.equal(r.request?.body_size, input.body_size, 'body_size untouched');
    t.equal(Buffer.from(input.body).toString(), c.body, 'input not modified');
  });
}

void t.test('binary bodies are masked byte for byte, other bytes untouched', async (t) => {
  const bin = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x12]), Buffer.from(`\x0a\x10${JWT}\x12\x104111111111111111`), Buffer.from([0xc3])]);
  const r = maskRecord({ response: { headers: {}, body: bin, body_size: bin.length, truncated: false, content_type: 'application/x-protobuf' } });
  const out = Buffer.from(r.response?.body ?? []);
  t.equal(out.length, bin.length, 'same length');
  t.same([...out.subarray(0, 4)], [0xff, 0xfe, 0x00, 0x12]);
  t.notOk(out.includes(Buffer.from(JWT)), 'JWT gone');
  t.ok(out.includes(Buffer.from('************1111')), 'card masked in place');
  t.same(r.redacted, ['response.body']);
});

void t.test('non-JSON text that merely starts with a brace is not corrupted', async (t) => {
  const body = '{not json at all} plain words';
  const r = maskRecord({ response: msg({}, body, 'text/plain') });
  t.equal(text(r.response), body);
  t.same(r.redacted, []);
});

void t.test('policy: disabled, extra headers and keys, cards and JWTs off, e-mails masked', async (t) => {
  const rec = { request: msg({ authorization: 'Bearer x', 'x-internal': 's3cr3t' }, `{"pin":"1234","card":"4111111111111111","jwt":"${JWT}","mail":"a@b.io"}`, 'application/json') };
  const off = maskRecord(rec, resolveMaskPolicy({ enabled: false }));
  t.equal(off.request?.headers.authorization, 'Bearer x');
  t.same([off.redacted, off.sensitive], [[], []]);
  const custom = maskRecord(rec, resolveMaskPolicy({ headers: ['X-Internal'], jsonKeys: ['PIN'], maskCards: false, maskJwts: false, maskEmails: true }));
  t.equal(custom.request?.headers['x-internal'], '****');
  t.equal(text(custom.request), `{"pin":"****","card":"4111111111111111","jwt":"${JWT}","mail":"****"}`);
  t.same([...custom.sensitive].sort(), ['authorization', 'card', 'email', 'jwt', 'secret']);
  t.same(custom.redacted, ['request.headers.authorization', 'request.headers.x-internal', 'request.body.$.pin', 'request.body.$.mail']);
  const noMail = maskRecord(rec, resolveMaskPolicy({ detectEmails: false }));
  t.notOk(noMail.sensitive.includes('email'));
});

void t.test('existing redacted/sensitive are kept; the default policy is used when none is given', async (t) => {
  const r = maskRecord({ request: msg({ cookie: 'a=b' }), redacted: ['x'], sensitive: ['y'] });
  t.same(r.redacted, ['x', 'request.headers.cookie']);
  t.same(r.sensitive, ['y', 'cookie']);
  t.equal(DEFAULT_MASK_POLICY.enabled, true);
  t.ok(Object.isFrozen(DEFAULT_MASK_POLICY));
});

void t.test('copy on write: nothing found gives the record itself, a finding gives a copy and leaves the input alone', async (t) => {
  const clean = { path: '/orders?page=2', request: msg({ accept: 'text/plain' }, 'hello'), response: msg({ 'content-type': 'text/plain' }, 'world'), redacted: [], sensitive: [] };
  t.equal(maskRecord(clean), clean, 'the same object: no copy when nothing changes');

  const withoutLists = { request: msg({ accept: 'text/plain' }, 'hello') };
  const listed = maskRecord(withoutLists);
  t.not(listed, withoutLists, 'a record without its lists gets a copy that has them');
  t.same([listed.redacted, listed.sensitive], [[], []]);
  t.same(Object.keys(withoutLists), ['request'], 'and the input keeps its own keys');

  const secret = { path: '/p', request: msg({ authorization: `Bearer ${JWT}` }, 'plain'), response: msg({}, 'fine'), redacted: [], sensitive: [] };
  const before = structuredClone(secret);
  const masked = maskRecord(secret);
  t.not(masked, secret);
  t.not(masked.request, secret.request, 'the message that changed is a copy');
  t.equal(masked.response, secret.response, 'the message that did not change is shared');
  t.equal(masked.request?.body, secret.request.body, 'an unchanged body is shared');
  t.same(secret, before, 'the input is not changed');
  t.same(masked.redacted, ['request.headers.authorization']);
});

void t.test('Luhn and card detection', async (t) => {
  for (const n of ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117', '4222222222222', '3530111333300000']) {
    t.ok(luhnValid(n), `${n} passes Luhn`);
    t.equal(cardDigits(n), n);
  }
  t.notOk(luhnValid('4111111111111112'));
  t.equal(cardDigits('4111 1111 1111 1111'), '4111111111111111');
  t.equal(cardDigits('4111-1111-1111-1111'), '4111111111111111');
  t.equal(cardDigits('1700000000004'), undefined, 'a timestamp is not a card even when Luhn-valid');
  t.ok(luhnValid('1700000000004'));
  t.equal(cardDigits('411111111111'), undefined, 'too short');
  t.equal(cardDigits('41111111111111111111'), undefined, 'too long');
});

void t.test('JWT detection', async (t) => {
  t.ok(isJwt(JWT));
  t.ok(isJwt('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'), 'unsigned token');
  t.notOk(isJwt('abc.def.ghi'));
  t.notOk(isJwt('eyJhbGciOiJIUzI1NiJ9'), 'one segment only');
});

void t.test('policy validation: wrong types and renamed keys fail with a hint', async (t) => {
  t.throws(() => resolveMaskPolicy({ enabled: 'yes' }), { code: 'SC_ERR_MASK_POLICY', message: /enabled/ });
  t.throws(() => resolveMaskPolicy({ extraHeaders: ['x'] }), { code: 'SC_ERR_MASK_POLICY', message: /did you mean "headers"/ });
  t.throws(() => resolveMaskPolicy({ bogus: 1 }), { code: 'SC_ERR_MASK_POLICY' });
  const p = resolveMaskPolicy({ jsonKeys: ['Session-Id'] });
  t.equal(p.keys.get('sessionid'), 'secret');
});
