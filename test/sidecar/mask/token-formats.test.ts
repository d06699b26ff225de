/**
 * What a review sent through the lab and found left in clear, masked by default: the
 * `Authentication` header (a misspelling of `Authorization` real APIs use), a `bearer` key, the
 * credentials after `Bearer` in free text, and tokens of known formats (GitHub, Slack, AWS
 * access key ids) wherever text is scanned. Each is found wherever the other text detectors
 * find theirs (percent-escapes, JSON escapes, binary and multipart bodies, a body cut at the
 * end), and ordinary text that merely looks like one stays as it is.
 */
import t from 'tap';
import { collectorMessageType, recordBatchEncoder, recordToProto } from '../../../record/codec.ts';
import type { CallRecord } from '../../../record/record.ts';
import { paymentCallRecord } from '../../proto/record-fixtures.ts';
import { chunkedThroughEngine } from './through-engine.ts';
import { bodyMayHoldSecret } from '../../../sidecar/mask/body-prefilter.ts';
import { scanTriggers } from '../../../sidecar/mask/detectors.ts';
import { maskJson, type JsonFinding } from '../../../sidecar/mask/json-mask.ts';
import { keyFamily, mayNameFamily } from '../../../sidecar/mask/key-families.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { findBearerTokens, findCutToken, findPrefixedTokens } from '../../../sidecar/mask/token-formats.ts';
import { bodyOf, masked, message } from './text-kit.ts';

/** 36 letters and digits: a classic GitHub token's body (made up). */
const GH_BODY = 'x7Gq2Lm9Pz4Rt6Vw8Yb1Nc3Kd5Hf0Js2Qa4W';
const GH = `ghp_${GH_BODY}`;
const GH_PAT = `github_pat_11AB2CD3E4_${'aB3dE5gH7jK9mN1pQ3sT5vW7yZ9'.repeat(2)}x4k`;
const SLACK = 'xoxb-2468013579-1357924680135-AbCdEfGhIjKlMnOpQrStUvWx';
const AWS = 'AKIAIOSFODNN7EXAMPLE';
const AWS_STS = 'ASIAQ3EXAMPLE7KEY2';



void t.test('the test values have the shapes the formats have', async (t) => {
  t.equal(GH_BODY.length, 36);
  t.ok(/^github_pat_[A-Za-z0-9_]{22,}$/.test(GH_PAT));
  t.equal(AWS.length, 20);
  t.equal(`${AWS_STS}AB`.length, 20);
});

void t.test("the review's record: every value it found in clear is masked, and nothing of it is shipped", async (t) => {
  const json = JSON.stringify({
    bearer: 'JB-bearer-7f3a',
    access_token: 'AT-9c1d',
    refresh_token: 'RT-2e4f',
    client_secret: 'CS-6a8b',
    api_key: 'AK-0c2d',
    apikey: 'AK-4e6f',
    log: 'GET /v1/orders 200; upstream sent Bearer LOG-bearer-5e6f after retry',
    ci: `GITHUB_TOKEN=${GH} SLACK=${SLACK}`,
    aws: AWS,
    user: 'jane-visible',
  });
  const record: CallRecord = paymentCallRecord({
    path: `/v1/hooks?note=Bearer%20QRY-bearer-1a2b&page=2`,
    request: message(json, 'application/json', {
      authentication: 'Bearer opaque-AUTHN-8a9b',
      'x-auth-token': 'XAT-3c4d',
      'x-access-token': 'XACT-5e6f',
      'x-debug': 'retried with Bearer HDR-bearer-7a8b',
      host: 'auth.shop:8080',
    }),
    response: message(`deploy key ${GH_PAT} and ${AWS_STS}AB rotated`, 'text/plain'),
    error_detail: `upstream refused Bearer ERR-bearer-9c0d`,
  });
  const out = maskRecord(record);
  const encoded = recordBatchEncoder()({ seq: 1, sidecar: null, records: [recordToProto(out)] });
  const secrets = [
    'opaque-AUTHN-8a9b', 'XAT-3c4d', 'XACT-5e6f', 'HDR-bearer-7a8b', 'JB-bearer-7f3a', 'AT-9c1d', 'RT-2e4f', 'CS-6a8b', 'AK-0c2d', 'AK-4e6f',
    'LOG-bearer-5e6f', GH_BODY, SLACK.slice(5), AWS, GH_PAT.slice(11), AWS_STS, 'QRY-bearer-1a2b', 'ERR-bearer-9c0d',
  ];
  const raw = recordBatchEncoder()({ seq: 1, sidecar: null, records: [recordToProto(record)] });
  for (const s of secrets) {
    t.ok(raw.includes(Buffer.from(s)), `"${s}" is in the record before masking`);
    t.notOk(encoded.includes(Buffer.from(s)), `"${s}" is not in the encoded record`);
  }
  t.same(out.request?.headers, {
    authentication: 'Bearer ****',
    'x-auth-token': '****',
    'x-access-token': '****',
    'x-debug': 'retried with Bearer ****',
    host: 'auth.shop:8080',
  });
  t.same(JSON.parse(bodyOf(out.request)), {
    bearer: '****',
    access_token: '****',
    refresh_token: '****',
    client_secret: '****',
    api_key: '****',
    apikey: '****',
    log: 'GET /v1/orders 200; upstream sent Bearer **** after retry',
    ci: 'GITHUB_TOKEN=**** SLACK=****',
    aws: '****',
    user: 'jane-visible',
  });
  t.equal(bodyOf(out.response), 'deploy key **** and **** rotated');
  t.equal(out.path, '/v1/hooks?note=Bearer%20****&page=2');
  t.equal(out.error_detail, 'upstream refused Bearer ****');
  t.same(
    [...out.redacted].sort(),
    [
      'error_detail',
      'path',
      'request.body.$.access_token',
      'request.body.$.api_key',
      'request.body.$.apikey',
      'request.body.$.aws',
      'request.body.$.bearer',
      'request.body.$.ci',
      'request.body.$.client_secret',
      'request.body.$.log',
      'request.body.$.refresh_token',
      'request.headers.authentication',
      'request.headers.x-access-token',
      'request.headers.x-auth-token',
      'request.headers.x-debug',
      'response.body',
    ],
  );
  t.same([...out.sensitive].sort(), ['api_key', 'authorization', 'aws_key_id', 'bearer_token', 'github_token', 'secret', 'slack_token', 'token']);
});

