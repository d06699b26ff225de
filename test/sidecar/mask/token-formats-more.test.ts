/**
 * Tokens a security review found stored in clear, by their registered shapes: GitLab access
 * tokens (`glpat-`), npm tokens (`npm_`), OpenAI API keys (`sk-proj-`, `sk-svcacct-`,
 * `sk-admin-`, legacy `sk-` and 48), SendGrid API keys (`SG.…….……`) and Google OAuth access
 * tokens (`ya29.`). Each is masked whole, with its own kind, wherever the text detectors run
 * (JSON values, plain-text bodies, headers that are not sensitive, query values, cut bodies),
 * starts a word as the other token formats do, and ordinary text that merely starts like one
 * (`sk-learn`, `SG.com`, `npm_config_cache`) stays. The prefilters (the body's bytes, the JSON
 * values' triggers, the text's starts) agree with the finders, and the finders stay linear.
 */
import t from 'tap';
import { collectorMessageType } from '../../../record/codec.ts';
import { chunkedThroughEngine } from './through-engine.ts';
import { bodyMayHoldSecret } from '../../../sidecar/mask/body-prefilter.ts';
import { scanTriggers } from '../../../sidecar/mask/detectors.ts';
import { maskJson } from '../../../sidecar/mask/json-mask.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { findCutToken, findPrefixedTokens, mayHoldToken } from '../../../sidecar/mask/token-formats.ts';
import { bodyOf, growth, masked, message } from './text-kit.ts';

// Made up, in the formats' shapes.
const GITLAB = 'glpat-x7Gq2Lm9Pz4Rt6_Vw8Yb';
const NPM = 'npm_x7Gq2Lm9Pz4Rt6Vw8Yb1Nc3Kd5Hf0Js2Qa4W';
const OPENAI_PROJECT = 'sk-proj-Ab3dE5gH7jK9mN1p_Q3sT5vW7yZ9-aB3dE5gH7j';
const OPENAI_SERVICE = 'sk-svcacct-Zx9y8W7v6U5t4S3r2Q1pOnMl';
const OPENAI_ADMIN = 'sk-admin-0a1B2c3D4e5F6g7H8i9J_kLm';
const OPENAI_LEGACY = 'sk-Ab3dE5gH7jK9mN1pQ3sT5vW7T3BlbkFJyZ9aB3dE5gH7jK9m';
const SENDGRID = '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';
const GOOGLE_OAUTH = 'ya29.a0AfH6SMBx7Gq2Lm9Pz4Rt6Vw8-Yb1Nc3Kd5Hf0_Js2Qa4W';

const FORMATS: Array<[string, string]> = [
  [GITLAB, 'gitlab_token'],
  [NPM, 'npm_token'],
  [OPENAI_PROJECT, 'openai_key'],
  [OPENAI_SERVICE, 'openai_key'],
  [OPENAI_ADMIN, 'openai_key'],
  [OPENAI_LEGACY, 'openai_key'],
  [SENDGRID, 'sendgrid_key'],
  [GOOGLE_OAUTH, 'google_oauth_token'],
];



void t.test('the test values have the shapes the formats have', async (t) => {
  t.ok(/^glpat-[\w-]{20,}$/.test(GITLAB));
  t.ok(/^npm_[A-Za-z0-9]{36}$/.test(NPM));
  t.ok(/^sk-proj-[\w-]{20,}$/.test(OPENAI_PROJECT));
  t.ok(/^sk-svcacct-[\w-]{20,}$/.test(OPENAI_SERVICE));
  t.ok(/^sk-admin-[\w-]{20,}$/.test(OPENAI_ADMIN));
  t.ok(/^sk-[A-Za-z0-9]{48}$/.test(OPENAI_LEGACY));
  t.ok(/^SG\.[\w-]{22}\.[\w-]{43}$/.test(SENDGRID));
  t.ok(/^ya29\.[\w-]{20,}$/.test(GOOGLE_OAUTH));
});

