/**
 * Private keys a security review found stored in clear: PEM (PKCS#1, PKCS#8, SEC1, DSA,
 * encrypted PKCS#8), OpenSSH, PGP and PuTTY keys in a JSON string value (newlines written `\n`),
 * a text body, a multipart part, a response body, a header value, a query. The material between
 * the marker lines is masked (kind `private_key`), the markers kept; a body cut short after a
 * BEGIN line is masked to its end; certificates, public keys and prose about the markers stay.
 */
import t from 'tap';
import { recordBatchEncoder, recordToProto } from '../../../record/codec.ts';
import type { CallRecord } from '../../../record/record.ts';
import { paymentCallRecord } from '../../proto/record-fixtures.ts';
import { bodyMayHoldSecret } from '../../../sidecar/mask/body-prefilter.ts';
import { maskText, scanTriggers } from '../../../sidecar/mask/detectors.ts';
import { maskJson } from '../../../sidecar/mask/json-mask.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { findPrivateKeys } from '../../../sidecar/mask/private-key.ts';
import { mayHoldToken } from '../../../sidecar/mask/token-formats.ts';
import { bodyOf, growth, message } from './text-kit.ts';

// A small deterministic generator: key material that is no key.
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** `bytes` random bytes in base64, in lines of 64 (PEM's) or `width`. */
function material(seed: number, bytes: number, width = 64): string[] {
  const random = lcg(seed);
  const b64 = Buffer.from(Array.from({ length: bytes }, () => Math.floor(random() * 256))).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += width) lines.push(b64.slice(i, i + width));
  return lines;
}

