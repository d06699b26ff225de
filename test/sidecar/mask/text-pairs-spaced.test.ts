/**
 * `key = value` and `key : value` with blanks around the separator, alone on their line (INI
 * and AWS credentials files, `.env` and properties files written with spaces), under a secret
 * key: the value masked to the end of its line. Also where the lines are `\n` escapes (a JSON
 * string read as written, a Redis argument) and inside a JSON string value. Prose (`x = y` in a
 * sentence), comparisons and code stay readable.
 */
import t from 'tap';
import type { HttpMessage } from '../../../record/record.ts';
import { maskText } from '../../../sidecar/mask/detectors.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy, type MaskPolicy } from '../../../sidecar/mask/policy.ts';
import { resetScanMeter, scanMeter } from '../../../sidecar/mask/scan-meter.ts';
import { findKeyValueText } from '../../../sidecar/mask/text-pairs.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { cmd, runSession, text } from '../redis/harness.ts';

const message = (body: string, contentType: string, truncated = false): HttpMessage => {
  const bytes = Buffer.from(body);
  return { headers: {}, body: bytes, body_size: bytes.length + (truncated ? 100 : 0), truncated, content_type: contentType };
};
const bodyOf = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString('utf8');

function masked(s: string, policy: MaskPolicy = DEFAULT_MASK_POLICY): { out: string; kinds: string[] } {
  const kinds: string[] = [];
  const out = maskText(s, policy, (k, m) => kinds.push(m ? k : `${k}?`));
  return { out, kinds };
}

/** An AWS credentials file, as a config endpoint or a debug dump returns it. */
const CREDENTIALS = [
  '[default]',
  'aws_access_key_id = AKIAIOSFODNN7EXAMPLE',
  'aws_secret_access_key = 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',
  'region = eu-west-1',
  '',
  '[ci]',
  'aws_session_token = FwoGZXIvYXdzLKT2session==',
  '',
].join('\n');
const CREDENTIALS_MASKED = CREDENTIALS.replace('AKIAIOSFODNN7EXAMPLE', '****')
  .replace('wJalrXUtnFEMI/K7MDENG/bPxRfiCYLKT2spaced', '****')
  .replace('FwoGZXIvYXdzLKT2session==', '****');

void t.test("the security review's credentials file, as a text body", async (t) => {
  const r = maskRecord({ response: message(CREDENTIALS, 'text/plain'), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.response), CREDENTIALS_MASKED);
  t.same(r.redacted, ['response.body']);
  t.same([...r.sensitive].sort(), ['aws_key_id', 'secret', 'token']);
});

void t.test('inside a JSON string value, where the lines are \\n escapes', async (t) => {
  const body = JSON.stringify({ name: 'ci', file: CREDENTIALS });
  const r = maskRecord({ request: message(body, 'application/json'), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), JSON.stringify({ name: 'ci', file: CREDENTIALS_MASKED }));
  t.same(r.redacted, ['request.body.$.file']);
  // JSON cut by the limit, and JSON inside a text body: its escapes read as written.
  const cut = maskRecord({ request: message(body.slice(0, body.indexOf('LKT2spaced') + 4), 'application/json', true), redacted: [], sensitive: [] });
  t.notOk(bodyOf(cut.request).includes('wJalr'), bodyOf(cut.request));
  t.ok(bodyOf(cut.request).endsWith('aws_secret_access_key = ****'));
  const log = maskRecord({ request: message(`event ${body}`, 'text/plain'), redacted: [], sensitive: [] });
  t.equal(bodyOf(log.request), `event ${JSON.stringify({ name: 'ci', file: CREDENTIALS_MASKED })}`);
});

void t.test('a credentials file stored in Redis (its lines shown as \\n escapes)', async (t) => {
  const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 6379 }, mesh: false };
  const { exchanges } = runSession([{ c: cmd('SET', 'cfg:aws', CREDENTIALS) }, { s: '+OK\r\n' }]);
  const r = maskRecord(buildCallRecord(exchanges[0], meta, { pod: 'p', namespace: 'n' }));
  t.equal(text(r.request?.body), `SET cfg:aws ${JSON.stringify(CREDENTIALS_MASKED)}`);
  t.same([...r.sensitive].sort(), ['aws_key_id', 'secret', 'token']);
});

