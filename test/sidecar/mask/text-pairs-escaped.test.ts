/**
 * JSON written with escaped quotes inside text: JSON embedded in a log line or in a JSON
 * string, or a stored JSON value as a Redis record shows it (`redis-cli` quoting). A secret key
 * in escaped quotes has the value between its escaped quotes masked and the escapes kept
 * (`{\"password\":\"****\"}`), one level deeper too (`\\\"`); a `\n` escape ends a value and a
 * key as a line break does.
 */
import t from 'tap';
import type { HttpMessage } from '../../../record/record.ts';
import { maskText } from '../../../sidecar/mask/detectors.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { resetScanMeter, scanMeter } from '../../../sidecar/mask/scan-meter.ts';
import { findKeyValueText } from '../../../sidecar/mask/text-pairs.ts';
import { buildCallRecord } from '../../../sidecar/proxy/record-builder.ts';
import { bulk, cmd, runSession, text } from '../redis/harness.ts';

const message = (body: string, contentType: string, truncated = false): HttpMessage => {
  const bytes = Buffer.from(body);
  return { headers: {}, body: bytes, body_size: bytes.length + (truncated ? 100 : 0), truncated, content_type: contentType };
};
const bodyOf = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString('utf8');

function masked(s: string): { out: string; kinds: string[] } {
  const kinds: string[] = [];
  const out = maskText(s, DEFAULT_MASK_POLICY, (k, m) => kinds.push(m ? k : `${k}?`));
  return { out, kinds };
}

/** The security review's body: JSON with backslash-escaped quotes in a log line. */
const REVIEW = 'log: body={\\"password\\":\\"LKT1escjson\\",\\"user\\":\\"x\\"}';

void t.test("the security review's text body: the value between the escaped quotes, the escapes kept", async (t) => {
  const r = maskRecord({ request: message(REVIEW, 'text/plain'), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), 'log: body={\\"password\\":\\"****\\",\\"user\\":\\"x\\"}');
  t.same([r.redacted, r.sensitive], [['request.body'], ['password']]);
  t.notOk(bodyOf(r.request).includes('LKT1'));
});

void t.test('a JSON value stored in Redis: the command and the reply that returns it', async (t) => {
  const stored = '{"password":"LKT1redisval","user":"x","n":1}';
  const meta = { connectionId: 'c1', observer: 'outbound' as const, client: { ip: '10.0.0.1', port: 40000 }, dst: { ip: '10.0.0.2', port: 6379 }, mesh: false };
  const { exchanges } = runSession([{ c: cmd('SET', 'cfg:1', stored) }, { s: '+OK\r\n' }, { c: cmd('GET', 'cfg:1') }, { s: bulk(stored) }]);
  const records = exchanges.map((e) => maskRecord(buildCallRecord(e, meta, { pod: 'p', namespace: 'n' })));
  t.equal(records.length, 2);
  t.equal(text(records[0].request?.body), 'SET cfg:1 "{\\"password\\":\\"****\\",\\"user\\":\\"x\\",\\"n\\":1}"');
  t.same(records[0].sensitive, ['password']);
  const reply = text(records[1].response?.body);
  t.notOk(reply.includes('LKT1'), reply);
  t.ok(reply.includes('\\"password\\":\\"****\\"'), reply);
  t.ok(reply.includes('\\"user\\":\\"x\\"'), reply);
});

void t.test('one level deeper: JSON inside a JSON string inside a JSON string', async (t) => {
  const deeper = 'x {\\\\\\"password\\\\\\":\\\\\\"LKT1dbl\\\\\\",\\\\\\"user\\\\\\":\\\\\\"x\\\\\\"}';
  t.same(masked(deeper), { out: deeper.replace('LKT1dbl', '****'), kinds: ['password'] });
  // As a JSON body: the JSON masker decodes one level, the pairs see the next.
  const body = JSON.stringify({ log: `body=${JSON.stringify(JSON.stringify({ password: 'LKT1nested', user: 'x' }))}` });
  const r = maskRecord({ request: message(body, 'application/json'), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), body.replace('LKT1nested', '****'));
  t.same([r.redacted, r.sensitive], [['request.body.$.log'], ['password']]);
  // A JSON body whose string holds JSON with escaped quotes, read with its escapes decoded.
  const once = JSON.stringify({ log: 'body={"password":"LKT1once"}' });
  t.equal(bodyOf(maskRecord({ request: message(once, 'application/json'), redacted: [], sensitive: [] }).request), once.replace('LKT1once', '****'));
});