const pem = (label: string, lines: string[], eol = '\n'): string => [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`].join(eol);

const RSA_LINES = material(1, 600);
const PKCS8_LINES = material(2, 400);
const RSA = pem('RSA PRIVATE KEY', RSA_LINES);
const PKCS8 = pem('PRIVATE KEY', PKCS8_LINES);
const CERT = pem('CERTIFICATE', material(3, 300));


function masked(text: string, cut = false, formEncoded = false): { out: string; kinds: string[] } {
  const kinds: string[] = [];
  const out = maskText(text, DEFAULT_MASK_POLICY, (k, m) => kinds.push(m ? k : `${k}?`), false, formEncoded, cut);
  return { out, kinds };
}

/** What a masked PEM looks like: the markers, the material one `****`. */
const maskedPem = (label: string, eol = '\n'): string => `-----BEGIN ${label}-----${eol}****${eol}-----END ${label}-----`;

void t.test('each label: the material between the marker lines masked, the markers kept', async (t) => {
  for (const label of ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'DSA PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'PGP PRIVATE KEY BLOCK']) {
    const key = pem(label, material(label.length, 300, label.startsWith('OPENSSH') ? 70 : 64));
    t.same(masked(key), { out: maskedPem(label), kinds: ['private_key'] }, label);
    t.same(masked(`key:\n${key}\nend`), { out: `key:\n${maskedPem(label)}\nend`, kinds: ['private_key'] }, `${label} in text`);
    t.same(masked(pem(label, material(9, 300), '\r\n')), { out: maskedPem(label, '\r\n'), kinds: ['private_key'] }, `${label}, CRLF`);
  }
  // An encrypted PKCS#1 key's headers are inside the markers: masked with the material.
  const legacy = pem('RSA PRIVATE KEY', ['Proc-Type: 4,ENCRYPTED', 'DEK-Info: AES-128-CBC,3F2504E04F8911D39A0C0305E82C3301', '', ...material(4, 300)]);
  t.same(masked(legacy), { out: maskedPem('RSA PRIVATE KEY'), kinds: ['private_key'] });
  // PGP armour: its headers and checksum too.
  const pgp = pem('PGP PRIVATE KEY BLOCK', ['Version: GnuPG v2', '', ...material(5, 300), '=nU3x']);
  t.same(masked(pgp), { out: maskedPem('PGP PRIVATE KEY BLOCK'), kinds: ['private_key'] });
  // Two keys, and the text between them.
  t.same(masked(`a ${RSA} b ${PKCS8} c`), { out: `a ${maskedPem('RSA PRIVATE KEY')} b ${maskedPem('PRIVATE KEY')} c`, kinds: ['private_key', 'private_key'] });
});

void t.test('a JSON string value with \\n escapes: the escapes around the mask kept, the document still JSON', async (t) => {
  const doc = JSON.stringify({ name: 'deploy', pem: RSA, note: `rotated ${PKCS8}` });
  t.ok(doc.includes('\\n'), 'the newlines are escapes');
  const r = maskRecord({ request: message(doc, 'application/json'), redacted: [], sensitive: [] });
  const out = bodyOf(r.request);
  t.equal(out, `{"name":"deploy","pem":"-----BEGIN RSA PRIVATE KEY-----\\n****\\n-----END RSA PRIVATE KEY-----","note":"rotated -----BEGIN PRIVATE KEY-----\\n****\\n-----END PRIVATE KEY-----"}`);
  t.same(JSON.parse(out), { name: 'deploy', pem: maskedPem('RSA PRIVATE KEY'), note: `rotated ${maskedPem('PRIVATE KEY')}` });
  t.same(r.redacted, ['request.body.$.pem', 'request.body.$.note']);
  t.same(r.sensitive, ['private_key']);
  // A service account file (Google's): the key under `private_key` goes whole with its key.
  const account = JSON.stringify({ type: 'service_account', private_key_id: 'abc', private_key: `${PKCS8}\n`, client_email: 'ci@p.iam.example' });
  const sa = maskRecord({ request: message(account, 'application/json'), redacted: [], sensitive: [] });
  t.notOk(bodyOf(sa.request).includes(PKCS8_LINES[1]), 'the material is not shipped');
  t.equal((JSON.parse(bodyOf(sa.request)) as { type: string }).type, 'service_account');
});

void t.test('a text body, a multipart part, a response body, header values, a query, a binary body', async (t) => {
  const boundary = 'b0undary';
  const multipart = [
    `--${boundary}`,
    'Content-Disposition: form-data; name="file"; filename="id_rsa"',
    'Content-Type: application/octet-stream',
    '',
    RSA,
    `--${boundary}`,
    'Content-Disposition: form-data; name="comment"',
    '',
    'deploy key',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  const singleLine = `${['-----BEGIN PRIVATE KEY-----', ...PKCS8_LINES, '-----END PRIVATE KEY-----'].join(' ')}`;
  const escaped = `${['-----BEGIN PRIVATE KEY-----', ...PKCS8_LINES, '-----END PRIVATE KEY-----'].join('\\n')}\\n`;
  const encoded = encodeURIComponent(`${PKCS8}\n`);
  const record: CallRecord = paymentCallRecord({
    path: `/v1/keys?pem=${encoded}&x=1`,
    request: message(multipart, `multipart/form-data; boundary=${boundary}`, { 'x-note': singleLine, 'x-note-escaped': escaped }),
    response: message(`here is the key:\n${RSA}\nkeep it safe`, 'text/plain'),
  });
  const out = maskRecord(record);
  t.equal(bodyOf(out.request), multipart.replace(RSA, maskedPem('RSA PRIVATE KEY')), 'the part');
  t.equal(bodyOf(out.response), `here is the key:\n${maskedPem('RSA PRIVATE KEY')}\nkeep it safe`, 'the response');
  t.same(out.request?.headers, {
    'x-note': '-----BEGIN PRIVATE KEY----- **** -----END PRIVATE KEY-----',
    'x-note-escaped': '-----BEGIN PRIVATE KEY-----\\n****\\n-----END PRIVATE KEY-----\\n',
  });
  t.equal(out.path, '/v1/keys?pem=-----BEGIN%20PRIVATE%20KEY-----%0A****%0A-----END%20PRIVATE%20KEY-----%0A&x=1');
  t.ok(out.sensitive.includes('private_key'));
  t.ok(out.redacted.includes('request.headers.x-note') && out.redacted.includes('response.body') && out.redacted.includes('path'));
  // Nothing of the material is shipped.
  const bytes = recordBatchEncoder()({ seq: 1, sidecar: null, records: [recordToProto(out)] });
  const raw = recordBatchEncoder()({ seq: 1, sidecar: null, records: [recordToProto(record)] });
  for (const line of [...RSA_LINES.slice(0, 3), ...PKCS8_LINES.slice(0, 3), RSA_LINES.at(-1)!]) {
    t.ok(raw.includes(Buffer.from(line)), `${line.slice(0, 12)}… is in the record before masking`);
    t.notOk(bytes.includes(Buffer.from(line)), `${line.slice(0, 12)}… is not in the encoded record`);
  }
  // A form body (`+` a space) and a binary body (byte for byte).
  const form = maskRecord({ request: message(`a=1&pem=${encoded.replaceAll('%20', '+')}`, 'application/x-www-form-urlencoded'), redacted: [], sensitive: [] });
  t.equal(bodyOf(form.request), 'a=1&pem=-----BEGIN+PRIVATE+KEY-----%0A****%0A-----END+PRIVATE+KEY-----%0A');
  const bin = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x12]), Buffer.from(RSA), Buffer.from([0xc3])]);
  const b = maskRecord({ response: message(bin, 'application/x-protobuf'), redacted: [], sensitive: [] });
  const out2 = Buffer.from(b.response?.body ?? []).subarray(4).toString('latin1');
  t.equal(out2.length, RSA.length + 1, 'same length');
  t.ok(out2.startsWith('-----BEGIN RSA PRIVATE KEY-----\n*****'), 'the markers kept');
  t.ok(out2.endsWith('*\n-----END RSA PRIVATE KEY-----\xc3'));
  t.same(b.sensitive, ['private_key']);
});

void t.test('cut short after a BEGIN line: masked to the end; not cut, without an END: the material run', async (t) => {
  const cut = `{"id":7,"pem":"${JSON.stringify(RSA).slice(1, 400)}`;
  const r = maskRecord({ request: message(cut, 'application/json', {}, true), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), '{"id":7,"pem":"-----BEGIN RSA PRIVATE KEY-----\\n****');
  t.same([r.redacted, r.sensitive], [['request.body'], ['private_key']]);
  const text = `key ${RSA.slice(0, 200)}`;
  const p = maskRecord({ request: message(text, 'text/plain', {}, true), redacted: [], sensitive: [] });
  t.equal(bodyOf(p.request), 'key -----BEGIN RSA PRIVATE KEY-----\n****');
  // A few characters of material are masked too: a cut leaves too few to judge.
  t.same(masked('-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl', true), { out: '-----BEGIN OPENSSH PRIVATE KEY-----\n****', kinds: ['private_key'] });
  // A multipart part cut by the limit.
  const mp = `--b\r\nContent-Disposition: form-data; name="f"; filename="k.pem"\r\n\r\n${PKCS8.slice(0, 150)}`;
  const m = maskRecord({ request: message(mp, 'multipart/form-data; boundary=b', {}, true), redacted: [], sensitive: [] });
  t.equal(bodyOf(m.request), `--b\r\nContent-Disposition: form-data; name="f"; filename="k.pem"\r\n\r\n-----BEGIN PRIVATE KEY-----\n****`);
  // The scan budget cuts a body the same way.
  const budget = maskRecord({ request: message(`note ${RSA}`, 'text/plain'), redacted: [], sensitive: [] }, resolveMaskPolicy({ scanBudgetBytes: 100 }));
  t.ok(bodyOf(budget.request).startsWith('note -----BEGIN RSA PRIVATE KEY-----\n****'));
  t.notOk(bodyOf(budget.request).includes(RSA_LINES[0]));
  // Not cut and no END line: the key material after the BEGIN line, up to what is not.
  t.same(masked(`${RSA.slice(0, 300)}... (truncated)`), { out: '-----BEGIN RSA PRIVATE KEY-----\n****... (truncated)', kinds: ['private_key'] });
  // Cut, with a stray BEGIN before a whole key: the stray one's run, the whole key, then the rest.
  const stray = `want -----BEGIN PRIVATE KEY----- header, got ${PKCS8} and ${RSA.slice(0, 120)}`;
  t.same(masked(stray, true), { out: `want -----BEGIN PRIVATE KEY----- header, got ${maskedPem('PRIVATE KEY')} and -----BEGIN RSA PRIVATE KEY-----\n****`, kinds: ['private_key', 'private_key'] });
  // A BEGIN line with nothing after it.
  t.same(masked('-----BEGIN PRIVATE KEY-----\n', true), { out: '-----BEGIN PRIVATE KEY-----\n', kinds: [] });
});