void t.test('a form body and a query: the bearer key is a field like access_token', async (t) => {
  const r = maskRecord({
    path: '/cb?bearer=QB-1a&state=visible-s',
    request: message('bearer=FB-2b&client_id=visible-client&note=Bearer+FORM-bearer-3c', 'application/x-www-form-urlencoded'),
    redacted: [],
    sensitive: [],
  });
  t.equal(r.path, '/cb?bearer=****&state=visible-s');
  t.equal(bodyOf(r.request), 'bearer=****&client_id=visible-client&note=Bearer+****');
  t.same([...r.redacted].sort(), ['path.query.bearer', 'request.body', 'request.body.bearer']);
  t.same([...r.sensitive].sort(), ['bearer_token', 'token']);
});

void t.test('Authentication is masked as Authorization is: the scheme kept, whatever the policy', async (t) => {
  for (const [name, policy] of [
    ['default', DEFAULT_MASK_POLICY],
    ['keyFamilies: false', resolveMaskPolicy({ keyFamilies: false })],
  ] as const) {
    const r = maskRecord(
      {
        request: message(JSON.stringify({ bearer: 'JB-1', authentication: 'JA-2', keep: 'visible' }), 'application/json', {
          Authentication: 'Basic dXNlcjpwYXNz',
          'X-Auth-Token': 'XAT-1',
          'X-Access-Token': 'XACT-2',
          'x-authentication-method': 'oauth2-visible',
        }),
        redacted: [],
        sensitive: [],
      },
      policy,
    );
    t.same(
      r.request?.headers,
      { Authentication: 'Basic ****', 'X-Auth-Token': '****', 'X-Access-Token': '****', 'x-authentication-method': 'oauth2-visible' },
      `${name}: headers`,
    );
    t.equal(bodyOf(r.request), '{"bearer":"****","authentication":"****","keep":"visible"}', `${name}: JSON keys`);
    t.same([...r.sensitive].sort(), ['authorization', 'token'], name);
  }
  for (const key of ['bearer', 'Bearer', 'bearerToken', 'x-bearer', 'authentication', 'Authentication', 'x-authentication']) {
    t.ok(keyFamily(key), `${key} is in a family`);
    t.ok(mayNameFamily(key), `the prefilter passes ${key}`);
  }
  t.equal(keyFamily('authentication'), 'authorization');
  t.equal(keyFamily('bearer'), 'token');
  // Names that describe the scheme rather than hold credentials (OpenAPI's `bearerFormat`).
  for (const key of ['bearerFormat', 'bearer_type', 'authentication_method', 'authentication_required', 'www-authenticate', 'authenticated', 'bearers']) {
    t.equal(keyFamily(key), undefined, key);
  }
});

