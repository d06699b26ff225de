/**
 * JSON string escapes do not hide secrets: the detectors read a string value with its escapes
 * decoded (`\u0020` is a space, `\"` a quote, `\n` a newline), and the mask replaces only the
 * characters the secret was written with, so the document stays valid JSON with the escapes
 * around the secret kept. Text that only looks like an escape (an escaped backslash before `u`)
 * is read as what it is.
 */
import t from 'tap';
import fc from 'fast-check';
import { maskText } from '../../../sidecar/mask/detectors.ts';
import { maskJsonText } from '../../../sidecar/mask/json-escapes.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import type { HttpMessage } from '../../../record/record.ts';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

const json = (body: string, truncated = false): HttpMessage => ({
  headers: {},
  body: Buffer.from(body),
  body_size: Buffer.byteLength(body),
  truncated,
  content_type: 'application/json',
});
const bodyOf = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString();

void t.test("the security review's document: a card and a JWT after \\u0020", async (t) => {
  const doc = `{"q":"card\\u00204111111111111111","t":"tok\\u0020${JWT}"}`;
  const r = maskRecord({ request: json(doc), redacted: [], sensitive: [] });
  const out = bodyOf(r.request);
  t.equal(out, '{"q":"card\\u0020****1111","t":"tok\\u0020****"}');
  t.same(JSON.parse(out), { q: 'card ****1111', t: 'tok ****' }, 'still JSON, the escapes kept');
  t.same(r.redacted, ['request.body.$.q', 'request.body.$.t']);
  t.same([...r.sensitive].sort(), ['card', 'jwt']);
});

interface Case {
  name: string;
  /** The raw text of a string value (between its quotes). */
  value: string;
  out: string;
  kinds: string[];
}

const cases: Case[] = [
  // Go escapes <, > and & in strings.
  { name: 'Go: a card between \\u0026 and \\u003c', value: 'id\\u00265500000000000004\\u003c', out: 'id\\u0026****0004\\u003c', kinds: ['card'] },
  { name: 'Go: a JWT after \\u0026', value: `a\\u0026${JWT}`, out: 'a\\u0026****', kinds: ['jwt'] },
  // Python escapes every non-ASCII character.
  { name: 'Python: a card right after é', value: 'caf\\u00e94111111111111111', out: 'caf\\u00e9****1111', kinds: ['card'] },
  { name: 'Python: a JWT after a non-breaking space', value: `tok\\u00a0${JWT}`, out: 'tok\\u00a0****', kinds: ['jwt'] },
  { name: 'a JWT after \\u2028 (JavaScript encoders)', value: `x\\u2028${JWT}`, out: 'x\\u2028****', kinds: ['jwt'] },
  { name: 'upper-case hex', value: 'card\\u00A04111111111111111', out: 'card\\u00A0****1111', kinds: ['card'] },
  { name: '\\" before and after a card', value: 'said \\"4111111111111111\\"', out: 'said \\"****1111\\"', kinds: ['card'] },
  { name: '\\" before a JWT', value: `\\"${JWT}\\"`, out: '\\"****\\"', kinds: ['jwt'] },
  { name: '\\/ before a JWT (PHP escapes /)', value: `\\/auth\\/${JWT}`, out: '\\/auth\\/****', kinds: ['jwt'] },
  { name: '\\n before a JWT', value: `line one\\n${JWT}`, out: 'line one\\n****', kinds: ['jwt'] },
  { name: '\\n and \\t before cards', value: 'a\\n4111111111111111\\t5500000000000004', out: 'a\\n****1111\\t****0004', kinds: ['card'] },
  { name: '\\r\\n before a JWT', value: `x\\r\\n${JWT}`, out: 'x\\r\\n****', kinds: ['jwt'] },
  { name: 'a URL password with its slashes escaped', value: 'postgres:\\/\\/shop:pw-91@db:5432\\/x', out: 'postgres:\\/\\/shop:****@db:5432\\/x', kinds: ['url_password'] },
  {
    name: 'escaped spaces between the digit groups: the card is masked whole',
    value: '4111\\u00201111\\u00201111\\u00201111',
    out: '****1111',
    kinds: ['card'],
  },
  { name: 'a digit written as an escape is a digit of the card', value: 'n \\u0034111111111111111', out: 'n ****1111', kinds: ['card'] },
  { name: 'a key written with an escape', value: 'pass\\u0077ord=pw-esc-1 ok', out: 'pass\\u0077ord=**** ok', kinds: ['password'] },
  { name: 'a pair after an escaped &', value: 'a=1\\u0026token=tk-esc-2', out: 'a=1\\u0026token=****', kinds: ['token'] },
  { name: 'a surrogate pair before a card', value: '\\ud83d\\ude00 4111111111111111', out: '\\ud83d\\ude00 ****1111', kinds: ['card'] },
];

