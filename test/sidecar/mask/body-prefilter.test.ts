/**
 * The body prefilter lets masking skip decoding a body only when no masker could find anything
 * in it: checked against the maskers themselves on generated bodies built from every trigger
 * (quotes, JWT starts, digits, `@`, key names, the starts of tokens of known formats and of
 * `Bearer` credentials), and through `maskRecord` on each secret kind.
 */
import t from 'tap';
import { bodyMayHoldSecret } from '../../../sidecar/mask/body-prefilter.ts';
import { maskText } from '../../../sidecar/mask/detectors.ts';
import { Findings } from '../../../sidecar/mask/findings.ts';
import { maskJson } from '../../../sidecar/mask/json-mask.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { maskKeyValuePairs } from '../../../sidecar/mask/text-pairs.ts';
import type { HttpMessage } from '../../../record/record.ts';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

/** What the text maskers find in `text` under `policy`: the number of findings. */
function findings(text: string, policy = DEFAULT_MASK_POLICY): number {
  const f = new Findings(Number.POSITIVE_INFINITY);
  maskKeyValuePairs(text, 'body', policy, f);
  let n = f.sensitive.size;
  maskText(text, policy, () => n++);
  const json: Array<unknown> = [];
  maskJson(text, policy, json as never);
  return n + json.length;
}

// A small deterministic generator, so a failure names a reproducible body.
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PIECES = ['b', 'x', ' ', '-', '.', ':', '=', '{', '}', '[', ']', '1', '4', '7', '0', '4111 1111 1111 1111', '@', 'a@b.cd', 'eyJ', JWT, '"password": "hunter2"', '"token":"t"', 'password', '"', '\n', 'é'];
/** The parts of the tokens of `token-formats.ts` (no digit, quote, `:` or `=`): whole tokens, cut ones and near misses. */
const TOKEN_PIECES = [
  'Bearer', 'bearer', ' ', '\t', 'abcDEFghiJKL', 'gh', 'p', '_', 'github', 'pat', 'xoxb', '-', 'AKIA', 'KIA', 'QWERTYUIOPSDFGHJ',
  'bQwErTyUiOpsDfGhJkLzXcVbNmQwErTyUiOpZs', 'b', 'Bearer abcDEFghiJKL', 'ghp_bQwErTyUiOpsDfGhJkLzXcVbNmQwErTyUiOpZs', 'xoxb-bcdefghijk', 'AKIAQWERTYUIOPSDFGHJ',
];

void t.test('a body the prefilter passes over gives the maskers nothing to find', async (t) => {
  const random = lcg(7);
  for (const [name, pieces] of [['secrets', PIECES], ['tokens', TOKEN_PIECES]] as const) {
  let skipped = 0;
  let found = 0;
  for (let i = 0; i < 20_000; i++) {
    let text = '';
    const parts = 1 + Math.floor(random() * 12);
    for (let k = 0; k < parts; k++) text += pieces[Math.floor(random() * pieces.length)];
    const body = Buffer.from(text, 'utf8');
    const n = findings(text);
    if (n > 0) found++;
    if (!bodyMayHoldSecret(body, DEFAULT_MASK_POLICY)) {
      skipped++;
      if (n > 0) t.fail(`skipped a body with ${n} findings: ${JSON.stringify(text)}`);
    }
  }
  // Both kinds occur, or the check above proves nothing.
  t.ok(skipped > 500, `${name}: ${skipped} bodies skipped`);
  t.ok(found > 500, `${name}: ${found} bodies with findings`);
  }
});

void t.test('each trigger on its own keeps the body scanned', async (t) => {
  const filler = 'b'.repeat(200);
  for (const secret of ['"k": 1', 'eyJ', '4111111111111', ...'0123456789', 'password=x', 'token: x', '=', ':', 'Bearer abcDEFghiJKL', 'ghp_', 'github_pat_', 'xoxb-', 'AKIA', 'ASIA', 'glpat-', 'npm_', 'sk-', 'SG.', 'ya29.', 'BEGIN PRIVATE KEY']) {
    t.ok(bodyMayHoldSecret(Buffer.from(filler + secret + filler), DEFAULT_MASK_POLICY), secret);
  }
  // `-` is a trigger (Slack, GitLab, OpenAI).
  t.notOk(bodyMayHoldSecret(Buffer.from(`${filler};{}[]/\\${filler}`), DEFAULT_MASK_POLICY), 'other punctuation alone');
  t.notOk(bodyMayHoldSecret(Buffer.from(`${filler}eyyJJ${filler}`), DEFAULT_MASK_POLICY), 'a J without eyJ');
  t.ok(bodyMayHoldSecret(Buffer.from(`${filler}a@b.cd`), DEFAULT_MASK_POLICY), 'e-mails are detected by default');
  t.notOk(bodyMayHoldSecret(Buffer.from(`${filler}a@b.cd`), resolveMaskPolicy({ detectEmails: false })), 'not when the policy leaves them out');
  t.ok(bodyMayHoldSecret(Buffer.from(filler), resolveMaskPolicy({ patterns: ['literal:zzzz'] })), 'user patterns always scan');
  // A view into a larger buffer reads only its own bytes.
  const big = Buffer.from(`"${filler}"`);
  t.notOk(bodyMayHoldSecret(big.subarray(1, big.length - 1), DEFAULT_MASK_POLICY));
});

const message = (body: Buffer | string, contentType: string): HttpMessage => {
  const bytes = Buffer.from(body);
  return { headers: {}, body: bytes, body_size: bytes.length, truncated: false, content_type: contentType };
};

void t.test('maskRecord: opaque bodies come back as the same bytes, secrets in any body are still masked', async (t) => {
  const request = message(Buffer.alloc(1024, 'b'), 'application/octet-stream');
  const r = maskRecord({ request });
  t.equal(r.request?.body, request.body, 'the very same bytes');
  t.same(r.sensitive, []);

  const binary = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00]), Buffer.from(' card 4111 1111 1111 1111 ')]);
  const b = maskRecord({ request: message(binary, 'application/octet-stream') });
  t.same(b.sensitive, ['card']);
  const masked = Buffer.from(b.request!.body);
  t.equal(masked.length, binary.length, 'masked byte for byte');
  t.notOk(masked.includes(Buffer.from('4111 1111 1111')), 'the number is gone');

  const form = maskRecord({ request: message('password=hunter2&x=1', 'application/x-www-form-urlencoded') });
  t.same(form.redacted, ['request.body.password'], 'forms are masked without quotes');
  t.equal(Buffer.from(form.request!.body).toString(), 'password=****&x=1');

  const jwt = maskRecord({ response: message(`token ${JWT} end`, 'text/plain') });
  t.same(jwt.sensitive, ['jwt']);
});