void t.test('the credentials after Bearer in free text: masked, the word kept', async (t) => {
  const cases: Array<[string, string, boolean?]> = [
    ['Bearer abc123', 'Bearer ****'],
    ['bearer abc123', 'bearer ****'],
    ['BEARER abc123', 'BEARER ****'],
    ['sent Bearer  opaque-token-1 twice', 'sent Bearer  **** twice'],
    ['(Bearer abcDEFghi)', '(Bearer ****)'],
    ['"Bearer abc123=="', '"Bearer ****"'],
    ['x="Bearer abcDEFghiJKL="', 'x="Bearer ****"'],
    ['Bearer dGVzdA==', 'Bearer ****'],
    ['Bearer a.b/c+d~e_f-g', 'Bearer ****'],
    ['expired: Bearer abc123.', 'expired: Bearer ****.'],
    ['Bearer YOUR_TOKEN', 'Bearer ****'],
    ['a,Bearer abc123,b', 'a,Bearer ****,b'],
    // URL-encoded text: `%20` is the space, the escapes of token68 characters are the token's.
    ['/p/Bearer%20abc123;x', '/p/Bearer%20****;x'],
    ['/p/Bearer%20abc%2Fdef%3D%3D%22', '/p/Bearer%20****%22'],
    ['%22Bearer%20abc123%22', '%22Bearer%20****%22'],
    ['q=Bearer+abc123&x=1', 'q=Bearer+****&x=1', true],
    // `+` is a space in a query or a form: it ends the credentials there.
    ['q=Bearer%20abc123+def', 'q=Bearer%20****+def', true],
  ];
  for (const [text, out, form] of cases) {
    const m = masked(text, DEFAULT_MASK_POLICY, form === true);
    t.equal(m.out, out, text);
    t.same(m.kinds, ['bearer_token'], `${text}: bearer_token`);
  }
  // Under a key the pair is the key's, and a JWT or a token of a known format is what it is.
  t.same(masked('Authorization: Bearer abc123'), { out: 'Authorization: Bearer ****', kinds: ['authorization'] });
  t.same(masked('token: Bearer abc123'), { out: 'token: Bearer ****', kinds: ['token'] });
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
  t.same(masked(`sent Bearer ${jwt}`), { out: 'sent Bearer ****', kinds: ['jwt'] });
  t.same(masked(`sent Bearer ${GH}`), { out: 'sent Bearer ****', kinds: ['github_token'] });
  t.same(masked('sent Bearer ****'), { out: 'sent Bearer ****', kinds: [] }, 'already masked');
  t.same(masked('Bearer abc123 and bearer def456'), { out: 'Bearer **** and bearer ****', kinds: ['bearer_token', 'bearer_token'] });
});

void t.test('Bearer then a tab, or several spaces and tabs: the credentials masked as after one space', async (t) => {
  const cases: Array<[string, string, boolean?]> = [
    ['sent Bearer\tabc123 twice', 'sent Bearer\t**** twice'],
    ['bearer\t\tabc123', 'bearer\t\t****'],
    ['BEARER \t  abc123', 'BEARER \t  ****'],
    ['upstream\tBearer\tdGVzdA==\t200', 'upstream\tBearer\t****\t200'],
    ['/p/Bearer%09abc123;x', '/p/Bearer%09****;x'],
    ['q=Bearer%09+abc123&x=1', 'q=Bearer%09+****&x=1', true],
  ];
  for (const [text, out, form] of cases) {
    const m = masked(text, DEFAULT_MASK_POLICY, form === true);
    t.equal(m.out, out, JSON.stringify(text));
    t.same(m.kinds, ['bearer_token'], `${JSON.stringify(text)}: bearer_token`);
  }
  // Under a key the credentials after the scheme and its blanks are the key's; the scheme stays.
  t.same(masked('Authorization: Bearer\tabc123'), { out: 'Authorization: Bearer\t****', kinds: ['authorization'] });
  t.same(masked('token=Bearer  \tabc123 next'), { out: 'token=Bearer  \t**** next', kinds: ['token'] });
  // Prose, a line break, and a tab before nothing that looks like credentials stay.
  for (const text of ['the bearer\tof this card', 'Bearer\nabc123', 'Bearer\r\nabc123', 'Bearer\t<token>', 'Bearer\t\tauthentication']) {
    t.same(masked(text), { out: text, kinds: [] }, JSON.stringify(text));
  }
  // A body with no space, `_`, `x`, `A` or digit: the prefilter must still pass it for the tab.
  const body = 'Bearer\tbcdEFGhijk';
  t.ok(bodyMayHoldSecret(Buffer.from(body), DEFAULT_MASK_POLICY), 'the body prefilter passes a tab');
  const r = maskRecord({ request: message(body, 'text/plain') });
  t.equal(bodyOf(r.request), 'Bearer\t****');
  t.same(r.sensitive, ['bearer_token']);
  const json = maskRecord({ request: message(JSON.stringify({ log: 'GET /v1 200\tBearer\tLOG-tab-5e6f\tok' }), 'application/json') });
  t.same(JSON.parse(bodyOf(json.request)), { log: 'GET /v1 200\tBearer\t****\tok' }, 'a tab-separated log line in a JSON value');
  t.same([json.redacted, json.sensitive], [['request.body.$.log'], ['bearer_token']]);
  // Cut at the end: `Bearer`, a tab and the start of the credentials.
  const cut = maskRecord({ request: message('sent Bearer\tab', 'text/plain', {}, true) });
  t.equal(bodyOf(cut.request), 'sent Bearer\t****');
  t.same(findCutToken('x Bearer%09ab'), { start: 11, kind: 'bearer_token' });
});