void t.test('each format: masked whole, with its kind, wherever a token starts a word', async (t) => {
  for (const [token, kind] of FORMATS) {
    for (const [text, out, form] of [
      [token, '****'],
      [`key ${token} end`, 'key **** end'],
      [`"${token}",`, '"****",'],
      [`X=${token};`, 'X=****;'],
      [`(${token})`, '(****)'],
      [`a-${token}`, 'a-****'],
      [`/v1?note=${token}&x=1`, '/v1?note=****&x=1', true],
      [`tok%20${token}%22`, 'tok%20****%22'],
      [`q%3D${token}`, 'q%3D****'],
      [`${token}, ${token}`, '****, ****'],
    ] as Array<[string, string, boolean?]>) {
      const m = masked(text, DEFAULT_MASK_POLICY, form === true);
      t.equal(m.out, out, text);
      t.same(m.kinds, out === '****, ****' ? [kind, kind] : [kind], `${text}: ${kind}`);
    }
  }
});

void t.test('through maskRecord: a JSON value, a plain-text body, a header that is not sensitive, a query value', async (t) => {
  const json = JSON.stringify({
    ci: `GITLAB_TOKEN=${GITLAB} NPM=${NPM}`,
    openai: OPENAI_PROJECT,
    legacy: `sent ${OPENAI_LEGACY}`,
    mail: SENDGRID,
    google: `token ${GOOGLE_OAUTH} expired`,
    keep: 'sk-learn and SG.com',
  });
  const r = maskRecord({
    path: `/v1/hooks?note=${GOOGLE_OAUTH}&page=2`,
    request: message(json, 'application/json', { 'x-debug': `retried with ${OPENAI_SERVICE}`, 'x-trace': 'risk-free' }),
    response: message(`npm ${NPM} and gitlab ${GITLAB} and ${SENDGRID} and ${OPENAI_ADMIN} rotated`, 'text/plain'),
    redacted: [],
    sensitive: [],
  });
  t.same(JSON.parse(bodyOf(r.request)), {
    ci: 'GITLAB_TOKEN=**** NPM=****',
    openai: '****',
    legacy: 'sent ****',
    mail: '****',
    google: 'token **** expired',
    keep: 'sk-learn and SG.com',
  });
  t.equal(bodyOf(r.response), 'npm **** and gitlab **** and **** and **** rotated');
  t.same(r.request?.headers, { 'x-debug': 'retried with ****', 'x-trace': 'risk-free' });
  t.equal(r.path, '/v1/hooks?note=****&page=2');
  t.same(
    [...r.redacted].sort(),
    ['path', 'request.body.$.ci', 'request.body.$.google', 'request.body.$.legacy', 'request.body.$.mail', 'request.body.$.openai', 'request.headers.x-debug', 'response.body'],
  );
  t.same([...r.sensitive].sort(), ['gitlab_token', 'google_oauth_token', 'npm_token', 'openai_key', 'sendgrid_key']);
  // Under a secret key the token is reported as what it is, as the other formats are.
  const under = maskRecord({ request: message(`token=${NPM}&x=1`, 'text/plain'), redacted: [], sensitive: [] });
  t.equal(bodyOf(under.request), 'token=****&x=1');
  t.same(under.sensitive, ['npm_token']);
  // A sensitive header is masked whole; the token in it is reported.
  const header = maskRecord({ request: message('', undefined, { authorization: `Bearer ${GITLAB}` }), redacted: [], sensitive: [] });
  t.same(header.request?.headers, { authorization: 'Bearer ****' });
  t.same([...header.sensitive].sort(), ['authorization', 'gitlab_token']);
});

