import t from 'tap';
import fc from 'fast-check';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { resolveMaskPolicy, DEFAULT_MASK_POLICY } from '../../../sidecar/mask/policy.ts';
import { cardDigits, findCardCandidates, findJwts, isJwt, luhnValid, maskText } from '../../../sidecar/mask/detectors.ts';
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

/** A JWT and a card as a gRPC server echoed them (the security review's values). */
const ECHO_JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJncnBjd2FsayJ9.Z3JwY3dhbGtzaWduYXR1cmU';

const encodedTable: Array<{ name: string; path: string; out: string; sensitive: string[] }> = [
  { name: 'a card after %20 in the path', path: '/products/card%205500000000000004', out: '/products/card%20****0004', sensitive: ['card'] },
  { name: 'a JWT after %20 in the path', path: `/products/tok%20${ECHO_JWT}`, out: '/products/tok%20****', sensitive: ['jwt'] },
  {
    name: 'a card and a JWT after %20 in query values',
    path: `/search?q=card%205500000000000004&t=tok%20${ECHO_JWT}&page=2`,
    out: '/search?q=card%20****0004&t=tok%20****&page=2',
    sensitive: ['jwt', 'card'],
  },
  { name: 'a card between encoded quotes', path: '/p?q=%224111111111111111%22', out: '/p?q=%22****1111%22', sensitive: ['card'] },
  { name: 'a JWT after an encoded colon, lower-case hex', path: `/p/bearer%3a${ECHO_JWT}/x`, out: '/p/bearer%3a****/x', sensitive: ['jwt'] },
  { name: 'a card after %2F, before %2F', path: '/files/%2F5500000000000004%2Fx', out: '/files/%2F****0004%2Fx', sensitive: ['card'] },
  { name: 'a card after a run of escapes (%C3%A9 is é)', path: '/p/caf%C3%A9%204111111111111111', out: '/p/caf%C3%A9%20****1111', sensitive: ['card'] },
  {
    name: '%20 and %2D between the digit groups: the space and dash they encode, a card',
    path: '/p/4111%201111%201111%201111?d=4111%2D1111%2d1111-1111',
    out: '/p/****1111?d=****1111',
    sensitive: ['card'],
  },
  { name: '+ between the digit groups of a query value: a space, a card', path: '/p?q=4111+1111+1111+1111', out: '/p?q=****1111', sensitive: ['card'] },
];

for (const c of encodedTable) {
  void t.test(`percent-encoded: ${c.name}`, async (t) => {
    const r = maskRecord({ path: c.path, redacted: [], sensitive: [] });
    t.equal(r.path, c.out);
    t.same(r.redacted, ['path']);
    t.same([...r.sensitive].sort(), [...c.sensitive].sort());
  });
}

void t.test('percent-encoded: ordinary text, non-Luhn numbers and the escapes themselves stay', async (t) => {
  for (const path of [
    '/p/%2F4111111111111112',
    '/p/card%204111111111111112?q=card%204111111111111112',
    '/orders/1700000000004?ts=1700000000004%20ms',
    '/p/%20%20%20%20%20%20%20%20%20%20%20%20%20%20',
    '/p/%2520%2520%2520%2520%2520%2520%2520',
    // `+` is a space in a query, not in a path.
    '/p/4111+1111+1111+1111',
    // `%2e` is an escape holding the token's `e`: no token starts inside an escape.
    `/p/x%2${ECHO_JWT}`,
    // `.` right before the digits still blocks a card start (a decimal fraction).
    '/p/v%20.4111111111111111',
    '/p/100%25',
    '/p/bad%2',
  ]) {
    const r = maskRecord({ path, redacted: [], sensitive: [] });
    t.equal(r.path, path, path);
    t.same([r.redacted, r.sensitive], [[], []], `${path}: nothing found`);
  }
});

void t.test('percent-encoded: e-mails start after the escape, not before it', async (t) => {
  const policy = resolveMaskPolicy({ maskEmails: true });
  const r = maskRecord({ path: '/notify?to=mail%20bob@example.com&cc=%22ann@example.org%22', redacted: [], sensitive: [] }, policy);
  t.equal(r.path, '/notify?to=mail%20****&cc=%22****%22');
  t.same(r.sensitive, ['email']);
  // An escape of a local-part character is part of the address.
  t.equal(maskText('to %41lice@example.com', policy, () => {}), 'to ****');
});