void t.test('words holding bearer, prose, and challenges stay as they are', async (t) => {
  const kept = [
    'the bearer of this card is 42 years old',
    'standard-bearer abc123 and torch_bearer abc123',
    'forbearer abc123, bearers abc123, Bearerabc123',
    "the Bearer's token 12",
    'use Bearer authentication for /v1',
    'bearer tokens expire; Bearer Token; Bearer scheme',
    'Bearer realm="shop-visible"',
    'Bearer error="invalid_token", error_description="The access token expired"',
    'Bearer realm=example, scope=read',
    'Bearer <token>, Bearer $TOKEN, Bearer ${TOKEN}, Bearer {{token}}',
    'Bearer\n',
    'BeArEr abc123',
  ];
  for (const text of kept) t.same(masked(text), { out: text, kinds: [] }, text);
  const r = maskRecord({
    request: message(JSON.stringify({ token_type: 'Bearer', scheme: 'bearer', bearerFormat: 'JWT', note: 'the bearer of this card' }), 'application/json', {
      'user-agent': 'bearer-client/2.0',
    }),
    response: message('', 'text/plain', { 'www-authenticate': 'Bearer realm="shop", error="invalid_token"' }),
    redacted: [],
    sensitive: [],
  });
  t.same([r.redacted, r.sensitive], [[], []]);
});

void t.test('tokens of known formats: masked whole, each with its kind', async (t) => {
  const cases: Array<[string, string]> = [
    [GH, 'github_token'],
    [`gho_${GH_BODY}`, 'github_token'],
    [`ghu_${GH_BODY}`, 'github_token'],
    [`ghs_${GH_BODY}`, 'github_token'],
    [`ghr_${GH_BODY}`, 'github_token'],
    [`ghp_${GH_BODY}Zz9`, 'github_token'],
    [GH_PAT, 'github_token'],
    [SLACK, 'slack_token'],
    ['xoxp-1234567890-0987654321', 'slack_token'],
    ['xoxa-2-abcdefghij', 'slack_token'],
    ['xoxr-abc-def-ghi-jkl', 'slack_token'],
    ['xoxs-0123456789', 'slack_token'],
    [AWS, 'aws_key_id'],
    [`${AWS_STS}AB`, 'aws_key_id'],
    ['AKIA1234567890123456', 'aws_key_id'],
  ];
  for (const [token, kind] of cases) {
    for (const [text, out] of [
      [token, '****'],
      [`key ${token} end`, 'key **** end'],
      [`"${token}",`, '"****",'],
      [`X=${token};`, 'X=****;'],
    ]) {
      const m = masked(text);
      t.equal(m.out, out, text);
      t.same(m.kinds, [kind], `${text}: ${kind}`);
    }
  }
  // Slack: a dash ending the run ends the sentence.
  t.equal(masked('use xoxb-123-456-abcdef-.').out, 'use ****-.');
});

void t.test('where a token starts and ends: a word, escapes, neighbours', async (t) => {
  const cases: Array<[string, string]> = [
    // Right after a percent-escape, as JWTs and cards are.
    [`tok%20${GH}`, 'tok%20****'],
    [`a%2C${AWS}%2C`, 'a%2C****%2C'],
    [`%22${SLACK}%22`, '%22****%22'],
    // After punctuation, a dash or a slash.
    [`a-${GH}`, 'a-****'],
    [`/keys/${AWS}/rotate`, '/keys/****/rotate'],
    [`(${AWS})`, '(****)'],
    // Two in a row.
    [`${AWS},${AWS_STS}AB ${GH}`, '****,**** ****'],
    // Inside a word: no start.
    [`x${GH}`, `x${GH}`],
    [`a_${GH}`, `a_${GH}`],
    [`x${AWS}`, `x${AWS}`],
    [`9${AWS}`, `9${AWS}`],
    // An AWS key id is 16 characters after its prefix, then the word ends.
    [`${AWS}X`, `${AWS}X`],
    [`${AWS}x`, `${AWS}x`],
    [`${AWS}_1`, `${AWS}_1`],
    [AWS.slice(0, 19), AWS.slice(0, 19)],
    // Too short for its format.
    [`ghp_${GH_BODY.slice(1)}`, `ghp_${GH_BODY.slice(1)}`],
    ['github_pat_short_one', 'github_pat_short_one'],
    ['xoxb-12345', 'xoxb-12345'],
    // Prefixes in another case are not the formats'.
    [`GHP_${GH_BODY}`, `GHP_${GH_BODY}`],
    [AWS.toLowerCase(), AWS.toLowerCase()],
  ];
  for (const [text, out] of cases) t.equal(masked(text).out, out, text);
  const spans = (s: string): string[] => findPrefixedTokens(s).map((x) => `${x.kind}:${s.slice(x.start, x.end)}`);
  t.same(spans(`a ${GH} b ${SLACK}`), [`github_token:${GH}`, `slack_token:${SLACK}`]);
  t.same(spans(`${AWS}${AWS}`), [], 'a run of 32 after the prefix');
  t.same(
    findBearerTokens('Bearer abc123 x Bearer def456').map((x) => x.kind),
    ['bearer_token', 'bearer_token'],
  );
});