void t.test('JSON string values read through their escapes, binary bodies byte for byte, multipart parts', async (t) => {
  const doc = `{"a":"tok\\n${GITLAB}","b":"\\"${SENDGRID}\\"","c":"x\\u0020${OPENAI_LEGACY}"}`;
  const r = maskRecord({ request: message(doc, 'application/json'), redacted: [], sensitive: [] });
  const out = bodyOf(r.request);
  t.equal(out, '{"a":"tok\\n****","b":"\\"****\\"","c":"x\\u0020****"}');
  t.same(JSON.parse(out), { a: 'tok\n****', b: '"****"', c: 'x ****' }, 'still JSON');
  t.same([...r.sensitive].sort(), ['gitlab_token', 'openai_key', 'sendgrid_key']);

  const bin = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x12]), Buffer.from(`\x0a\x28${NPM}\x12\x06${GOOGLE_OAUTH}`), Buffer.from([0xc3])]);
  const b = maskRecord({ response: message(bin, 'application/x-protobuf'), redacted: [], sensitive: [] });
  const bytes = Buffer.from(b.response?.body ?? []);
  t.equal(bytes.length, bin.length, 'same length');
  t.equal(bytes.subarray(4).toString('latin1'), `\x0a\x28${'*'.repeat(NPM.length)}\x12\x06${'*'.repeat(GOOGLE_OAUTH.length)}\xc3`);
  t.same([...b.sensitive].sort(), ['google_oauth_token', 'npm_token']);

  const body = `--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nsee ${OPENAI_PROJECT} and ${GITLAB}\r\n--b--\r\n`;
  const mp = maskRecord({ request: message(body, 'multipart/form-data; boundary=b'), redacted: [], sensitive: [] });
  t.equal(bodyOf(mp.request), '--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nsee **** and ****\r\n--b--\r\n');
  t.same([...mp.sensitive].sort(), ['gitlab_token', 'openai_key']);
});

void t.test('a token starts a word: not inside one, not in another case', async (t) => {
  for (const [token] of FORMATS) {
    for (const text of [`x${token}`, `a_${token}`, `9${token}`, `Z${token}`]) {
      t.same(masked(text), { out: text, kinds: [] }, text);
    }
  }
  const kept = [
    `GLPAT-${GITLAB.slice(6)}`,
    `NPM_${NPM.slice(4)}`,
    `SK-PROJ-${OPENAI_PROJECT.slice(8)}`,
    `Sk-${OPENAI_LEGACY.slice(3)}`,
    `sg.${SENDGRID.slice(3)}`,
    `YA29.${GOOGLE_OAUTH.slice(5)}`,
    // Inside a word that only ends like a prefix.
    `task-${OPENAI_LEGACY.slice(3)}`,
    `risk-${OPENAI_PROJECT.slice(3)}`,
    `xnpm_${NPM.slice(4)}`,
    `BSG.${SENDGRID.slice(3)}`,
    `aya29.${GOOGLE_OAUTH.slice(5)}`,
  ];
  for (const text of kept) {
    t.same(masked(text), { out: text, kinds: [] }, text);
    t.same(masked(`see ${text} now`), { out: `see ${text} now`, kinds: [] }, `in a sentence: ${text}`);
  }
});