void t.test('percent-encoded header values: the grpc-message trailer, a card in a header', async (t) => {
  const trailer = `sku%20%22tok%20${ECHO_JWT}%22%20is%20not%20stocked`;
  const r = maskRecord({
    request: msg({ 'x-note': 'card%204111111111111111' }),
    response: { ...msg({}), trailers: { 'grpc-status': '5', 'grpc-message': trailer } },
  });
  t.equal(r.request?.headers['x-note'], 'card%20****1111');
  t.equal(r.response?.trailers?.['grpc-message'], 'sku%20%22tok%20****%22%20is%20not%20stocked');
  t.equal(r.response?.trailers?.['grpc-status'], '5');
  t.same(r.redacted, ['request.headers.x-note', 'response.trailers.grpc-message']);
  t.same([...r.sensitive].sort(), ['card', 'jwt']);
});

void t.test('grpc_message and error_detail go through the text detectors', async (t) => {
  const jwt = maskRecord({ protocol: 'grpc', grpc_message: `sku "tok ${ECHO_JWT}" is not stocked`, redacted: [], sensitive: [] });
  t.equal(jwt.grpc_message, 'sku "tok ****" is not stocked');
  t.same(jwt.redacted, ['grpc_message']);
  t.same(jwt.sensitive, ['jwt']);

  const card = maskRecord({ protocol: 'grpc', grpc_message: 'sku "card 4111111111111111" is not stocked', redacted: [], sensitive: [] });
  t.equal(card.grpc_message, 'sku "card ****1111" is not stocked');
  t.same(card.redacted, ['grpc_message']);
  t.same(card.sensitive, ['card']);

  const detail = maskRecord({ protocol: 'http', error_detail: `upstream said: bad token ${ECHO_JWT} for postgres://shop:pw-9f2@db/x`, redacted: [], sensitive: [] });
  t.equal(detail.error_detail, 'upstream said: bad token **** for postgres://shop:****@db/x');
  t.same(detail.redacted, ['error_detail']);
  t.same([...detail.sensitive].sort(), ['jwt', 'url_password']);

  // A session's own findings are kept, and a path it already listed is not repeated.
  const sql = maskRecord({ protocol: 'postgres', error_detail: 'Key (id)=(5500000000000004) already exists. ****', redacted: ['error_detail'], sensitive: ['password'] });
  t.equal(sql.error_detail, 'Key (id)=(****0004) already exists. ****');
  t.same(sql.redacted, ['error_detail']);
  t.same(sql.sensitive, ['password', 'card']);

  const custom = resolveMaskPolicy({ maskCards: false, patterns: ['literal:sku-77'] });
  const reported = maskRecord({ grpc_message: 'card 4111111111111111 for sku-77', redacted: [], sensitive: [] }, custom);
  t.equal(reported.grpc_message, 'card 4111111111111111 for ****', 'cards off: the card is reported, the pattern masked');
  t.same(reported.redacted, ['grpc_message']);
  t.same([...reported.sensitive].sort(), ['card', 'pattern']);

  const off = maskRecord({ grpc_message: 'card 4111111111111111', redacted: [], sensitive: [] }, resolveMaskPolicy({ enabled: false }));
  t.equal(off.grpc_message, 'card 4111111111111111', 'masking off: shipped as it is');

  const plain = { protocol: 'grpc', grpc_message: 'order not found: o-1 (1700000000004)', error_detail: 'GOAWAY NO_ERROR (last stream 5)', redacted: [], sensitive: [] };
  t.equal(maskRecord(plain), plain, 'nothing found: the record itself');
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
    name: 'form-urlencoded: secrets after %20, cards with + or %20 between their groups',
    body: `q=card%205500000000000004&t=tok%20${JWT}&n=4111+1111+1111+1111&m=4111%201111%201111%201111&id=%2F4111111111111112`,
    ct: 'application/x-www-form-urlencoded',
    out: 'q=card%20****0004&t=tok%20****&n=****1111&m=****1111&id=%2F4111111111111112',
    redacted: ['request.body'],
    sensitive: ['card', 'jwt'],
  },
  {
    name: 'plain text: + between digit groups is no separator there',
    body: 'dial 4111+1111+1111+1111 or card%204111111111111111',
    ct: 'text/plain',
    out: 'dial 4111+1111+1111+1111 or card%20****1111',
    redacted: ['request.body'],
    sensitive: ['card'],
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
  t.equal(cardDigits('4111%201111%201111%201111'), '4111111111111111', 'encoded spaces between the groups');
  t.equal(cardDigits('4111%2D1111%2d1111+1111'), '4111111111111111', 'encoded dashes, a plus');
  t.equal(cardDigits('4111%2F1111%2F1111%2F1111'), undefined, 'an encoded / is no separator');
});