void t.test('ordinary text: hex ids, base64 blobs, UUIDs, hosts, identifiers stay', async (t) => {
  const kept = [
    '550e8400-e29b-41d4-a716-446655440000',
    'deadbeefcafebabe0123456789abcdef0123456789abcdef',
    'QUtJQUlPU0ZPRE5ON0VYQU1QTEU=',
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
    'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPJAKIAIOSFODNN7EXAMPLE',
    'auth.shop:8080',
    'thighs_and_weighs_abcdefghijklmnopqrstuvwxyz0123456789AB',
    'laugh_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
    'xoxo-hugs and kisses from the shop',
    'AKIA is the prefix of an access key id; ASIA of a temporary one',
    'github_pat_ and ghp_ are prefixes',
    'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  ];
  for (const text of kept) t.same(masked(text), { out: text, kinds: [] }, text);
  const r = maskRecord({
    path: '/v1/items/550e8400-e29b-41d4-a716-446655440000?etag=deadbeefcafebabe0123456789abcdef',
    request: message(JSON.stringify({ id: '550e8400-e29b-41d4-a716-446655440000', blob: 'QUtJQUlPU0ZPRE5ON0VYQU1QTEU=', note: 'xoxo-hugs' }), 'application/json', {
      host: 'auth.shop:8080',
      'x-request-id': '2f1c9a4e-8b7d-4c3a-9e1f-5a6b7c8d9e0f',
    }),
    redacted: [],
    sensitive: [],
  });
  t.same([r.redacted, r.sensitive], [[], []]);
});

void t.test('a sensitive header reports the token it holds, not a bearer_token', async (t) => {
  const r = maskRecord({ request: message('', undefined, { authorization: `Bearer ${GH}`, 'proxy-authorization': 'Bearer abc123' }), redacted: [], sensitive: [] });
  t.same(r.request?.headers, { authorization: 'Bearer ****', 'proxy-authorization': 'Bearer ****' });
  t.same([...r.sensitive].sort(), ['authorization', 'github_token']);
});

void t.test('JSON string values read through their escapes', async (t) => {
  const doc = `{"a":"sent Bearer\\u0020abc123 ok","b":"tok\\n${GH}","c":"\\"${AWS}\\"","d":"Bearer\\u0020abc\\/def+1"}`;
  const r = maskRecord({ request: message(doc, 'application/json'), redacted: [], sensitive: [] });
  const out = bodyOf(r.request);
  t.equal(out, '{"a":"sent Bearer\\u0020**** ok","b":"tok\\n****","c":"\\"****\\"","d":"Bearer\\u0020****"}');
  t.same(JSON.parse(out), { a: 'sent Bearer **** ok', b: 'tok\n****', c: '"****"', d: 'Bearer ****' }, 'still JSON');
  t.same([...r.sensitive].sort(), ['aws_key_id', 'bearer_token', 'github_token']);
});

void t.test('binary bodies byte for byte, multipart parts, WebSocket text messages', async (t) => {
  const bin = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x12]), Buffer.from(`\x0a\x28${GH}\x12\x06Bearer abc123\x1a\x14${AWS}`), Buffer.from([0xc3])]);
  const b = maskRecord({ response: message(bin, 'application/x-protobuf'), redacted: [], sensitive: [] });
  const out = Buffer.from(b.response?.body ?? []);
  t.equal(out.length, bin.length, 'same length');
  t.equal(out.subarray(4).toString('latin1'), `\x0a\x28${'*'.repeat(GH.length)}\x12\x06Bearer ******\x1a\x14${'*'.repeat(20)}\xc3`);
  t.same([...b.sensitive].sort(), ['aws_key_id', 'bearer_token', 'github_token']);

  const body = `--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nsee Bearer abc123 and ${SLACK}\r\n--b--\r\n`;
  const mp = maskRecord({ request: message(body, 'multipart/form-data; boundary=b'), redacted: [], sensitive: [] });
  t.equal(bodyOf(mp.request), '--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nsee Bearer **** and ****\r\n--b--\r\n');
  t.same([...mp.sensitive].sort(), ['bearer_token', 'slack_token']);

  const ws = maskRecord({ request: message(`{"op":"auth","token":"x"} Bearer abc123`, 'text/plain; charset=utf-8'), redacted: [], sensitive: [] });
  t.equal(bodyOf(ws.request), '{"op":"auth","token":"****"} Bearer ****');
});