void t.test('near misses stay: each format requires its exact shape', async (t) => {
  const kept = [
    // GitLab: 19 characters after the prefix.
    `glpat-${'a'.repeat(19)}`,
    'glpat-',
    'glpat-token-here',
    // npm: 35 or 37 letters and digits, or a word character right after 36.
    NPM.slice(0, -1),
    `${NPM}x`,
    `${NPM}_1`,
    `npm_${'a'.repeat(20)}`,
    'npm_config_cache',
    'npm_package_version=1.2.3',
    // OpenAI: prose, a project key too short, a legacy key of 47 or 49, or followed by `_`.
    'sk-learn',
    'pip install sk-learn scikit-learn',
    `sk-proj-${'a'.repeat(19)}`,
    'sk-proj-',
    OPENAI_LEGACY.slice(0, -1),
    `${OPENAI_LEGACY}x`,
    `${OPENAI_LEGACY}_1`,
    `sk-proj${'a'.repeat(48)}`,
    `sk-live-${'a'.repeat(24)}`,
    // SendGrid: anything but 22, `.`, 43.
    'SG.com',
    'SG.',
    'visit SG.com.sg today',
    `SG.${'a'.repeat(21)}.${'b'.repeat(43)}`,
    `SG.${'a'.repeat(23)}.${'b'.repeat(43)}`,
    `SG.${'a'.repeat(22)}.${'b'.repeat(42)}`,
    `SG.${'a'.repeat(22)}.${'b'.repeat(44)}`,
    `SG.${'a'.repeat(22)}-${'b'.repeat(43)}`,
    `SG.${'a'.repeat(22)}`,
    // Google OAuth: 19 characters after the prefix.
    `ya29.${'a'.repeat(19)}`,
    'ya29.',
    // Ordinary text that holds the prefixes.
    'the desk-top and risk-free task-list',
    'a SG. b ya29. c glpat- d npm_ e sk-',
  ];
  for (const text of kept) {
    t.same(masked(text), { out: text, kinds: [] }, text);
    t.same(masked(`see ${text} now`), { out: `see ${text} now`, kinds: [] }, `in a sentence: ${text}`);
  }
  const r = maskRecord({
    path: '/pkg?name=sk-learn&site=SG.com',
    request: message(JSON.stringify({ env: 'npm_config_cache=/tmp/npm', lib: 'sk-learn', domain: 'SG.com' }), 'application/json', { 'x-note': 'risk-free' }),
    response: message('glpat- tokens look like glpat-<20 characters>', 'text/plain'),
    redacted: [],
    sensitive: [],
  });
  t.same([r.redacted, r.sensitive], [[], []]);
});

void t.test("Stripe's keys stay Stripe's, and the other formats keep their own", async (t) => {
  const stripe = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';
  t.same(masked(`x ${stripe} y`), { out: 'x **** y', kinds: ['stripe_key'] });
  t.same(masked(`x sk_test_${'a1B2'.repeat(6)}`), { out: 'x ****', kinds: ['stripe_key'] });
  t.same(masked('pk_live_4eC39HqLyjWDarjtT1zdp7dc'), { out: 'pk_live_4eC39HqLyjWDarjtT1zdp7dc', kinds: [] });
  const spans = (s: string): string[] => findPrefixedTokens(s).map((x) => `${x.kind}:${s.slice(x.start, x.end)}`);
  t.same(spans(`${stripe} ${OPENAI_LEGACY} ${NPM}`), [`stripe_key:${stripe}`, `openai_key:${OPENAI_LEGACY}`, `npm_token:${NPM}`]);
  t.same(spans(`ghp_${'a'.repeat(36)} ${GITLAB}`), [`github_token:ghp_${'a'.repeat(36)}`, `gitlab_token:${GITLAB}`]);
  // The first formats alone, when the text holds none of the others' shapes.
  t.same(findPrefixedTokens(`${stripe} ${GITLAB}`, false).map((x) => x.kind), ['stripe_key']);
});

void t.test('a token after a dash inside a run that is no token is still found', async (t) => {
  const spans = (s: string): string[] => findPrefixedTokens(s).map((x) => `${x.kind}:${s.slice(x.start, x.end)}`);
  // A Google API key's prefix whose run is too long, then a GitLab token after one of its dashes.
  t.same(spans(`AIza-${GITLAB}`), [`gitlab_token:${GITLAB}`]);
  // A GitLab prefix whose run is too short, then a Slack token after one of its dashes.
  t.same(spans('glpat-x-xoxb-1234567890'), ['slack_token:xoxb-1234567890']);
  // A SendGrid key whose first part is too short: a Google OAuth token after its dot.
  t.same(spans(`SG.abc.${GOOGLE_OAUTH}`), [`google_oauth_token:${GOOGLE_OAUTH}`]);
  t.same(spans(`sk-proj-a-${GITLAB}`), [`openai_key:sk-proj-a-${GITLAB}`], 'inside a whole one: one token');
});