void t.test('a BEGIN line another masker took part of, an END line whose BEGIN line is gone', async (t) => {
  // `KEY=VALUE` masks the value up to the first space: `-----BEGIN`.
  const env = `PRIVATE_KEY=${RSA}\nNEXT=1`;
  const r = maskRecord({ request: message(env, 'text/plain'), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), 'PRIVATE_KEY=**** RSA PRIVATE KEY-----\n****\n-----END RSA PRIVATE KEY-----\nNEXT=1');
  t.same([...r.sensitive].sort(), ['private_key', 'secret']);
  const cut = maskRecord({ request: message(env.slice(0, 200), 'text/plain', {}, true), redacted: [], sensitive: [] });
  t.equal(bodyOf(cut.request), 'PRIVATE_KEY=**** RSA PRIVATE KEY-----\n****');
  // The BEGIN line masked whole: the material right before the END line.
  const spans = (s: string): string[] => findPrivateKeys(s).map((x) => s.slice(x.start, x.end));
  const rest = RSA.slice(RSA.indexOf('\n'));
  t.same(spans(`private_key = ****${rest}`), [RSA_LINES.join('\n')]);
  t.same(spans(`key: "****"${rest}`), [RSA_LINES.join('\n')]);
});

void t.test('certificates, public keys, CSRs, prose and keys elided in documentation stay', async (t) => {
  const kept = [
    CERT,
    pem('PUBLIC KEY', material(6, 200)),
    pem('RSA PUBLIC KEY', material(7, 200)),
    pem('CERTIFICATE REQUEST', material(8, 200)),
    pem('PGP PUBLIC KEY BLOCK', material(9, 200)),
    `ssh-ed25519 ${material(10, 51, 1000)[0]} ci@example`,
    'paste the key between -----BEGIN PRIVATE KEY----- and -----END PRIVATE KEY----- lines',
    '-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----',
    '-----BEGIN RSA PRIVATE KEY-----\n<your key here>\n-----END RSA PRIVATE KEY-----',
    'the server wants a -----BEGIN PRIVATE KEY----- header.',
    'PRIVATE KEY----- alone, RSA PRIVATE KEY-----, -----END PRIVATE KEY-----',
    '-----BEGIN PRIVATE KEYS-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEYS-----',
    '-----BEGIN SECRET PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END SECRET PRIVATE KEY-----',
  ];
  for (const text of kept) t.same(masked(text), { out: text, kinds: [] }, text.slice(0, 60));
  // A bundle: the certificates stay, the key between them goes.
  t.same(masked(`${CERT}\n${PKCS8}\n${CERT}`), { out: `${CERT}\n${maskedPem('PRIVATE KEY')}\n${CERT}`, kinds: ['private_key'] });
  // Not cut, a certificate cut short stays too.
  t.same(masked(CERT.slice(0, 120), true), { out: CERT.slice(0, 120), kinds: [] });
  const r = maskRecord({ response: message(JSON.stringify({ chain: [CERT, CERT], pub: pem('PUBLIC KEY', material(6, 200)) }), 'application/json'), redacted: [], sensitive: [] });
  t.same([r.redacted, r.sensitive], [[], []]);
});