void t.test('card candidates around percent-escapes', async (t) => {
  const spans = (s: string, plus = false) => findCardCandidates(s, plus).map((x) => s.slice(x.start, x.end));
  t.same(spans('card%204111111111111111'), ['4111111111111111'], 'the escape\'s hex digits do not join the run');
  t.same(spans('x%404111111111111111%40'), ['4111111111111111'], '%40 (@) before and after');
  t.same(spans('4111%201111%201111%201111 and 4111 1111'), ['4111%201111%201111%201111'], 'an encoded space is one separator');
  t.same(spans('4111%20%201111%201111%201111'), [], 'two encoded spaces are two separators: no card');
  t.same(spans('%2E4111111111111111'), ['4111111111111111'], 'any escape is a separator, an encoded . too');
  t.same(spans('%334111111111111111'), ['4111111111111111'], 'and an encoded digit');
  t.same(spans('.4111111111111111'), [], 'a plain . blocks the start, as before');
  t.same(spans('4111+1111+1111+1111'), [], '+ is no separator in plain text');
  t.same(spans('4111+1111+1111+1111', true), ['4111+1111+1111+1111'], 'and a space in a query or form');
});

void t.test('JWT starts around percent-escapes', async (t) => {
  const starts = (s: string) => findJwts(s).map((x) => s.slice(x.start, x.end));
  t.same(starts(`tok%20${JWT}%22`), [JWT], 'after an encoded space, up to the encoded quote');
  t.same(starts(`a%2c${JWT}`), [JWT], 'after an encoded comma (lower-case hex)');
  t.same(starts(`a%41${JWT}`), [JWT], 'after any escape');
  t.same(starts(`a%2${JWT}`), [], 'after a cut escape: inside a word');
  t.same(starts(`x${JWT}`), [], 'after a letter, as before');
});

/** `n` digits, the last one making the number pass Luhn. */
function luhnCard(prefix: string, body: number[]): string {
  const partial = prefix + body.join('');
  for (let d = 0; d <= 9; d++) if (luhnValid(partial + d)) return partial + d;
  throw new Error('unreachable');
}

void t.test('property: URL-encoded text hides what the plain text hides, escapes left whole', async () => {
  const b64url = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 8, maxLength: 40 });
  const secret = fc.oneof(
    fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 }).map((body) => ({ kind: 'card', text: luhnCard('4', body) })),
    fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), b64url).map(([sub, sig]) => ({
      kind: 'jwt',
      text: `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ sub })).toString('base64url')}.${sig}`,
    })),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), secret, fc.string({ maxLength: 30 }), fc.boolean(), (pre, s, post, form) => {
      const encoded = encodeURIComponent(`${pre} "${s.text}" ${post}`);
      const kinds: string[] = [];
      const masked = maskText(encoded, DEFAULT_MASK_POLICY, (k) => kinds.push(k), false, form);
      const hidden = s.kind === 'card' ? s.text.slice(0, 12) : s.text;
      if (masked.includes(hidden) || !kinds.includes(s.kind)) return false;
      if (!masked.includes(`%20%22****${s.kind === 'card' ? s.text.slice(-4) : ''}%22%20`)) return false;
      // No mask cut an escape in half.
      decodeURIComponent(masked);
      return true;
    }),
    { numRuns: 500 },
  );
});

void t.test('property: URL-encoded text without digits comes back as it was', async () => {
  const noDigits = fc.string({ unit: fc.constantFrom(...'abcXYZ é/?:#[]@!$&\'()*+,;="<>%{}|\\^`~-_.'), maxLength: 80 });
  fc.assert(
    fc.property(noDigits, fc.boolean(), (text, form) => {
      const encoded = encodeURIComponent(text);
      let found = 0;
      return maskText(encoded, DEFAULT_MASK_POLICY, () => found++, false, form) === encoded && found === 0;
    }),
    { numRuns: 500 },
  );
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