void t.test('a body cut short at the start of a token: masked as what it starts', async (t) => {
  const cuts: Array<[string, string, string]> = [
    [`note ${GITLAB.slice(0, 7)}`, 'note ****', 'gitlab_token'],
    [`note ${GITLAB.slice(0, 25)}`, 'note ****', 'gitlab_token'],
    [`{"k":"${NPM.slice(0, 5)}`, '{"k":"****', 'npm_token'],
    [`x=${NPM.slice(0, -1)}`, 'x=****', 'npm_token'],
    [`note ${OPENAI_PROJECT.slice(0, 4)}`, 'note ****', 'openai_key'],
    [`note ${OPENAI_PROJECT.slice(0, 12)}`, 'note ****', 'openai_key'],
    [`note ${OPENAI_SERVICE.slice(0, 20)}`, 'note ****', 'openai_key'],
    [`note ${OPENAI_LEGACY.slice(0, -1)}`, 'note ****', 'openai_key'],
    [`note ${SENDGRID.slice(0, 4)}`, 'note ****', 'sendgrid_key'],
    [`note ${SENDGRID.slice(0, 26)}`, 'note ****', 'sendgrid_key'],
    [`note ${SENDGRID.slice(0, -1)}`, 'note ****', 'sendgrid_key'],
    [`tok%20${GOOGLE_OAUTH.slice(0, 9)}`, 'tok%20****', 'google_oauth_token'],
  ];
  for (const [text, out, kind] of cuts) {
    const r = maskRecord({ request: message(text, 'text/plain', {}, true), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), out, text);
    t.same([r.redacted, r.sensitive], [['request.body'], [kind]], `${text}: ${kind}`);
  }
  t.same(findCutToken(`x ${SENDGRID.slice(0, 60)}`), { start: 2, kind: 'sendgrid_key' });
  t.same(findCutToken(`x ${OPENAI_LEGACY.slice(0, 40)}`), { start: 2, kind: 'openai_key' });
  const kept: Array<[string, boolean]> = [
    // Not cut: a body may end in anything.
    [`note ${GITLAB.slice(0, 12)}`, false],
    [`note ${SENDGRID.slice(0, 30)}`, false],
    // Cut, but a prefix alone, a prefix inside a word, or longer than a whole one.
    ['note glpat-', true],
    ['note sk-', true],
    ['note SG.', true],
    [`task-${OPENAI_LEGACY.slice(3, 20)}`, true],
    [`xnpm_${NPM.slice(4, 10)}`, true],
    [`${SENDGRID.slice(0, 25)}.${'b'.repeat(44)}`, true],
    [`note sk-${'a'.repeat(49)}`, true],
  ];
  for (const [text, truncated] of kept) {
    const r = maskRecord({ request: message(text, 'text/plain', {}, truncated), redacted: [], sensitive: [] });
    t.equal(bodyOf(r.request), text, `${text} (${truncated ? 'cut' : 'whole'})`);
    t.same(r.sensitive, [], `${text}: nothing found`);
  }
  // The scan budget cuts a body the same way.
  const budget = resolveMaskPolicy({ scanBudgetBytes: 16 });
  const b = maskRecord({ request: message(`{"n":"${SENDGRID}"}`, 'application/json'), redacted: [], sensitive: [] }, budget);
  t.equal(bodyOf(b.request), '{"n":"****');
  t.same(b.sensitive, ['sendgrid_key']);
});