void t.test('the markers must match: another label closes nothing', async (t) => {
  // BEGIN RSA … END EC: the material run after the BEGIN line (up to the next marker).
  const mixed = `${RSA.slice(0, RSA.lastIndexOf('-----END'))}-----END EC PRIVATE KEY-----`;
  t.same(masked(mixed), { out: '-----BEGIN RSA PRIVATE KEY-----\n****\n-----END EC PRIVATE KEY-----', kinds: ['private_key'] });
  // A key begins again before the first one's END line: each is masked once.
  const twice = `-----BEGIN PRIVATE KEY-----\n${PKCS8_LINES[0]}\n${PKCS8}`;
  t.same(masked(twice), { out: `-----BEGIN PRIVATE KEY-----\n****\n${maskedPem('PRIVATE KEY')}`, kinds: ['private_key', 'private_key'] });
});

/** A PuTTY key file (v3), its private lines `lines`. */
function putty(lines: string[], eol = '\n'): string {
  return [
    'PuTTY-User-Key-File-3: ssh-ed25519',
    'Encryption: none',
    'Comment: eddsa-key-20240101',
    'Public-Lines: 2',
    'AAAAC3NzaC1lZDI1NTE5AAAAIMhx7Gq2Lm9Pz4Rt6Vw8Yb1Nc3Kd5Hf0Js2Qa4WbQwE',
    'rTy',
    `Private-Lines: ${lines.length}`,
    ...lines,
    'Private-MAC: 4d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091',
  ].join(eol);
}