const found: Array<[string, string, string[]]> = [
  // A quote inside the value is a deeper escape: the value runs to the quote of its own level.
  ['{\\"password\\":\\"a\\\\\\"b c\\",\\"x\\":1}', '{\\"password\\":\\"****\\",\\"x\\":1}', ['password']],
  // Bare values after a key in escaped quotes end where the next escape starts.
  ['{\\"pin\\":1234,\\"x\\":1}', '{\\"pin\\":****,\\"x\\":1}', ['password']],
  ['{\\n  \\"pin\\": 1234\\n}', '{\\n  \\"pin\\": ****\\n}', ['password']],
  // A quoted value after `=` in the text of a JSON string.
  ['msg: login password=\\"LKT1eq\\" ok', 'msg: login password=\\"****\\" ok', ['password']],
  ['msg: login password=LKT1bare\\" ok', 'msg: login password=****\\" ok', ['password']],
  // Lines as `\n` escapes: each pair on its own line.
  ['"user=x\\npassword=LKT1line\\ntoken: LKT1tok"', '"user=x\\npassword=****\\ntoken: ****"', ['password', 'token']],
  ['"a\\r\\napi_key=LKT1crlf\\r\\n"', '"a\\r\\napi_key=****\\r\\n"', ['api_key']],
];

void t.test('escaped quotes and escaped line breaks: only the value masked, every escape kept', async (t) => {
  for (const [input, out, kinds] of found) t.same(masked(input), { out, kinds }, input);
});

const ordinary = [
  // Keys that name no secret, and a secret word as a value.
  '{\\"user\\":\\"password\\",\\"note\\":\\"token\\"}',
  '{\\"password_policy\\":\\"strict\\"}',
  // Quotes of different levels do not make a key.
  '"password\\":"x"',
  // An escaped backslash before `n` is no line break: the key is one word.
  'a\\\\npassword',
  '{\\"password\\":\\"****\\"}',
  '{\\"password\\":\\"\\"}',
];

void t.test('escaped JSON that holds no secret stays as it is', async (t) => {
  for (const input of ordinary) t.same(masked(input), { out: input, kinds: [] }, input);
});

void t.test('a body cut inside the escaped value', async (t) => {
  const cut = maskRecord({ request: message('log: body={\\"password\\":\\"LKT1cut', 'text/plain', true), redacted: [], sensitive: [] });
  t.equal(bodyOf(cut.request), 'log: body={\\"password\\":\\"****');
  t.same(cut.sensitive, ['password']);
  const budget = resolveMaskPolicy({ scanBudgetBytes: REVIEW.length - 20 });
  const r = maskRecord({ request: message(REVIEW, 'text/plain'), redacted: [], sensitive: [] }, budget);
  t.notOk(bodyOf(r.request).includes('LKT1'), bodyOf(r.request));
  t.ok(bodyOf(r.request).startsWith('log: body={\\"password\\":\\"****'));
});

void t.test('linear on escaped quotes that never close', async (t) => {
  const steps = (s: string): number => {
    resetScanMeter();
    findKeyValueText(s, DEFAULT_MASK_POLICY);
    return scanMeter.steps;
  };
  const shapes: Array<(n: number) => string> = [
    (n) => '\\"pwd\\":\\"a '.repeat(n / 12),
    (n) => '\\"pwd\\":\\\\\\"a \\"pwd\\":\\"b '.repeat(n / 26),
    (n) => `\\"token\\":\\"${'\\'.repeat(n)}`,
    (n) => 'pwd=a\\'.repeat(n / 6),
    (n) => '\\npwd=\\\\\\'.repeat(n / 9),
  ];
  for (const shape of shapes) {
    const small = steps(shape(40_000));
    const large = steps(shape(80_000));
    t.ok(large / small < 2.3 && large / 80_000 < 40, `${shape(24).slice(0, 24)}…: ${small} then ${large} steps`);
  }
});
