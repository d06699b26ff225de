/**
 * A key/value pair inside a query or form value, percent-encoded with it: `next=%2Fcb%3Ftoken%3D…`
 * (a return URL holding a token), `data=%7B%22password%22%3A%22…%22%7D` (JSON in a form field).
 * The literal form (`next=/cb?token=****`) was masked; the encoded one is masked in place, in
 * the characters it was written with, and everything else stays byte for byte.
 */
import t from 'tap';
import type { HttpMessage } from '../../../record/record.ts';
import { maskText } from '../../../sidecar/mask/detectors.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { decodePercentEscapes } from '../../../sidecar/mask/percent-escape.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { resetScanMeter, scanMeter } from '../../../sidecar/mask/scan-meter.ts';
import { findKeyValueText } from '../../../sidecar/mask/text-pairs.ts';

const message = (body: string, contentType: string, truncated = false): HttpMessage => {
  const bytes = Buffer.from(body);
  return { headers: {}, body: bytes, body_size: bytes.length + (truncated ? 100 : 0), truncated, content_type: contentType };
};
const bodyOf = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString('utf8');
const FORM = 'application/x-www-form-urlencoded';

void t.test("the security review's query: the token masked in its encoded form", async (t) => {
  const r = maskRecord({ path: '/s/t3?next=%2Fcb%3Ftoken%3DLKT3encpair', redacted: [], sensitive: [] });
  t.equal(r.path, '/s/t3?next=%2Fcb%3Ftoken%3D****');
  t.same([r.redacted, r.sensitive], [['path'], ['token']]);
  // The literal form, as before.
  t.equal(maskRecord({ path: '/s/t3?next=/cb?token=LKT3literal', redacted: [], sensitive: [] }).path, '/s/t3?next=/cb?token=****');
});

void t.test("the security review's form bodies: a URL and JSON inside field values", async (t) => {
  const body = 'user=bob&next=%2Fcb%3Faccess_token%3DLKT4encform%26lang%3Den&data=%7B%22password%22%3A%22LK71cjsonform%22%2C%22n%22%3A1%7D&password=fp';
  const r = maskRecord({ request: message(body, FORM), redacted: [], sensitive: [] });
  t.equal(bodyOf(r.request), 'user=bob&next=%2Fcb%3Faccess_token%3D****%26lang%3Den&data=%7B%22password%22%3A%22****%22%2C%22n%22%3A1%7D&password=****');
  t.same(r.redacted, ['request.body.password', 'request.body']);
  t.same([...r.sensitive].sort(), ['password', 'token']);
});

const found: Array<[string, string, string[]]> = [
  // Any case of the hex digits; `+` is a space in a query or form.
  ['next=%2fcb%3ftoken%3dLKT3lower&x=1', 'next=%2fcb%3ftoken%3d****&x=1', ['token']],
  ['next=%2Fcb%3Fa%3D1%26token%3DLKT3mid%26b%3D2', 'next=%2Fcb%3Fa%3D1%26token%3D****%26b%3D2', ['token']],
  ['q=%7B%22password%22%3A+%22LKT3 spaced%22%7D', 'q=%7B%22password%22%3A+%22****%22%7D', ['password']],
  ['q=login+password%3DLKT3plus+ok', 'q=login+password%3D****+ok', ['password']],
  // A colon, and a field whose name holds the encoded pair (no `=` of its own).
  ['x=api_key%3A%20LKT3colon', 'x=api_key%3A%20****', ['api_key']],
  ['token%3DLKT3noeq&a=1', 'token%3D****&a=1', ['token']],
  // An encoded line break: a spaced pair alone on its line.
  ['cfg=%5Bdefault%5D%0Aaws_secret_access_key+%3D+wJal%2FLKT3%0Aregion+%3D+eu', 'cfg=%5Bdefault%5D%0Aaws_secret_access_key+%3D+****%0Aregion+%3D+eu', ['secret']],
];

void t.test('encoded pairs in a query string: masked in place', async (t) => {
  for (const [query, out, kinds] of found) {
    const r = maskRecord({ path: `/p?${query}`, redacted: [], sensitive: [] });
    t.equal(r.path, `/p?${out}`, query);
    t.same([...r.sensitive].sort(), kinds, query);
  }
});

