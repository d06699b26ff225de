/**
 * IBANs in free text, masked by default as `iban`: valid ones of many countries, compact and
 * printed in groups of four, wherever the text detectors run; and the near misses an IBAN's own
 * rules reject (check digits, the country's length, the country itself, word boundaries, case,
 * spacing), each built to pass every other rule so that it tests the one it breaks.
 */
import t from 'tap';
import { collectorMessageType } from '../../../record/codec.ts';
import type { HttpMessage } from '../../../record/record.ts';
import { bodyMayHoldSecret } from '../../../sidecar/mask/body-prefilter.ts';
import { cardDigits, maskText, scanTriggers } from '../../../sidecar/mask/detectors.ts';
import { findIbans, IBAN_LENGTHS, SHORTEST_IBAN } from '../../../sidecar/mask/iban.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { chunkedThroughEngine } from './through-engine.ts';

/** Valid IBANs (the registry's and banks' published examples), by country. */
const VALID: Readonly<Record<string, string>> = {
  DE: 'DE89370400440532013000',
  GB: 'GB29NWBK60161331926819',
  FR: 'FR1420041010050500013M02606',
  NL: 'NL91ABNA0417164300',
  ES: 'ES9121000418450200051332',
  IT: 'IT60X0542811101000000123456',
  CH: 'CH9300762011623852957',
  BE: 'BE68539007547034',
  AT: 'AT611904300234573201',
  PL: 'PL61109010140000071219812874',
  SE: 'SE4550000000058398257466',
  NO: 'NO9386011117947',
  DK: 'DK5000400440116243',
  FI: 'FI2112345600000785',
  IE: 'IE29AIBK93115212345678',
  PT: 'PT50000201231234567890154',
  LU: 'LU280019400644750000',
  MT: 'MT84MALT011000012345MTLCAST001S',
  LC: 'LC55HEMM000100010012001200023015',
  RU: 'RU0304452522540817810538091310419',
};
const DE = VALID.DE;

/** The check digits of `country` and `bban` by ISO 7064 mod 97-10, computed with BigInt (not the masker's way). */
function checkDigits(country: string, bban: string): string {
  const digits = [...`${bban}${country}00`].map((c) => (c >= 'A' && c <= 'Z' ? String(c.charCodeAt(0) - 55) : c)).join('');
  return String(98n - (BigInt(digits) % 97n)).padStart(2, '0');
}
const withCheck = (country: string, bban: string): string => `${country}${checkDigits(country, bban)}${bban}`;
/** As printed: a space after every four characters. */
const printed = (iban: string): string => iban.replace(/(.{4})(?=.)/g, '$1 ');

function masked(text: string, policy = DEFAULT_MASK_POLICY, formEncoded = false): { out: string; kinds: string[] } {
  const kinds: string[] = [];
  const out = maskText(text, policy, (k, m) => kinds.push(m ? k : `${k}?`), false, formEncoded);
  return { out, kinds };
}

const message = (body: string | Buffer, contentType?: string, headers: Record<string, string> = {}): HttpMessage => {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return { headers, body: bytes, body_size: bytes.length, truncated: false, ...(contentType === undefined ? {} : { content_type: contentType }) };
};
const bodyOf = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString('latin1');

void t.test('the fixtures: valid IBANs at their country length, and the check digit helper agrees with them', async (t) => {
  for (const [country, iban] of Object.entries(VALID)) {
    t.equal(iban.length, IBAN_LENGTHS[country], `${country}: ${IBAN_LENGTHS[country]} characters`);
    t.equal(withCheck(country, iban.slice(4)), iban, `${country}: its check digits`);
  }
  t.equal(SHORTEST_IBAN, 15, "Norway's");
  t.equal(IBAN_LENGTHS.DE, 22);
  t.equal(IBAN_LENGTHS.US, undefined, 'no IBAN country');
});

void t.test('valid IBANs of many countries: masked whole, compact and printed, in text', async (t) => {
  for (const [country, iban] of Object.entries(VALID)) {
    for (const form of [iban, printed(iban)]) {
      for (const [text, out] of [
        [form, '****'],
        [`pay to ${form} today`, 'pay to **** today'],
        [`IBAN: ${form}.`, 'IBAN: ****.'],
        [`(${form})`, '(****)'],
        [`"${form}",`, '"****",'],
        [`account=${form}&x=1`, 'account=****&x=1'],
        [`from ${form}\nto ${form}`, 'from ****\nto ****'],
      ]) {
        const m = masked(text);
        t.equal(m.out, out, `${country}: ${text}`);
        t.same([...new Set(m.kinds)], ['iban'], `${country}: ${text}: iban`);
      }
    }
  }
  t.same(
    findIbans(`a ${DE} b ${printed(VALID.GB)} c`).map((s) => [s.start, s.end]),
    [
      [2, 24],
      [27, 54],
    ],
    'the spans: each IBAN with its spaces, nothing around it',
  );
});