void t.test('found without any other trigger: no space, digit, quote, colon, or e-mail detection', async (t) => {
  const policy = resolveMaskPolicy({ detectEmails: false });
  const letters = 'xGqLmPzRtVwYbNcKdHfJsQaWeRtYuIoPaSdFgHjKlZxCvBnMqWeR';
  const bodies = [
    `glpat-${letters.slice(0, 20)}`,
    `npm_${letters.slice(0, 36)}`,
    `sk-proj-${letters.slice(0, 24)}`,
    `sk-${letters.slice(0, 48)}`,
    `SG.${letters.slice(0, 22)}.${letters.slice(0, 43)}`,
    `ya29.${letters.slice(0, 30)}`,
  ];
  for (const text of bodies) {
    t.ok(bodyMayHoldSecret(Buffer.from(text), policy), `the body prefilter passes ${text}`);
    t.ok(mayHoldToken(text), `the starts: ${text}`);
    const r = maskRecord({ request: message(text, 'text/plain') }, policy);
    t.equal(bodyOf(r.request), '****', `plain text body: ${text}`);
    const doc = JSON.stringify({ a: text, b: 'plain' });
    t.equal(maskJson(doc, policy, []), JSON.stringify({ a: '****', b: 'plain' }), `JSON string value (the scan triggers): ${text}`);
    t.ok(scanTriggers(doc, policy)(6, 6 + text.length), `a trigger in the value: ${text}`);
    t.notOk(scanTriggers(`{"a":"${'b'.repeat(40)}","b":"${text}"}`, policy)(6, 46), `no trigger in the value before it: ${text}`);
  }
  t.notOk(bodyMayHoldSecret(Buffer.alloc(1024, 'b'), policy), 'a body holding none of their bytes is still skipped');
  t.notOk(mayHoldToken('the desk-top and risk-free task-list of SG.com'), 'prose holding prefixes holds no start');
});

// A small deterministic generator, so a failure names a reproducible text.
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Parts of the tokens (whole ones, their prefixes, runs one short, near misses). */
const PIECES = [
  'glpat-', 'npm_', 'sk-', 'sk-proj-', 'sk-admin-', 'SG.', 'ya29.', '.', '-', '_', 'b', 'x', 'G', 'S', 'k',
  'abcdefghijKLMNOPQRST', 'abcdefghijKLMNOPQRS', 'abcdefghijKLMNOPQRSTuvwxyzABCDEFGHIJ', 'abcdefghijKLMNOPQRSTuvwxyzABCDEFGHIJKLMNOPQRSTUV',
  'abcdefghijKLMNOPQRSTuv', 'abcdefghijKLMNOPQRSTuvwxyzABCDEFGHIJKLMNOPQ', GITLAB, NPM, OPENAI_PROJECT, OPENAI_LEGACY, SENDGRID, GOOGLE_OAUTH,
];

void t.test('the prefilters agree with the finders on generated text', async (t) => {
  const random = lcg(11);
  const policy = resolveMaskPolicy({ detectEmails: false });
  let skipped = 0;
  let found = 0;
  let unstarted = 0;
  for (let i = 0; i < 20_000; i++) {
    let text = '';
    const parts = 1 + Math.floor(random() * 8);
    for (let k = 0; k < parts; k++) text += PIECES[Math.floor(random() * PIECES.length)];
    const cut = random() < 0.3;
    const m = masked(text, policy, false, cut);
    if (m.kinds.length > 0) found++;
    if (!bodyMayHoldSecret(Buffer.from(text), policy)) {
      skipped++;
      if (m.kinds.length > 0) t.fail(`the body prefilter skipped ${JSON.stringify(text)}: ${m.kinds.join(', ')}`);
    }
    if (!mayHoldToken(text, cut)) {
      unstarted++;
      if (m.kinds.length > 0) t.fail(`no start in ${JSON.stringify(text)} (cut: ${cut}): ${m.kinds.join(', ')}`);
    }
    if (!cut) {
      const doc = JSON.stringify({ v: text });
      if (!scanTriggers(doc, policy)(6, 6 + text.length) && m.kinds.length > 0) t.fail(`no trigger in the value ${JSON.stringify(text)}: ${m.kinds.join(', ')}`);
    }
  }
  // Each kind of text occurs, or the checks above prove nothing.
  t.ok(found > 1000, `${found} texts with findings`);
  t.ok(unstarted > 1000, `${unstarted} texts without a start`);
  t.ok(skipped > 100, `${skipped} bodies skipped`);
});

