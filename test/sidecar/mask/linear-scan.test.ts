/**
 * Every detector and masker does work linear in its input: on adversarial inputs, doubling the
 * input at most about doubles the scan steps counted by the scanners' meter, and the steps per
 * input character stay small. A quadratic scanner (the old e-mail pattern over
 * `'a' × 60 000 + '@'`) fails both. No clocks: the meter counts characters looked at.
 */
import t, { type Test } from 'tap';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { findCardCandidates, findCutCard, findCutJwt, findEmails, findJwts, maskText } from '../../../sidecar/mask/detectors.ts';
import { decodeJsonEscapes, maskJsonText } from '../../../sidecar/mask/json-escapes.ts';
import { keyFamily } from '../../../sidecar/mask/key-families.ts';
import { resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { resetScanMeter, scanMeter } from '../../../sidecar/mask/scan-meter.ts';
import { findIbans } from '../../../sidecar/mask/iban.ts';
import { findKeyValueText } from '../../../sidecar/mask/text-pairs.ts';
import { findBearerTokens, findCutToken, findPrefixedTokens } from '../../../sidecar/mask/token-formats.ts';
import type { HttpMessage } from '../../../record/record.ts';

/** Scan everything: these tests are about the scanners, not the budget. */
const policy = resolveMaskPolicy({ scanBudgetBytes: 64 * 1024 * 1024, maskEmails: true, patterns: ['AKIA[0-9A-Z]{16}', 'literal:s3cr3t-literal'] });

function stepsOf(run: () => unknown): number {
  resetScanMeter();
  run();
  return scanMeter.steps;
}

const body = (b: string | Buffer, contentType?: string, truncated = false): HttpMessage => {
  const bytes = typeof b === 'string' ? Buffer.from(b) : b;
  return { headers: {}, body: bytes, body_size: bytes.length, truncated, ...(contentType === undefined ? {} : { content_type: contentType }) };
};

/** Cost of one input of size n, per character, and its growth from n to 2n. */
function measure(make: (n: number) => () => unknown, n: number): { perChar: number; growth: number; small: number; large: number } {
  const small = stepsOf(make(n));
  const large = stepsOf(make(2 * n));
  return { perChar: large / (2 * n), growth: large / small, small, large };
}

/** The bound the adversarial inputs must stay within (a quadratic scanner fails it, see below). */
function assertLinear(t: Test, name: string, make: (n: number) => () => unknown, n = 60_000): void {
  const m = measure(make, n);
  t.comment(`${name}: n=${n} ${m.small} steps, 2n ${m.large} steps`);
  t.ok(m.small > 0, `${name}: the meter counted work (${m.small} steps)`);
  t.ok(m.growth < 2.3, `${name}: 2n costs ${m.growth.toFixed(2)}× n (under 2.3×)`);
  t.ok(m.perChar < 40, `${name}: ${m.perChar.toFixed(1)} steps per character (under 40)`);
}

const adversarial: Array<[string, (n: number) => () => unknown]> = [
  ["e-mail detector: 'a' × n + '@'", (n) => () => findEmails('a'.repeat(n) + '@')],
  ["e-mail detector: ('a@' + 'b.' × 20) repeated", (n) => () => findEmails(('a@' + 'b.'.repeat(20) + ' ').repeat(Math.ceil(n / 43)))],
  ['e-mail detector: dots and @ interleaved', (n) => () => findEmails('.a@a'.repeat(n / 4))],
  ['card detector: n digits', (n) => () => findCardCandidates('4'.repeat(n))],
  ['card detector: digits and single spaces', (n) => () => findCardCandidates('4 '.repeat(n / 2))],
  ['card detector: digits and dashes, 20-digit groups', (n) => () => findCardCandidates(('4111-1111-1111-1111-1111 ').repeat(Math.ceil(n / 25)))],
  ['card detector: digits between %20 escapes', (n) => () => findCardCandidates('4%20'.repeat(n / 4))],
  ['card detector: digits between + in a form', (n) => () => findCardCandidates('4+'.repeat(n / 2), true)],
  ['card detector: escapes only', (n) => () => findCardCandidates('%20%34%2E'.repeat(n / 9))],
  ['card detector: 20-digit groups after escapes', (n) => () => findCardCandidates('%204111%201111%201111%201111%201111'.repeat(Math.ceil(n / 35)))],
  ['JWT detector: -eyJ repeated', (n) => () => findJwts('-eyJ'.repeat(n / 4))],
  ['JWT detector: %20eyJ repeated', (n) => () => findJwts('%20eyJ'.repeat(n / 6))],
  ['e-mail detector: escapes before each @', (n) => () => findEmails(('%41'.repeat(20) + '@').repeat(Math.ceil(n / 61)))],
  ['e-mail detector: a run of escapes, one @', (n) => () => findEmails('%41'.repeat(n / 3) + '@a.bc')],
  ['JWT detector: two segments, never a third', (n) => () => findJwts('-eyJaaaa.eyJbbbb'.repeat(n / 16))],
  ["maskText: 'a' × n + '@'", (n) => () => maskText('a'.repeat(n) + '@', policy, () => {})],
  ['record: text body a × n + @', (n) => () => maskRecord({ request: body('a'.repeat(n) + '@', 'text/plain') }, policy)],
  ['record: JSON string a × n + @', (n) => () => maskRecord({ request: body(`{"note":"${'a'.repeat(n)}@"}`, 'application/json') }, policy)],
  ['record: deeply nested JSON arrays', (n) => () => maskRecord({ request: body('['.repeat(n / 2) + ']'.repeat(n / 2), 'application/json') }, policy)],
  ['record: deeply nested JSON objects, cut', (n) => () => maskRecord({ request: body('{"password":'.repeat(n / 12), 'application/json', true) }, policy)],
  ['record: JSON with backslash runs', (n) => () => maskRecord({ request: body(`{"a":"${'\\\\'.repeat(n / 2)}"}`, 'application/json') }, policy)],
  ['record: quotes only (the key/value scanner)', (n) => () => maskRecord({ request: body('"'.repeat(n), 'text/plain') }, policy)],
  ['record: a key longer than any key, repeated', (n) => () => maskRecord({ request: body(('"' + 'k'.repeat(200)).repeat(n / 201), 'text/plain') }, policy)],
  ['record: unclosed secret values', (n) => () => maskRecord({ request: body('"token":"\\'.repeat(n / 10), 'text/plain') }, policy)],
  ['record: n form fields', (n) => () => maskRecord({ request: body(Array.from({ length: n / 10 }, (_, i) => `f${i}=v&`).join(''), 'application/x-www-form-urlencoded') }, policy)],
  ['record: 10 000-style form of secret fields', (n) => () => maskRecord({ request: body('password=x&'.repeat(n / 11), 'application/x-www-form-urlencoded') }, policy)],
  ['record: query with many parameters', (n) => () => maskRecord({ path: '/p?' + 'sig=1&a=2&'.repeat(n / 10) }, policy)],
  ['record: query of digits and encoded spaces', (n) => () => maskRecord({ path: '/p?q=' + '4%20'.repeat(n / 4) }, policy)],
  ['record: a long gRPC status message', (n) => () => maskRecord({ grpc_message: '4 eyJ a@'.repeat(n / 8), error_detail: '4%20'.repeat(n / 4) }, policy)],
  ['record: huge header value', (n) => () => maskRecord({ request: { ...body(''), headers: { 'x-note': 'a'.repeat(n) + '@', cookie: 'a=b;'.repeat(n / 4) } } }, policy)],
  ['record: huge header name', (n) => () => maskRecord({ request: { ...body(''), headers: { ['x' + 'Aa-'.repeat(n / 3)]: 'v' } } }, policy)],
  ['record: multipart with many parts', (n) => () => maskRecord({ request: body('--b\r\nContent-Disposition: form-data; name="pwd"\r\n\r\nx\r\n'.repeat(n / 50), 'multipart/form-data; boundary=b') }, policy)],
  ['record: multipart parts without a blank line', (n) => () => maskRecord({ request: body('--b\r\nX: y\r\n'.repeat(n / 12), 'multipart/form-data; boundary=b') }, policy)],
  ['record: binary body', (n) => () => maskRecord({ request: body(Buffer.alloc(n, 0xff)) }, policy)],
  ['record: user patterns over many tokens', (n) => () => maskRecord({ request: body('AKIA s3cr3t '.repeat(n / 12), 'text/plain') }, policy)],
  ['key families: a long camelCase key', (n) => () => keyFamily('aB'.repeat(n / 2))],
  ['key/value text: a=a=a=…', (n) => () => findKeyValueText('a='.repeat(n / 2), policy)],
  ['key/value text: separators only', (n) => () => findKeyValueText(':='.repeat(n / 2), policy)],
  ['key/value text: 63-character keys before each :', (n) => () => findKeyValueText(('k'.repeat(63) + ':').repeat(n / 64), policy)],
  ['key/value text: a key longer than any key', (n) => () => findKeyValueText('k'.repeat(n) + '=v', policy)],
  ['key/value text: secret keys with empty values', (n) => () => findKeyValueText('password= '.repeat(n / 10), policy)],
  ['key/value text: secret keys, one value each', (n) => () => findKeyValueText('pin=1 '.repeat(n / 6), policy)],
  ['key/value text: quoted keys without their opening quote', (n) => () => findKeyValueText(('k'.repeat(61) + '":').repeat(n / 64), policy)],
  ['key/value text: quoted secret keys, unclosed quoted values', (n) => () => findKeyValueText(`"token":"${'x'.repeat(20)} `.repeat(n / 31), policy)],
  ["key/value text: unclosed ' and \" values on one line", (n) => () => findKeyValueText(`pwd='a pwd="b `.repeat(n / 14), policy)],
  ['key/value text: escaped quotes inside a quoted value', (n) => () => findKeyValueText('token="' + '\\"'.repeat(n / 2), policy)],
  ['key/value text: arrows', (n) => () => findKeyValueText('pwd=>'.repeat(n / 5), policy)],
  ['key/value text: authorization schemes without credentials', (n) => () => findKeyValueText('auth=Bearer '.repeat(n / 12), policy)],
  ['record: a text body of key=value pairs', (n) => () => maskRecord({ request: body('user=bob password=x otp: 12 '.repeat(n / 28), 'text/plain') }, policy)],
  ['cut JWT: -eyJ repeated to the end', (n) => () => findCutJwt('-eyJ'.repeat(n / 4))],
  ['cut JWT: dots and eyJ to the end', (n) => () => findCutJwt('.eyJ'.repeat(n / 4) + 'a')],
  ['cut JWT: a base64url run to the end', (n) => () => findCutJwt('a'.repeat(n))],
  ['cut card: digits to the end', (n) => () => findCutCard('4'.repeat(n))],
  ['record: cut text body of JWT starts', (n) => () => maskRecord({ request: body('-eyJ'.repeat(n / 4), 'text/plain', true) }, policy)],
  ['tokens: prefixes repeated', (n) => () => findPrefixedTokens('ghp_github_pat_xoxb-AKIAASIA'.repeat(n / 28))],
  ['tokens: a prefix, then a run one short of a token, repeated', (n) => () => findPrefixedTokens(`ghp_${'a'.repeat(35)} `.repeat(n / 40))],
  ['tokens: one prefix, then a run of n', (n) => () => findPrefixedTokens(`ghp_${'a'.repeat(n)}`)],
  ['tokens: AWS prefixes, then a run of n', (n) => () => findPrefixedTokens(`AKIA${'A'.repeat(n)}`)],
  ['tokens: Slack prefixes inside a dash run', (n) => () => findPrefixedTokens('-xoxb'.repeat(n / 5))],
  ['Bearer: repeated, nothing after', (n) => () => findBearerTokens('Bearer'.repeat(n / 6))],
  ['Bearer: then spaces', (n) => () => findBearerTokens(`Bearer${' '.repeat(n)}`)],
  ['Bearer: then %20 runs', (n) => () => findBearerTokens(`Bearer${'%20'.repeat(n / 3)}x`)],
  ['Bearer: short credentials repeated', (n) => () => findBearerTokens('Bearer ab '.repeat(n / 10))],
  ['Bearer: one long credential of escapes', (n) => () => findBearerTokens(`Bearer ${'%2F'.repeat(n / 3)}`)],
  ['Bearer: parameters repeated', (n) => () => findBearerTokens('Bearer realm="x" '.repeat(n / 17))],
  ['Bearer: then tabs and spaces', (n) => () => findBearerTokens(`Bearer${' \t'.repeat(n / 2)}x`)],
  ['Bearer: then %09 runs', (n) => () => findBearerTokens(`Bearer${'%09'.repeat(n / 3)}x`)],
  ['key/value text: authorization schemes then tabs', (n) => () => findKeyValueText(`auth=Bearer${'\t'.repeat(30)} `.repeat(n / 43), policy)],
  ['cut token: a long credential run to the end', (n) => () => findCutToken(`Bearer ${'a'.repeat(n)}`)],
  ['cut token: tabs and %09 before the credentials', (n) => () => findCutToken(`Bearer${'\t%09'.repeat(n / 4)}ab`)],
  ['cut token: prefixes to the end', (n) => () => findCutToken('ghp_xoxb-AKIA'.repeat(n / 13))],
  ['record: a text body of Bearer and token starts', (n) => () => maskRecord({ request: body('Bearer ghp_xoxb-AKIA '.repeat(n / 21), 'text/plain', true) }, policy)],
  ['IBANs: starts inside one word', (n) => () => findIbans('DE89'.repeat(n / 4))],
  ['IBANs: printed groups that never end', (n) => () => findIbans('DE89 '.repeat(n / 5))],
  ['IBANs: whole printed candidates failing the check', (n) => () => findIbans('DE88 3704 0044 0532 0130 00 '.repeat(n / 28))],
  ['IBANs: valid ones repeated', (n) => () => findIbans('DE89370400440532013000 '.repeat(n / 23))],
  ['IBANs: starts after percent-escapes', (n) => () => findIbans('%20DE89'.repeat(n / 7))],
  ['IBANs: compact candidates one short, repeated', (n) => () => findIbans('DE8937040044053201300 '.repeat(n / 22))],
  ['record: a text body of IBAN candidates', (n) => () => maskRecord({ request: body('GB29 NWBK 6016 1331 9268 19 GB29 DE89 '.repeat(n / 38), 'text/plain') }, policy)],
  ['JSON escapes: \\u0020 repeated', (n) => () => decodeJsonEscapes('\\u0020'.repeat(n / 6))],
  ['JSON escapes: backslashes only', (n) => () => decodeJsonEscapes('\\'.repeat(n))],
  ['JSON escapes: cut \\u escapes', (n) => () => maskJsonText('\\u00'.repeat(n / 4), policy, () => {})],
  ['JSON escapes: escapes between card digits and JWT starts', (n) => () => maskJsonText('4\\u0020eyJ\\n'.repeat(n / 14), policy, () => {})],
  ['record: JSON strings full of escapes', (n) => () => maskRecord({ request: body(`{"a":"${'\\u0020pin=1\\"'.repeat(n / 14)}"}`, 'application/json') }, policy)],
  ['record: cut JSON full of escapes', (n) => () => maskRecord({ request: body(`{"a":"${'\\u00204111'.repeat(n / 10)}`, 'application/json', true) }, policy)],
];

void t.test('every detector and masker is linear on adversarial inputs', async (t) => {
  for (const [name, make] of adversarial) assertLinear(t, name, make);
});

void t.test('the bound fails a quadratic scanner', async (t) => {
  // The shape of the old e-mail pattern: from every start, run to the `@` and fail.
  const quadratic = (n: number) => () => {
    const s = 'a'.repeat(n) + '@';
    for (let i = 0; i < s.length; i++) for (let j = i; j < s.length && s[j] !== '@'; j++) scanMeter.steps++;
  };
  const m = measure(quadratic, 6000);
  t.ok(m.growth > 3.5, `quadratic work grows ${m.growth.toFixed(2)}× from n to 2n`);
  t.ok(m.perChar > 40, `and costs ${m.perChar.toFixed(0)} steps per character`);
});

void t.test('the adversarial e-mail body is still scanned: a real address after it is found', async (t) => {
  const r = maskRecord({ request: body('a'.repeat(60_000) + '@ then jane@example.com', 'text/plain') }, policy);
  t.ok(r.sensitive.includes('email'));
  t.notOk(Buffer.from(r.request?.body ?? []).toString().includes('jane@example.com'));
});