for (const c of cases) {
  void t.test(`escapes: ${c.name}`, async (t) => {
    const r = maskRecord({ request: json(`{"v":"${c.value}","n":1}`), redacted: [], sensitive: [] });
    const out = bodyOf(r.request);
    t.equal(out, `{"v":"${c.out}","n":1}`);
    t.doesNotThrow(() => JSON.parse(out), 'valid JSON');
    t.same(r.redacted, ['request.body.$.v']);
    t.same([...r.sensitive].sort(), c.kinds);
  });
}

void t.test('escapes: e-mails are read through escapes too, and masked when the policy says so', async (t) => {
  const policy = resolveMaskPolicy({ maskEmails: true });
  const r = maskRecord({ request: json('{"to":"mail\\nbob\\u0040example.com\\t"}'), redacted: [], sensitive: [] }, policy);
  t.equal(bodyOf(r.request), '{"to":"mail\\n****\\t"}');
  t.same(r.sensitive, ['email']);
  // Before, the `n` of `\n` was taken into the address and the mask broke the escape.
  const plain = maskRecord({ request: json('{"to":"mail\\nbob@example.com"}'), redacted: [], sensitive: [] }, policy);
  t.equal(bodyOf(plain.request), '{"to":"mail\\n****"}');
});

void t.test('escapes: what is no secret stays, escapes and all', async (t) => {
  for (const value of [
    'card\\u00204111111111111112',
    'ts\\u00201700000000000',
    // An escaped backslash, then the letters `u0020`: text, not an escape.
    'x\\\\u00204111111111111111',
    // `tok` and `eyJ…` joined by an escaped letter are one word.
    `tok\\u0065${JWT.slice(1)}`,
    'caf\\u00e9 cr\\u00e8me \\"br\\u00fbl\\u00e9e\\" \\/menu\\/12',
    'line\\nline\\tline\\r\\n\\b\\f',
    '\\u003cb\\u003epassword policy\\u003c/b\\u003e: strong',
  ]) {
    const doc = `{"v":"${value}"}`;
    const r = maskRecord({ request: json(doc), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), doc, value);
    t.same([r.redacted, r.sensitive], [[], []], `${value}: nothing found`);
  }
});

void t.test('escapes: JSON cut by the body limit is read through its escapes as well', async (t) => {
  const doc = `{"a":"x","q":"card\\u00204111111111111111","t":"tok\\u0020${JWT}","more":"tail of the do`;
  const r = maskRecord({ request: json(doc, true), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), '{"a":"x","q":"card\\u0020****1111","t":"tok\\u0020****","more":"tail of the do');
  t.same(r.redacted, ['request.body']);
  t.same([...r.sensitive].sort(), ['card', 'jwt']);
});

void t.test('escapes: masking the escaped text is masking the string it stands for', async (t) => {
  const policy = resolveMaskPolicy({ maskEmails: true });
  // Pieces of a JSON string's raw text: plain characters, escapes, secrets and their parts.
  const piece = fc.constantFrom(
    'a', ' ', '-', '.', '4', 'x', '=', ':', ';', '@', '/',
    '\\u0020', '\\u00e9', '\\u00A0', '\\u0026', '\\u002d', '\\u0034', '\\u0065', '\\n', '\\t', '\\"', '\\\\', '\\/', '\\ud83d\\ude00',
    '4111111111111111', '4111', '1111', JWT, 'eyJhbGciOiJIUzI1NiJ9', 'password=', 'pw-77', 'Token: ', 'bob@example.com', 'https://u:p@h.io/',
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 24 }), (pieces) => {
      const raw = pieces.join('');
      const masked = maskJsonText(raw, policy, () => {});
      const decoded = JSON.parse(`"${raw}"`) as string;
      // Still the text of a JSON string, holding what masking the decoded string gives (where
      // two masks meet, the one scan may write one mask for both).
      const stars = (x: string): string => x.replace(/\*+/g, '*');
      return stars(JSON.parse(`"${masked}"`) as string) === stars(maskText(decoded, policy, () => {}));
    }),
    { numRuns: 3000, seed: 11 },
  );
  t.pass('3000 strings');
});
