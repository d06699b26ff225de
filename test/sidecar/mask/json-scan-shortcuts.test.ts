/**
 * The JSON masker's two shortcuts: keys reused from a table instead of cut from each document,
 * and string values left uncut when they hold nothing a detector starts from. Both must leave
 * the result exactly as a plain scan gives it: checked on documents with thousands of distinct
 * keys (the table's slots collide and are replaced) and on values whose triggers sit before,
 * inside and after one another.
 */
import t from 'tap';
import { maskJson, type JsonFinding } from '../../../sidecar/mask/json-mask.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

void t.test('thousands of distinct keys: exactly the sensitive ones are masked, in every document', async (t) => {
  for (let doc = 0; doc < 4; doc++) {
    const entries: string[] = [];
    const expected: string[] = [];
    for (let k = 0; k < 3000; k++) {
      // Keys as long as the sensitive ones, differing in a character or two: table slots collide
      // and are replaced, and a key taken from the wrong slot would hide or invent a secret.
      const sensitive = (k + doc) % 97 === 0;
      const key = sensitive ? (k % 2 === 0 ? 'password' : 'api_token') : `k${String(k).padStart(k % 2 === 0 ? 7 : 8, '0')}`;
      entries.push(`"${key}":"v${k}"`);
      if (sensitive) expected.push(`$.${key}`);
    }
    const findings: JsonFinding[] = [];
    const out = maskJson(`{${entries.join(',')}}`, DEFAULT_MASK_POLICY, findings);
    t.ok(out !== undefined);
    t.same(
      findings.map((f) => f.path),
      expected,
      `document ${doc}`,
    );
    const parsed = JSON.parse(out!) as Record<string, string>;
    t.equal(parsed.k00000001, 'v1', 'other values untouched');
  }
});

void t.test('keys that start alike or are escaped are read as the document spells them', async (t) => {
  const findings: JsonFinding[] = [];
  const out = maskJson('{"pass":"x1","passw":"x2","pass\\u0077ord":"x3","password":"x4","passwords":"x5"}', DEFAULT_MASK_POLICY, findings);
  // The escaped spelling is the same key once unescaped; the shorter keys are not it.
  t.same(findings.filter((f) => f.path === '$.password').length, 2, 'both spellings of password');
  const parsed = JSON.parse(out!) as Record<string, string>;
  t.equal(parsed.password, '****');
  t.equal(parsed.pass, findings.some((f) => f.path === '$.pass') ? '****' : 'x1', 'pass as its own key');
});

void t.test('values are scanned whenever they hold a trigger, wherever the previous one was', async (t) => {
  const card = '4111 1111 1111 1111';
  const values = ['plain text here', `a ${card}`, 'more plain text', `x ${JWT}`, 'still plain', 'mail ana@example.com', 'nothing-at-all', `tail ${card}`];
  const doc = JSON.stringify({ list: values, after: 'no digits here' });
  const findings: JsonFinding[] = [];
  const out = maskJson(doc, DEFAULT_MASK_POLICY, findings);
  t.same(
    findings.map((f) => `${f.path} ${f.kind}`),
    ['$.list[1] card', '$.list[3] jwt', '$.list[5] email', '$.list[7] card'],
  );
  t.notOk(out!.includes('4111 1111 1111'), 'cards masked');
  t.notOk(out!.includes(JWT), 'the JWT masked');
  // A trigger just outside a value (in the next key) does not make the value a finding.
  const near: JsonFinding[] = [];
  maskJson('{"a":"plain text value","b@x.io1":"another plain"}', DEFAULT_MASK_POLICY, near);
  t.same(near, []);
  // User patterns can match anything: every long enough value is scanned.
  const patterned: JsonFinding[] = [];
  maskJson('{"a":"zzzz in plain text"}', resolveMaskPolicy({ patterns: ['literal:zzzz'] }), patterned);
  t.same(patterned.map((f) => f.kind), ['pattern']);
});