const found: Array<[string, string, string[]]> = [
  ['password = hunter2', 'password = ****', ['password']],
  ['  password = hunter2  ', '  password = ****  ', ['password']],
  ['\tdb.password\t=\tp w 2\r\nuser = bob', '\tdb.password\t=\t****\r\nuser = bob', ['password']],
  ['x\nAPI_KEY   =   ak-LKT2\ny', 'x\nAPI_KEY   =   ****\ny', ['api_key']],
  ['password : hunter2', 'password : ****', ['password']],
  ['user[pin] = 1234', 'user[pin] = ****', ['password']],
  // A quoted value: what is between the quotes.
  ['password = "hunter 2" ; note', 'password = "****" ; note', ['password']],
  ["password = 'hunter 2'", "password = '****'", ['password']],
  // The scheme of an authorization value kept.
  ['Authorization = Bearer opaque-LKT2 x', 'Authorization = Bearer ****', ['authorization']],
  // Lines as `\n` escapes, the last one ended by the quote of its string.
  ['"[s]\\npassword = LKT2esc\\nuser = bob"', '"[s]\\npassword = ****\\nuser = bob"', ['password']],
  ['"x\\npassword = LKT2last"', '"x\\npassword = ****"', ['password']],
];

void t.test('a spaced pair alone on its line: the value to the end of the line', async (t) => {
  for (const [input, out, kinds] of found) t.same(masked(input), { out, kinds }, input);
});

const ordinary = [
  'we set x = y here',
  'the password = hunter2 in a sentence',
  'if (password == null) return',
  'password == null',
  'password === x',
  'a == b',
  'password => x',
  'password := x',
  'password != x',
  '# password = commented',
  '- password = listed',
  'password = ',
  'password = ****',
  'password = $1',
  'password =x',
  'password_policy = strict',
  'token_count = 5',
  'username = bob',
  // An escaped backslash before `n` is no line break.
  '"a\\\\npassword = x"',
];

void t.test('prose, comparisons, code and keys that name no secret stay', async (t) => {
  for (const input of ordinary) t.same(masked(input), { out: input, kinds: [] }, input);
});

void t.test('the policy decides the keys', async (t) => {
  const added = resolveMaskPolicy({ jsonKeys: ['tenant_code'] });
  t.equal(masked('tenant_code = tc-1', added).out, 'tenant_code = ****');
  t.equal(masked('tenant_code = tc-1').out, 'tenant_code = tc-1');
  const exact = resolveMaskPolicy({ keyFamilies: false });
  t.equal(masked('new_password = np-1\npassword = p-1', exact).out, 'new_password = np-1\npassword = ****');
});

void t.test('a body cut inside the value', async (t) => {
  const r = maskRecord({ response: message('[default]\naws_secret_access_key = wJalrXUtnF', 'text/plain', true), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.response), '[default]\naws_secret_access_key = ****');
  t.same(r.sensitive, ['secret']);
});

void t.test('linear on separators with blanks and keys around them', async (t) => {
  const steps = (s: string): number => {
    resetScanMeter();
    findKeyValueText(s, DEFAULT_MASK_POLICY);
    return scanMeter.steps;
  };
  const shapes: Array<(n: number) => string> = [
    (n) => `${' '.repeat(40)}=`.repeat(n / 41),
    (n) => `\n${' '.repeat(70)}${'k'.repeat(63)} = v`.repeat(n / 139),
    (n) => 'x password = '.repeat(n / 13),
    (n) => '\npassword = "a'.repeat(n / 14),
    (n) => '\\npassword = \\"a '.repeat(n / 17),
    (n) => `\n${'\\'.repeat(20)}npassword = a`.repeat(n / 35),
  ];
  for (const shape of shapes) {
    const small = steps(shape(40_000));
    const large = steps(shape(80_000));
    t.ok(large / small < 2.3 && large / 80_000 < 40, `${JSON.stringify(shape(200).slice(0, 30))}…: ${small} then ${large} steps`);
  }
});
