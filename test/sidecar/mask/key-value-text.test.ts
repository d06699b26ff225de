/**
 * `KEY=VALUE`, `KEY: VALUE` and `KEY:VALUE` in free text, wherever the text detectors run: plain
 * text bodies and WebSocket text messages, JSON string values, `error_detail`, `grpc_message`,
 * header values, paths. KEY is a secret name under the policy (its exact keys and the
 * families), right before the separator; only VALUE (one token, or a quoted value) is masked.
 * Prose, empty values and keys that only describe a secret stay as they are.
 */
import t from 'tap';
import { maskText } from '../../../sidecar/mask/detectors.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy, type MaskPolicy } from '../../../sidecar/mask/policy.ts';
import type { HttpMessage } from '../../../record/record.ts';

const message = (body: string | Buffer, contentType: string, headers: Record<string, string> = {}): HttpMessage => {
  const bytes = Buffer.from(body);
  return { headers, body: bytes, body_size: bytes.length, truncated: false, content_type: contentType };
};
const bodyOf = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString('latin1');

function masked(text: string, policy: MaskPolicy = DEFAULT_MASK_POLICY): { out: string; kinds: string[] } {
  const kinds: string[] = [];
  const out = maskText(text, policy, (k, m) => kinds.push(m ? k : `${k}?`));
  return { out, kinds };
}

void t.test("the security review's WebSocket frame and connection strings", async (t) => {
  // A WebSocket text message is recorded as a text/plain body.
  const ws = maskRecord({ request: message('login user=bob password=wspw5', 'text/plain; charset=utf-8'), redacted: [], sensitive: [] });
  t.equal(bodyOf(ws.request), 'login user=bob password=****');
  t.same([ws.redacted, ws.sensitive], [['request.body'], ['password']]);

  const conn = 'Server=db;User Id=sa;Password=connpw77;';
  const inJson = maskRecord({ request: message(JSON.stringify({ name: 'orders', conn }), 'application/json'), redacted: [], sensitive: [] });
  t.equal(bodyOf(inJson.request), '{"name":"orders","conn":"Server=db;User Id=sa;Password=****;"}');
  t.same([inJson.redacted, inJson.sensitive], [['request.body.$.conn'], ['password']]);

  const plain = maskRecord({ response: message(conn, 'text/plain'), redacted: [], sensitive: [] });
  t.equal(bodyOf(plain.response), 'Server=db;User Id=sa;Password=****;');
  t.same([plain.redacted, plain.sensitive], [['response.body'], ['password']]);
});

void t.test('a Host header naming a service whose name is a secret word is left alone', async (t) => {
  const r = maskRecord({
    authority: 'auth.shop:8080',
    request: message('', 'text/plain', { host: 'auth.shop:8080', 'x-upstream': 'password.example:9000' }),
    redacted: [],
    sensitive: [],
  });
  t.equal(r.request?.headers.host, 'auth.shop:8080');
  t.equal(r.request?.headers['x-upstream'], 'password.example:9000');
  t.same([r.redacted, r.sensitive], [[], []]);
});

void t.test('every field the text detectors scan', async (t) => {
  const r = maskRecord({
    path: '/app/home;jsessionid=JS-77a?next=%2Fx&redirect=/cb?token=tk-in-query',
    request: message('', 'text/plain', { 'x-debug': 'retry with api_key=dbg-key-1 now' }),
    grpc_message: 'bad request: token: gm-tok-2',
    error_detail: 'FATAL: login failed; password=ed-pw-3 rejected',
    redacted: [],
    sensitive: [],
  });
  t.equal(r.path, '/app/home;jsessionid=****?next=%2Fx&redirect=/cb?token=****');
  t.equal(r.request?.headers['x-debug'], 'retry with api_key=**** now');
  t.equal(r.grpc_message, 'bad request: token: ****');
  t.equal(r.error_detail, 'FATAL: login failed; password=**** rejected');
  t.same([...r.redacted].sort(), ['error_detail', 'grpc_message', 'path', 'request.headers.x-debug']);
  t.same([...r.sensitive].sort(), ['api_key', 'password', 'session', 'token']);
});

void t.test('a multipart part and a binary body (masked byte for byte)', async (t) => {
  const part = '--b\r\nContent-Disposition: form-data; name="config"\r\n\r\ndb.user=app\ndb.password=mp-pw-4\r\n--b--\r\n';
  const mp = maskRecord({ request: message(part, 'multipart/form-data; boundary=b'), redacted: [], sensitive: [] });
  t.equal(bodyOf(mp.request), part.replace('mp-pw-4', '****'));
  const binary = Buffer.concat([Buffer.from([0xff, 0x00, 0x01]), Buffer.from('pwd=bin-pw-5;'), Buffer.from([0xfe])]);
  const b = maskRecord({ request: message(binary, 'application/octet-stream'), redacted: [], sensitive: [] });
  const out = Buffer.from(b.request!.body);
  t.equal(out.length, binary.length);
  t.ok(out.includes(Buffer.from('pwd=********;')));
  t.same(b.sensitive, ['password']);
});