void t.test('a body cut short at the start of a token: masked as what it starts', async (t) => {
  const cuts: Array<[string, string, string]> = [
    [`note ${GH.slice(0, 12)}`, 'note ****', 'github_token'],
    [`note ${GH.slice(0, 5)}`, 'note ****', 'github_token'],
    [`x=${GH.slice(0, 39)}`, 'x=****', 'github_token'],
    [`note ${GH_PAT.slice(0, 20)}`, 'note ****', 'github_token'],
    [`note ${SLACK.slice(0, 9)}`, 'note ****', 'slack_token'],
    [`note ${AWS.slice(0, 11)}`, 'note ****', 'aws_key_id'],
    [`{"k":"${AWS.slice(0, 19)}`, '{"k":"****', 'aws_key_id'],
    [`tok%20${GH.slice(0, 8)}`, 'tok%20****', 'github_token'],
    ['sent Bearer a', 'sent Bearer ****', 'bearer_token'],
    ['sent Bearer abcDEF12', 'sent Bearer ****', 'bearer_token'],
    ['/p?q=Bearer%20ab%2F', '/p?q=Bearer%20****', 'bearer_token'],
  ];
  for (const [text, out, kind] of cuts) {
    const r = maskRecord({ request: message(text, 'text/plain', {}, true), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), out, text);
    t.same([r.redacted, r.sensitive], [['request.body'], [kind]], `${text}: ${kind}`);
  }
  const form = maskRecord({ request: message('a=1&note=Bearer+ab', 'application/x-www-form-urlencoded', {}, true), redacted: [], sensitive: [] });
  t.equal(bodyOf(form.request), 'a=1&note=Bearer+****', '+ is a space in a form');
  const kept: Array<[string, boolean]> = [
    // Not cut: a body may end in anything.
    [`note ${GH.slice(0, 12)}`, false],
    ['sent Bearer a', false],
    // Cut, but no start at the end, a prefix alone, or a prefix inside a word.
    [`${GH.slice(0, 12)} and more`, true],
    ['note ghp_', true],
    ['note AKIA', true],
    ['sent Bearer ', true],
    [`wghp_${GH_BODY.slice(0, 8)}`, true],
    [`x${AWS.slice(0, 12)}`, true],
    // Longer than a whole one: no key id.
    [`${AWS}X`, true],
    ['standard-bearer abc', true],
  ];
  for (const [text, truncated] of kept) {
    const r = maskRecord({ request: message(text, 'text/plain', {}, truncated), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), text, `${text} (${truncated ? 'cut' : 'whole'})`);
    t.same(r.sensitive, [], `${text}: nothing found`);
  }
  // The scan budget cuts a body the same way.
  const budget = resolveMaskPolicy({ scanBudgetBytes: 14 });
  const b = maskRecord({ request: message(`{"n":"${GH}"}`, 'application/json'), redacted: [], sensitive: [] }, budget);
  t.equal(bodyOf(b.request), '{"n":"****');
  t.same(b.sensitive, ['github_token']);
  t.same(findCutToken('x AKIAAB'), { start: 2, kind: 'aws_key_id' });
  t.same(findCutToken('x Bearer%20ab', true), { start: 11, kind: 'bearer_token' });
});

void t.test('found without any other trigger: no digit, no quote, no colon, no e-mail detection', async (t) => {
  const policy = resolveMaskPolicy({ detectEmails: false });
  const letters = 'xGqLmPzRtVwYbNcKdHfJsQaWeRtYuIoPaSdF';
  const bodies: Array<[string, string]> = [
    ['sent Bearer abcDEFghiJKL now', 'sent Bearer **** now'],
    [`tok ghp_${letters}`, 'tok ****'],
    [`tok xoxb-abcdefghij-klmnop`, 'tok ****'],
    [`tok AKIAIOSFODNNSEXAMPLE`, 'tok ****'],
  ];
  for (const [text, out] of bodies) {
    t.ok(bodyMayHoldSecret(Buffer.from(text), policy), `the body prefilter passes ${text}`);
    const r = maskRecord({ request: message(text, 'text/plain') }, policy);
    t.equal(bodyOf(r.request), out, `plain text body: ${text}`);
    const doc = JSON.stringify({ a: text, b: 'plain' });
    const findings: JsonFinding[] = [];
    t.equal(maskJson(doc, policy, findings), JSON.stringify({ a: out, b: 'plain' }), `JSON string value (the scan triggers): ${text}`);
    t.ok(scanTriggers(doc, policy)(6, 6 + text.length), 'a trigger in the value');
  }
  // A body holding none of the tokens' bytes is still skipped, and a value without a start is not cut out.
  t.notOk(bodyMayHoldSecret(Buffer.alloc(1024, 'b'), DEFAULT_MASK_POLICY));
  t.notOk(scanTriggers('{"a":"plain-text-here-b"}', DEFAULT_MASK_POLICY)(6, 23));
});