void t.test('PuTTY keys: the private lines masked, the header, public lines and MAC kept', async (t) => {
  const lines = material(12, 120);
  const key = putty(lines);
  const expected = putty(['****']).replace('Private-Lines: 1', `Private-Lines: ${lines.length}`);
  t.same(masked(key), { out: expected, kinds: ['private_key'] });
  t.same(masked(putty(lines, '\r\n')), { out: putty(['****'], '\r\n').replace('Private-Lines: 1', `Private-Lines: ${lines.length}`), kinds: ['private_key'] }, 'CRLF');
  const v2 = key.replace('File-3', 'File-2');
  t.same(masked(v2).kinds, ['private_key'], 'version 2');
  const doc = JSON.stringify({ ppk: key });
  const r = maskRecord({ request: message(doc, 'application/json'), redacted: [], sensitive: [] });
  t.same(JSON.parse(bodyOf(r.request)), { ppk: expected }, 'in a JSON value, \\n escaped');
  t.same(r.sensitive, ['private_key']);
  // Cut inside the private lines: masked to the end.
  const cut = key.slice(0, key.indexOf(lines[1]) + 10);
  t.same(masked(cut, true), { out: `${cut.slice(0, cut.indexOf(lines[0]))}****`, kinds: ['private_key'] });
  // `Private-Lines` without a PuTTY header, or of another key, is nothing.
  t.same(masked(`Private-Lines: 1\n${lines[0]}`), { out: `Private-Lines: 1\n${lines[0]}`, kinds: [] });
});

void t.test('the prefilters see every key: the starts, the JSON values, the body', async (t) => {
  for (const text of [RSA, PKCS8, putty(material(12, 60)), `PRIVATE_KEY=**** RSA PRIVATE KEY-----\n${RSA_LINES[0]}`, `****\n${RSA_LINES[0]}\n-----END RSA PRIVATE KEY-----`]) {
    t.ok(mayHoldToken(text), `a start: ${text.slice(0, 30)}`);
    if (!text.startsWith('****')) t.ok(mayHoldToken(text.slice(0, 60), true), `a start, cut: ${text.slice(0, 30)}`);
    t.ok(bodyMayHoldSecret(Buffer.from(text), resolveMaskPolicy({ detectEmails: false })), `the body prefilter: ${text.slice(0, 30)}`);
  }
  // A one-line key holding no digit, quote, `=`, `:` or backslash: found by its markers alone.
  const letters = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5eg';
  const oneLine = `-----BEGIN PRIVATE KEY----- ${letters} -----END PRIVATE KEY-----`;
  const doc = JSON.stringify({ a: oneLine, b: 'plain' });
  t.ok(scanTriggers(doc, DEFAULT_MASK_POLICY)(6, 6 + oneLine.length), 'a trigger in the value');
  t.equal(maskJson(doc, DEFAULT_MASK_POLICY, []), JSON.stringify({ a: '-----BEGIN PRIVATE KEY----- **** -----END PRIVATE KEY-----', b: 'plain' }));
  t.notOk(mayHoldToken('a PRIVATE KEY in PEM, its base64 between two marker lines'), 'prose about keys holds no start');
});

/** Parts of keys: markers and their words, masks, material, PuTTY's lines. */
const PIECES = [
  '-----BEGIN ', '-----END ', 'RSA ', 'EC ', 'PRIVATE ', 'PUBLIC ', 'KEY-----', '-----BEGIN PGP PRIVATE KEY BLOCK-----', '-----END PGP PRIVATE KEY BLOCK-----',
  'CERTIFICATE-----', '****', ' ', '\n', '\\n', '%0A',
  'b', 'x.', PKCS8_LINES[0], PKCS8_LINES[1].slice(0, 10), 'PuTTY-User-Key-File-3: x\n', 'Private-Lines: 1\n', 'Private-Lines: 2\n',
];

void t.test('the prefilters agree with the finder on generated text', async (t) => {
  const random = lcg(13);
  const policy = resolveMaskPolicy({ detectEmails: false });
  let found = 0;
  let unstarted = 0;
  for (let i = 0; i < 20_000; i++) {
    let text = '';
    const parts = 1 + Math.floor(random() * 10);
    for (let k = 0; k < parts; k++) text += PIECES[Math.floor(random() * PIECES.length)];
    const cut = random() < 0.3;
    const kinds: string[] = [];
    maskText(text, policy, (k) => kinds.push(k), false, false, cut);
    const keys = kinds.filter((k) => k === 'private_key').length;
    if (keys > 0) found++;
    if (!bodyMayHoldSecret(Buffer.from(text), policy) && keys > 0) t.fail(`the body prefilter skipped ${JSON.stringify(text)}`);
    if (!mayHoldToken(text, cut)) {
      unstarted++;
      if (keys > 0) t.fail(`no start in ${JSON.stringify(text)} (cut: ${cut})`);
    }
    if (!cut && keys > 0 && !scanTriggers(JSON.stringify({ v: text }), policy)(6, 6 + JSON.stringify(text).length - 2)) t.fail(`no trigger in the value ${JSON.stringify(text)}`);
  }
  t.ok(found > 300, `${found} texts with a key`);
  t.ok(unstarted > 1000, `${unstarted} texts without a start`);
});