void t.test('through the capture worker: a chunked body split inside each token, fed in pieces of every size', async (t) => {
  const recordType = collectorMessageType('meshtap.v1.CallRecord');
  const text = `{"log":"sent ${GITLAB} to ${SENDGRID} as ${OPENAI_PROJECT} via ${NPM} and ${GOOGLE_OAUTH}"}`;
  const cuts = [text.indexOf('glpat') + 3, text.indexOf('SG.') + 2, text.indexOf('SG.') + 27, text.indexOf('sk-') + 5, text.indexOf('npm_') + 4, text.indexOf('ya29') + 4];
  for (const size of [1, 3, 7, 64, 100_000]) {
    const shipped = chunkedThroughEngine(text, cuts, size);
    t.equal(shipped.length, 1, `pieces of ${size}: one record`);
    const bytes = Buffer.concat(shipped.map((b) => Buffer.from(b)));
    for (const secret of [GITLAB.slice(6), SENDGRID.slice(3), OPENAI_PROJECT.slice(8), NPM.slice(4), GOOGLE_OAUTH.slice(5)]) {
      t.notOk(bytes.includes(Buffer.from(secret)), `pieces of ${size}: ${secret} is not shipped`);
    }
    const record = recordType.toObject(recordType.decode(shipped[0]), { longs: String }) as { request?: { body: Uint8Array }; sensitive?: string[] };
    t.equal(Buffer.from(record.request?.body ?? []).toString(), '{"log":"sent **** to **** as **** via **** and ****"}', `pieces of ${size}: the body`);
    t.same([...(record.sensitive ?? [])].sort(), ['gitlab_token', 'google_oauth_token', 'npm_token', 'openai_key', 'sendgrid_key'], `pieces of ${size}: the kinds`);
  }
});


void t.test('the finders are linear on hostile input', async (t) => {
  const policy = resolveMaskPolicy({ scanBudgetBytes: 64 * 1024 * 1024 });
  const hostile: Array<[string, (n: number) => () => unknown]> = [
    ['Google prefixes in one dash run', (n) => () => findPrefixedTokens('AIza-'.repeat(n / 5))],
    ['GitLab prefixes, each run too short', (n) => () => findPrefixedTokens('glpat-abc '.repeat(n / 10))],
    ['SendGrid prefixes back to back', (n) => () => findPrefixedTokens('SG.'.repeat(n / 3))],
    ['SendGrid first parts whole, second ones too long', (n) => () => findPrefixedTokens(`SG.${'a'.repeat(22)}.${'b'.repeat(60)} `.repeat(n / 87))],
    ['SendGrid, then a second part of n', (n) => () => findPrefixedTokens(`SG.${'a'.repeat(22)}.${'b'.repeat(n)}`)],
    ['OpenAI prefixes in one dash run', (n) => () => findPrefixedTokens('sk-proj-a-'.repeat(n / 10))],
    ['OpenAI legacy runs one too long', (n) => () => findPrefixedTokens(`sk-${'a'.repeat(49)} `.repeat(n / 53))],
    ['npm prefixes, then a run of n', (n) => () => findPrefixedTokens(`npm_${'a'.repeat(n)}`)],
    ['every prefix, repeated', (n) => () => findPrefixedTokens('glpat-npm_sk-SG.ya29.AIza-'.repeat(n / 26))],
    ['cut: every prefix to the end', (n) => () => findCutToken('glpat-npm_sk-SG.ya29.'.repeat(n / 21))],
    ['record: a text body of every prefix, cut', (n) => () => maskRecord({ request: message('sk-proj-x SG.a.b glpat-y npm_z ya29.q '.repeat(n / 38), 'text/plain', {}, true) }, policy)],
    ['record: a JSON body of near misses', (n) => () => maskRecord({ request: message(JSON.stringify({ a: `sk-learn SG.com glpat-${'a'.repeat(19)} `.repeat(n / 45) }), 'application/json') }, policy)],
  ];
  for (const [name, make] of hostile) {
    const { small, large } = growth(make);
    t.ok(small > 0, `${name}: the meter counted work`);
    t.ok(large / small < 2.3, `${name}: 2n costs ${(large / small).toFixed(2)}× n`);
    t.ok(large / 80_000 < 40, `${name}: ${(large / 80_000).toFixed(1)} steps per character`);
  }
});