void t.test('near misses: wrong check digits, wrong length, unknown country, inside a word, lower case, other spacing', async (t) => {
  const bban = DE.slice(4);
  const kept: Array<[string, string]> = [];
  for (const [country, iban] of Object.entries(VALID)) {
    // The next check digits (98 wraps to 02): every other rule still holds.
    const kk = Number(iban.slice(2, 4));
    const wrong = `${country}${String(kk === 98 ? 2 : kk + 1).padStart(2, '0')}${iban.slice(4)}`;
    kept.push([`wrong check digits, ${country}`, wrong], [`wrong check digits, ${country}, printed`, printed(wrong)]);
  }
  // Valid check digits for the characters written, at a length not the country's.
  for (const [name, iban] of [
    ['a digit more', withCheck('DE', `${bban}7`)],
    ['a digit fewer', withCheck('DE', bban.slice(0, -1))],
    ["the Netherlands' length under GB", withCheck('GB', VALID.NL.slice(4))],
    ["Germany's length under NO", withCheck('NO', bban)],
  ]) {
    kept.push([`wrong length: ${name}`, iban], [`wrong length: ${name}, printed`, printed(iban)]);
  }
  // Valid check digits at Germany's length, under codes that are no IBAN country.
  for (const code of ['XX', 'US', 'AA', 'ZZ', 'CN']) kept.push([`unknown country ${code}`, withCheck(code, bban)], [`unknown country ${code}, printed`, printed(withCheck(code, bban))]);
  kept.push(
    ['inside a word: a letter before', `X${DE}`],
    ['inside a word: a reference before', `REF${DE}`],
    ['inside a word: a digit before', `9${DE}`],
    ['inside a word: _ before', `_${DE}`],
    ['inside a word: a letter after', `${DE}X`],
    ['inside a word: a digit after', `${DE}0`],
    ['inside a word, printed: a digit after the last group', `${printed(DE)}0`],
    ['inside a word: _ after', `${DE}_1`],
    ['inside a word, printed: a letter after the last group', `${printed(DE)}X`],
    ['lower case', DE.toLowerCase()],
    ['lower case, printed', printed(DE).toLowerCase()],
    ['a lower-case bank code', 'GB29nwbk60161331926819'],
    ['a lower-case country', `De${DE.slice(2)}`],
    ['two spaces', printed(DE).replace(' ', '  ')],
    ['a space after the fifth character', 'DE893 7040 0440 5320 1300 0'],
    ['compact after the first group', `DE89 ${bban}`],
    ['tabs between the groups', printed(DE).replaceAll(' ', '\t')],
    ['dashes between the groups', printed(VALID.GB).replaceAll(' ', '-')],
    ['%20 between the groups', printed(VALID.GB).replaceAll(' ', '%20')],
    // Check digits outside 02–98 that still pass mod 97: 01 stands where 98 would.
    ['check digits 01', 'DE01370400440532013032'],
  );
  for (const [name, text] of kept) {
    const m = masked(`note ${text} end`);
    t.same(m, { out: `note ${text} end`, kinds: [] }, `${name}: ${text}`);
  }
  t.same(masked('DE98370400440532013032'), { out: '****', kinds: ['iban'] }, 'the same characters with 98: an IBAN');
});

void t.test('ordinary text with capitals and digits stays', async (t) => {
  const kept = [
    'HTTP2 and GRPC1 over TLS13',
    'SKU AB12 CD34 EF56 GH78 IJ90',
    'ISO 13616 IBAN format, DE and GB lengths 22',
    'order DE12345 shipped to GB 2024-05-01T10:00:00Z',
    'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPJ',
    'DE89',
    'DE89 3704 0044',
    'x-request-id 2f1c9a4e-8b7d-4c3a-9e1f-5a6b7c8d9e0f',
  ];
  for (const text of kept) t.same(masked(text), { out: text, kinds: [] }, text);
});