const found: Array<[string, string, string[]]> = [
  ['password=hunter2', 'password=****', ['password']],
  ['PASSWORD=hunter2 next', 'PASSWORD=**** next', ['password']],
  ['password: hunter2', 'password: ****', ['password']],
  ['password:hunter2', 'password:****', ['password']],
  ['password:\thunter2', 'password:\t****', ['password']],
  ['a=1&token=abc&b=2', 'a=1&token=****&b=2', ['token']],
  ['--client-secret=cs-1 --verbose', '--client-secret=**** --verbose', ['secret']],
  ['spring.datasource.password=sp-1', 'spring.datasource.password=****', ['password']],
  ['export AWS_SECRET_ACCESS_KEY=ak/1+x', 'export AWS_SECRET_ACCESS_KEY=****', ['secret']],
  ['X-Api-Key: xk-1', 'X-Api-Key: ****', ['api_key']],
  ['user[pin]=4321', 'user[pin]=****', ['password']],
  ['mfa_code=123456 zip_code=90210', 'mfa_code=**** zip_code=90210', ['password']],
  ['sig=abc==', 'sig=****', ['signature']],
  // Quoted values: the quotes kept, what is between them masked.
  ['Password="p w 1";Database=x', 'Password="****";Database=x', ['password']],
  ["pwd='single q'", "pwd='****'", ['password']],
  ['token: "unclosed and more', 'token: "**** and more', ['token']],
  // Quoted keys: JSON inside a string.
  ['{"password":"j-pw","n":1,"pin":1234,"name":"ann"}', '{"password":"****","n":1,"pin":****,"name":"ann"}', ['password', 'password']],
  // The arrow of a PHP or Ruby hash.
  ["['password'=>'php-pw', 'user'=>'bob']", "['password'=>'****', 'user'=>'bob']", ['password']],
  // Authorization: the scheme kept, the credentials masked.
  ['Authorization: Bearer opaque-tok-1 rest', 'Authorization: Bearer **** rest', ['authorization']],
  ['auth=Basic dXNlcjpwYXNz', 'auth=Basic ****', ['authorization']],
  ['auth: token', 'auth: ****', ['authorization']],
  // A JWT or card under a secret key is reported as what it is; the value goes whole.
  ['token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'token=****', ['jwt']],
  ['card_number=4111111111111111', 'card_number=****', ['card', 'card']],
  // A number right after the `:` that cannot be a port, or with a space or `=` before it, is a value.
  ['password:123456', 'password:****', ['password']],
  ['password:65536', 'password:****', ['password']],
  ['pin: 1234', 'pin: ****', ['password']],
  ['password=8080', 'password=****', ['password']],
  ['auth:8080x', 'auth:****', ['authorization']],
  ['(authorization: Bearer tk-9 rest)', '(authorization: Bearer **** rest)', ['authorization']],
  // Spaced, alone on its line (an INI or credentials file).
  ['password = spaced', 'password = ****', ['password']],
];

void t.test('pairs under secret keys: the value masked, key and separators kept', async (t) => {
  for (const [text, out, kinds] of found) t.same(masked(text), { out, kinds }, text);
});

const ordinary = [
  'the password policy: strong',
  'password=',
  'password= ',
  'password=;user=bob',
  'token_count: 5',
  'max_tokens=512',
  'password_policy=strict',
  'session_timeout: 30',
  'a==b password==x token::x token:=x',
  'pass://host/x',
  '/v1/token:exchange and /v1/sessions/s1:refresh',
  'username=bob user: ann code=abc123 zip_code=90210 promo_code=SAVE10 status_code: 500',
  'Fri, 04 Dec 2026 12:00:00 GMT',
  'orders.shop.svc.cluster.local:8080',
  'fe80::1 and 10:30:00',
  'input[type=password] and <input name="password">',
  // Spaced inside a sentence (alone on its line, it is masked: text-pairs-spaced.test.ts).
  'we set password = spaced here',
  '"password" : spaced',
  'password=****',
  'password: ****',
  'https://example.com/a?b=c#d',
  'x=>y and (a)=>b',
  "SELECT id FROM sessions WHERE token=$1 AND pin=? AND pwd='%s'",
  'dGhlIHNhbXBsZSBub25jZQ==',
  // host:port, where a host is named like a secret (a Service called auth is common).
  'auth:8080',
  'auth.shop:8080',
  'connecting to auth:8080/login, then password.example:9000?x=1 (session-store:6379) and token-svc:443.',
  'x-trace-me: host-auth:8080',
  '[secret:0]',
  // Prose naming a scheme, in brackets.
  'POST /checkout {items,card} (authorization: Bearer)',
];

void t.test('ordinary text stays: prose, empty values, keys that describe a secret, operators, URLs', async (t) => {
  for (const text of ordinary) t.same(masked(text), { out: text, kinds: [] }, text);
});

void t.test('the policy decides the keys', async (t) => {
  const added = resolveMaskPolicy({ jsonKeys: ['tenant_code', 'x'] });
  t.equal(masked('tenant_code=tc-1 x-tenant-code: tc-2 x=7', added).out, 'tenant_code=**** x-tenant-code: **** x=****');
  t.equal(masked('tenant_code=tc-1').out, 'tenant_code=tc-1', 'not under the default policy');
  const exact = resolveMaskPolicy({ keyFamilies: false });
  t.equal(masked('new_password=np-1 password=p-1 pin=1', exact).out, 'new_password=np-1 password=**** pin=1', 'exact keys only');
  const off = maskRecord({ request: message('password=off-1', 'text/plain'), redacted: [], sensitive: [] }, resolveMaskPolicy({ enabled: false }));
  t.equal(bodyOf(off.request), 'password=off-1', 'masking off');
});

void t.test('form bodies and queries: the fields are the form masker\'s; pairs inside a value are found', async (t) => {
  const r = maskRecord({ request: message('user=bob&password=fp-1&next=/cb?token=fq-2', 'application/x-www-form-urlencoded'), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), 'user=bob&password=****&next=/cb?token=****');
  t.same(r.redacted, ['request.body.password', 'request.body']);
  t.same(r.sensitive, ['password', 'token']);
});