void t.test('encoded pairs in a form body, and in a form body cut inside the value', async (t) => {
  for (const [form, out] of found) t.equal(bodyOf(maskRecord({ request: message(form, FORM), redacted: [], sensitive: [] }).request), out, form);
  const cut = maskRecord({ request: message('a=1&next=%2Fcb%3Ftoken%3DLKT3cu', FORM, true), redacted: [], sensitive: [] });
  t.equal(bodyOf(cut.request), 'a=1&next=%2Fcb%3Ftoken%3D****');
  t.same(cut.sensitive, ['token']);
});

void t.test('an encoded URL in other text: a header value, a JSON string, a log line', async (t) => {
  const url = 'https://app.shop/login?next=%2Fcb%3Ftoken%3DLKT3hdr';
  const r = maskRecord({
    request: { ...message(JSON.stringify({ redirect: url }), 'application/json'), headers: { 'x-return-to': url } },
    response: message(`302 to ${url} sent`, 'text/plain'),
    redacted: [],
    sensitive: [],
  });
  const masked = 'https://app.shop/login?next=%2Fcb%3Ftoken%3D****';
  t.equal(r.request?.headers['x-return-to'], masked);
  t.equal(bodyOf(r.request), JSON.stringify({ redirect: masked }));
  t.equal(bodyOf(r.response), `302 to ${masked} sent`);
});

const ordinary = [
  'next=%2Fcb%3Fpage%3D2%26sort%3Dasc',
  'next=%2Fcb%3Ftoken%3D',
  'next=%2Fcb%3Ftoken_count%3D5',
  // Doubly encoded text is decoded once: no separator appears.
  'next=%252Fcb%253Ftoken%253DLKT3double',
  // A host and its port, a URL's scheme.
  'u=auth%3A8080',
  'u=https%3A%2F%2Fapi.shop%2Fv1',
  'q=a+%3D%3D+b',
];

void t.test('encoded text without a secret pair stays byte for byte', async (t) => {
  for (const query of ordinary) {
    const r = maskRecord({ path: `/p?${query}`, redacted: [], sensitive: [] });
    t.equal(r.path, `/p?${query}`, query);
    t.same(r.sensitive, [], query);
  }
});

void t.test('the policy decides the keys', async (t) => {
  const added = resolveMaskPolicy({ jsonKeys: ['tenant_code'] });
  t.equal(maskRecord({ path: '/p?next=%2Fcb%3Ftenant_code%3Dtc1', redacted: [], sensitive: [] }, added).path, '/p?next=%2Fcb%3Ftenant_code%3D****');
  t.equal(maskRecord({ path: '/p?next=%2Fcb%3Ftenant_code%3Dtc1', redacted: [], sensitive: [] }).path, '/p?next=%2Fcb%3Ftenant_code%3Dtc1');
  const off = maskRecord({ path: '/p?next=%2Fcb%3Ftoken%3Dt1', redacted: [], sensitive: [] }, resolveMaskPolicy({ enabled: false }));
  t.equal(off.path, '/p?next=%2Fcb%3Ftoken%3Dt1');
});

void t.test('decoding keeps where each character was written', async (t) => {
  const { text, at } = decodePercentEscapes('a%3Db+c%zz%4', true);
  t.equal(text, 'a=b c%zz%4');
  t.same([...at], [0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  t.equal(decodePercentEscapes('a+b', false).text, 'a+b');
  t.same(maskText('x%3Dy', DEFAULT_MASK_POLICY, () => {}), 'x%3Dy');
});

void t.test('linear on encoded separators', async (t) => {
  const steps = (s: string, form: boolean): number => {
    resetScanMeter();
    findKeyValueText(s, DEFAULT_MASK_POLICY, form);
    return scanMeter.steps;
  };
  const shapes: Array<(n: number) => string> = [
    (n) => '%3D'.repeat(n / 3),
    (n) => 'pwd%3D'.repeat(n / 6),
    (n) => 'a=%22pwd%22%3A%22x'.repeat(n / 18),
    (n) => `next=${'%2F'.repeat(n / 3)}%3Ftoken%3Dx`,
  ];
  for (const shape of shapes) {
    for (const form of [false, true]) {
      const small = steps(shape(40_000), form);
      const large = steps(shape(80_000), form);
      t.ok(large / small < 2.3 && large / 80_000 < 40, `${shape(30).slice(0, 20)}… (form: ${form}): ${small} then ${large} steps`);
    }
  }
});