void t.test('through maskRecord: JSON values, plain text, a header, a query, binary and escaped JSON', async (t) => {
  const doc = JSON.stringify({
    to: DE,
    from: printed(VALID.GB),
    note: `refund to ${VALID.FR} today`,
    amount: 12.5,
    ref: 'INV-2024-0042',
    nested: [{ account: VALID.NL }],
  });
  const r = maskRecord({
    path: `/v1/payouts?account=${VALID.CH}&page=2`,
    request: message(doc, 'application/json', { 'x-note': `pay ${VALID.IT} now` }),
    response: message(`transfer 120.00 EUR to ${printed(VALID.PL)} (ref 7731)\nfrom ${VALID.SE}.`, 'text/plain'),
    redacted: [],
    sensitive: [],
  });
  t.same(JSON.parse(bodyOf(r.request)), { to: '****', from: '****', note: 'refund to **** today', amount: 12.5, ref: 'INV-2024-0042', nested: [{ account: '****' }] });
  t.equal(bodyOf(r.response), 'transfer 120.00 EUR to **** (ref 7731)\nfrom ****.');
  t.equal(r.path, '/v1/payouts?account=****&page=2');
  t.same(r.request?.headers, { 'x-note': 'pay **** now' });
  t.same(
    [...r.redacted].sort(),
    ['path', 'request.body.$.from', 'request.body.$.nested[0].account', 'request.body.$.note', 'request.body.$.to', 'request.headers.x-note', 'response.body'],
  );
  t.same(r.sensitive, ['iban']);

  const bin = Buffer.concat([Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from(`\x16${DE}\x12`), Buffer.from([0xc3])]);
  const b = maskRecord({ response: message(bin, 'application/x-protobuf'), redacted: [], sensitive: [] });
  const out = Buffer.from(b.response?.body ?? []);
  t.equal(out.length, bin.length, 'a binary body keeps its length');
  t.equal(out.subarray(3, 3 + 24).toString('latin1'), `\x16${'*'.repeat(22)}\x12`);
  t.same(b.sensitive, ['iban']);

  const escaped = `{"a":"to\\n${DE}","b":"\\u0020${VALID.BE}\\u0020"}`;
  const e = maskRecord({ request: message(escaped, 'application/json'), redacted: [], sensitive: [] });
  t.equal(bodyOf(e.request), '{"a":"to\\n****","b":"\\u0020****\\u0020"}', 'escapes around it are separators, and kept');
  t.equal(masked(`iban%20${DE}%20x`).out, 'iban%20****%20x', 'right after a percent-escape');
});

void t.test('an IBAN whose digits pass as a card is an iban, masked whole', async (t) => {
  const be = 'BE69539007547016';
  t.equal(withCheck('BE', be.slice(4)), be, 'a valid IBAN');
  t.not(cardDigits(be.slice(2)), undefined, 'its digits alone are a card to the card detector');
  t.same(masked(`to ${be}`), { out: 'to ****', kinds: ['iban'] });
});

void t.test('found where the triggers and the body prefilter look', async (t) => {
  const policy = resolveMaskPolicy({ detectEmails: false });
  const text = `to ${printed(VALID.GB)}`;
  t.ok(bodyMayHoldSecret(Buffer.from(text), policy), 'the body prefilter passes it');
  const doc = JSON.stringify({ a: text });
  t.ok(scanTriggers(doc, policy)(6, 6 + text.length), 'a trigger in the JSON value');
  t.equal(bodyOf(maskRecord({ request: message(text, 'text/plain') }, policy).request), 'to ****');
});

void t.test('through the capture worker: a chunked JSON body split inside each IBAN', async (t) => {
  const recordType = collectorMessageType('meshtap.v1.CallRecord');
  const gb = printed(VALID.GB);
  const text = `{"to":"${DE}","log":"paid from ${gb} ok"}`;
  const cuts = [text.indexOf(DE) + 2, text.indexOf(DE) + 11, text.indexOf(gb) + 4, text.indexOf(gb) + 5, text.length];
  const shipped = chunkedThroughEngine(text, cuts, 7);
  t.equal(shipped.length, 1, 'one record');
  const bytes = Buffer.concat(shipped.map((b) => Buffer.from(b)));
  for (const secret of [DE.slice(4), gb.slice(5)]) t.notOk(bytes.includes(Buffer.from(secret)), `${secret} is not shipped`);
  const record = recordType.toObject(recordType.decode(shipped[0]), { longs: String }) as { request?: { body: Uint8Array }; sensitive?: string[] };
  t.equal(Buffer.from(record.request?.body ?? []).toString(), '{"to":"****","log":"paid from **** ok"}');
  t.same(record.sensitive, ['iban']);
});