void t.test('through the capture worker: a chunked body split inside each token, fed in pieces of every size', async (t) => {
  const recordType = collectorMessageType('meshtap.v1.CallRecord');
  const text = `{"log":"sent Bearer chunkedBEARER77 to ${AWS} as ${GH} via ${SLACK}"}`;
  // Chunk boundaries inside the word Bearer, its credentials and each token.
  const cuts = [text.indexOf('Bea') + 2, text.indexOf('chunked') + 4, text.indexOf(AWS) + 3, text.indexOf(GH) + 2, text.indexOf(GH) + 20, text.indexOf(SLACK) + 4];
  // 100 000: the whole request in one piece.
  for (const size of [1, 2, 3, 7, 64, 100_000]) {
    const shipped = chunkedThroughEngine(text, cuts, size);
    t.equal(shipped.length, 1, `pieces of ${size}: one record`);
    const bytes = Buffer.concat(shipped.map((b) => Buffer.from(b)));
    for (const secret of ['chunkedBEARER77', AWS, GH_BODY, SLACK.slice(5)]) t.notOk(bytes.includes(Buffer.from(secret)), `pieces of ${size}: ${secret} is not shipped`);
    const record = recordType.toObject(recordType.decode(shipped[0]), { longs: String }) as { request?: { body: Uint8Array }; sensitive?: string[] };
    t.equal(Buffer.from(record.request?.body ?? []).toString(), '{"log":"sent Bearer **** to **** as **** via ****"}', `pieces of ${size}: the body`);
    t.same([...(record.sensitive ?? [])].sort(), ['aws_key_id', 'bearer_token', 'github_token', 'slack_token'], `pieces of ${size}: the kinds`);
  }
});

/** A Stripe secret key's shape: `sk_live_` and 24 letters and digits (made up). */
const STRIPE = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';
/** A Google API key's shape: `AIza` and 35 of `[A-Za-z0-9_-]` (made up). */
const GOOGLE = 'AIzaSyA1b2C3d4E5f6G7h8I9j0K_l-M3n4O5p6Q';

void t.test('Stripe secret and restricted keys, Google API keys: masked whole, each with its kind', async (t) => {
  t.equal(STRIPE.length, 8 + 24);
  t.equal(GOOGLE.length, 4 + 35);
  const cases: Array<[string, string]> = [
    [STRIPE, 'stripe_key'],
    [`sk_test_${'a1B2'.repeat(6)}`, 'stripe_key'],
    [`rk_live_${'Z9y8'.repeat(6)}`, 'stripe_key'],
    [`rk_test_${'0aA'.repeat(30)}`, 'stripe_key'],
    [GOOGLE, 'google_api_key'],
    [`AIza${'-'.repeat(35)}`, 'google_api_key'],
    [`AIza${'_x'.repeat(17)}9`, 'google_api_key'],
  ];
  for (const [token, kind] of cases) {
    for (const [text, out, form] of [
      [token, '****'],
      [`key ${token} end`, 'key **** end'],
      [`"${token}",`, '"****",'],
      [`X=${token};`, 'X=****;'],
      [`/maps?key=${token}&x=1`, '/maps?key=****&x=1', true],
      [`tok%20${token}%22`, 'tok%20****%22'],
      [`q%3D${token}`, 'q%3D****'],
      [`a-${token}`, 'a-****'],
    ] as Array<[string, string, boolean?]>) {
      const m = masked(text, DEFAULT_MASK_POLICY, form === true);
      t.equal(m.out, out, text);
      t.same(m.kinds, [kind], `${text}: ${kind}`);
    }
  }
  // In a JSON value, a path's query (under a name that is no secret's: `key` is one) and a
  // plain-text body, through the record masker.
  const r = maskRecord({
    path: `/maps/api/geocode/json?address=x&k=${GOOGLE}&x=1`,
    request: message(JSON.stringify({ note: `charged with ${STRIPE}`, g: GOOGLE, keep: 'pk_live_visible' }), 'application/json'),
    response: message(`stripe ${STRIPE} and google ${GOOGLE} rotated`, 'text/plain'),
    redacted: [],
    sensitive: [],
  });
  t.equal(r.path, '/maps/api/geocode/json?address=x&k=****&x=1');
  t.same(JSON.parse(bodyOf(r.request)), { note: 'charged with ****', g: '****', keep: 'pk_live_visible' });
  t.equal(bodyOf(r.response), 'stripe **** and google **** rotated');
  t.same([...r.sensitive].sort(), ['google_api_key', 'stripe_key']);
  const spans = (s: string): string[] => findPrefixedTokens(s).map((x) => `${x.kind}:${s.slice(x.start, x.end)}`);
  t.same(spans(`${STRIPE} ${GOOGLE},${AWS}`), [`stripe_key:${STRIPE}`, `google_api_key:${GOOGLE}`, `aws_key_id:${AWS}`]);
  // A Google key after a `-` ending a longer run that starts like one.
  t.same(spans(`AIzaFoo-${GOOGLE}`), [`google_api_key:${GOOGLE}`]);
  // A Slack token's run ends at the `_` of a Stripe prefix: the spans stay disjoint.
  t.same(spans(`xoxb-1234567890-${STRIPE}`), ['slack_token:xoxb-1234567890-sk']);
});