void t.test('through maskRecord, a key under a secret name in an INI or env file: no material shipped', async (t) => {
  for (const body of [`private_key = ${RSA}\nuser = ci`, `PRIVATE_KEY="${RSA}"`, `[deploy]\nkey: ${PKCS8}`, `ssh_key=${PKCS8.replaceAll('\n', '\\n')}`]) {
    const r = maskRecord({ request: message(body, 'text/plain'), redacted: [], sensitive: [] });
    const out = bodyOf(r.request);
    for (const line of [...RSA_LINES, ...PKCS8_LINES].filter((l) => body.includes(l))) t.notOk(out.includes(line), `${JSON.stringify(body.slice(0, 20))}: ${line.slice(0, 12)}… is masked`);
    t.ok(r.sensitive.length > 0, `${JSON.stringify(body.slice(0, 20))}: reported (${r.sensitive.join(', ')})`);
  }
});


void t.test('the finder is linear on hostile input', async (t) => {
  const policy = resolveMaskPolicy({ scanBudgetBytes: 64 * 1024 * 1024 });
  const hostile: Array<[string, (n: number) => () => unknown]> = [
    ['BEGIN lines, no END', (n) => () => findPrivateKeys('-----BEGIN PRIVATE KEY-----'.repeat(n / 27))],
    ['BEGIN lines, no END, cut', (n) => () => findPrivateKeys('-----BEGIN PRIVATE KEY-----\n'.repeat(n / 28), true)],
    ['END lines only', (n) => () => findPrivateKeys('-----END PRIVATE KEY-----'.repeat(n / 25))],
    ['END lines after material', (n) => () => findPrivateKeys(`${'a'.repeat(n)}-----END PRIVATE KEY-----`.repeat(2))],
    ['a BEGIN line, then material of n', (n) => () => findPrivateKeys(`-----BEGIN PRIVATE KEY-----\n${'a'.repeat(n)}`)],
    ['BEGIN lines, then ENDs of another label', (n) => () => findPrivateKeys(`${'-----BEGIN RSA PRIVATE KEY-----\nab\n'.repeat(n / 70)}${'-----END EC PRIVATE KEY-----\n'.repeat(n / 58)}`)],
    ['masked BEGIN lines', (n) => () => findPrivateKeys('**** PRIVATE KEY-----\n'.repeat(n / 22))],
    ['marker ends only', (n) => () => findPrivateKeys('KEY-----'.repeat(n / 8))],
    ['label words before a marker', (n) => () => findPrivateKeys(`${'RSA '.repeat(n / 4)}PRIVATE KEY-----`)],
    ['PuTTY headers, no private lines', (n) => () => findPrivateKeys('PuTTY-User-Key-File-3: x\n'.repeat(n / 25))],
    ['PuTTY headers before one private lines', (n) => () => findPrivateKeys(`${'PuTTY-User-Key-File-3: x\n'.repeat(n / 50)}Private-Lines: 99999\n${'ab\n'.repeat(n / 6)}`)],
    ['record: a text body of markers, cut', (n) => () => maskRecord({ request: message('-----BEGIN EC PRIVATE KEY-----\nab\n-----END PRIVATE KEY-----\n'.repeat(n / 60), 'text/plain', {}, true) }, policy)],
    ['record: JSON values of keys', (n) => () => maskRecord({ request: message(JSON.stringify({ a: `${PKCS8}\n`.repeat(n / 600) }), 'application/json') }, policy)],
  ];
  for (const [name, make] of hostile) {
    const { small, large } = growth(make);
    t.ok(small > 0, `${name}: the meter counted work`);
    t.ok(large / small < 2.3, `${name}: 2n costs ${(large / small).toFixed(2)}× n`);
    t.ok(large / 80_000 < 40, `${name}: ${(large / 80_000).toFixed(1)} steps per character`);
  }
});