void t.test('Stripe and Google near-misses stay', async (t) => {
  const kept = [
    // Too short.
    STRIPE.slice(0, -1),
    `sk_test_${'a'.repeat(23)}`,
    // Publishable keys are public, and other letters before `k_` are no prefix.
    'pk_live_4eC39HqLyjWDarjtT1zdp7dc',
    'pk_test_4eC39HqLyjWDarjtT1zdp7dc',
    'ak_live_4eC39HqLyjWDarjtT1zdp7dc',
    '_live_4eC39HqLyjWDarjtT1zdp7dc',
    // Inside a longer word.
    `x${STRIPE}`,
    `a_${STRIPE}`,
    `task_live_4eC39HqLyjWDarjtT1zdp7dc`,
    `x${GOOGLE}`,
    `9${GOOGLE}`,
    // Another case.
    `SK_LIVE_4eC39HqLyjWDarjtT1zdp7dc`,
    `aiza${GOOGLE.slice(4)}`,
    // A Google key is 35 characters after `AIza`, then the word ends.
    GOOGLE.slice(0, -1),
    `${GOOGLE}x`,
    `${GOOGLE}-`,
    `${GOOGLE}_1`,
    `AIza${'b'.repeat(60)}`,
  ];
  for (const text of kept) {
    t.same(masked(text), { out: text, kinds: [] }, text);
    t.same(masked(`see ${text} now`), { out: `see ${text} now`, kinds: [] }, `in a sentence: ${text}`);
  }
});

void t.test('Stripe and Google keys cut at the end of a body, and the prefilters', async (t) => {
  const cuts: Array<[string, string, string]> = [
    [`note ${STRIPE.slice(0, 9)}`, 'note ****', 'stripe_key'],
    [`note ${STRIPE.slice(0, -1)}`, 'note ****', 'stripe_key'],
    [`{"k":"rk_test_ab`, '{"k":"****', 'stripe_key'],
    [`/maps?key=${GOOGLE.slice(0, 5)}`, '/maps?key=****', 'google_api_key'],
    [`x=${GOOGLE.slice(0, -1)}`, 'x=****', 'google_api_key'],
    [`tok%20${GOOGLE.slice(0, 12)}`, 'tok%20****', 'google_api_key'],
  ];
  for (const [text, out, kind] of cuts) {
    const r = maskRecord({ request: message(text, 'text/plain', {}, true), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), out, text);
    t.same([r.redacted, r.sensitive], [['request.body'], [kind]], `${text}: ${kind}`);
  }
  t.same(findCutToken(`x ${STRIPE.slice(0, 10)}`), { start: 2, kind: 'stripe_key' });
  t.same(findCutToken(`x ${GOOGLE.slice(0, 38)}`), { start: 2, kind: 'google_api_key' });
  for (const text of ['note sk_live_', 'note AIza', 'note pk_live_abc', `x${STRIPE.slice(0, 12)}`, `note _live_abc`, `ghp__live_a`, `${GOOGLE}x`]) {
    const r = maskRecord({ request: message(text, 'text/plain', {}, true), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), text, `cut: ${text}`);
    t.same(r.sensitive, [], `cut: ${text}: nothing found`);
  }
  // Found without any other trigger: no digit, no quote, no colon, no e-mail detection.
  const policy = resolveMaskPolicy({ detectEmails: false });
  const bodies: Array<[string, string]> = [
    ['tok sk_live_abcdefghijklmnopqrstuvwxyzAB', 'tok ****'],
    ['tok AIzaSyAbcdefghijklmnopqrstuvwxyz_ABCDEF', 'tok ****'],
    ['tok+AIzaSyAbcdefghijklmnopqrstuvwxyz-ABCDEF', 'tok+****'],
  ];
  for (const [text, out] of bodies) {
    t.ok(bodyMayHoldSecret(Buffer.from(text), policy), `the body prefilter passes ${text}`);
    const r = maskRecord({ request: message(text, 'text/plain') }, policy);
    t.equal(bodyOf(r.request), out, `plain text body: ${text}`);
    const doc = JSON.stringify({ a: text, b: 'plain' });
    t.equal(maskJson(doc, policy, []), JSON.stringify({ a: out, b: 'plain' }), `JSON string value (the scan triggers): ${text}`);
    t.ok(scanTriggers(doc, policy)(6, 6 + text.length), `a trigger in the value: ${text}`);
  }
  // A value holding the start inside it only: the trigger is where the prefix starts.
  const doc = `{"a":"sk_live_${'a'.repeat(24)}","b":"xx"}`;
  t.ok(scanTriggers(doc, DEFAULT_MASK_POLICY)(6, 38), 'the Stripe key');
  t.notOk(scanTriggers(doc, DEFAULT_MASK_POLICY)(8, 38), 'a range from inside the prefix holds no start');
});
