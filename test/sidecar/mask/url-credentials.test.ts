/**
 * Passwords in `scheme://user:password@host` URLs: the detector alone, then every place the
 * general detectors run (JSON string values, form values, plain-text and binary bodies, header
 * values, query strings), and its cost on adversarial input.
 */
import t from 'tap';
import { maskText } from '../../../sidecar/mask/detectors.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { resetScanMeter, scanMeter } from '../../../sidecar/mask/scan-meter.ts';
import { findUrlPasswords } from '../../../sidecar/mask/url-credentials.ts';
import type { HttpMessage } from '../../../record/record.ts';

const passwords = (s: string): string[] => findUrlPasswords(s).map((x) => s.slice(x.start, x.end));

const message = (body: string | Buffer, contentType?: string, headers: Record<string, string> = {}): HttpMessage => {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return { headers, body: bytes, body_size: bytes.length, truncated: false, ...(contentType === undefined ? {} : { content_type: contentType }) };
};
const bodyText = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString('latin1');

void t.test('the detector finds the password of scheme://user:password@host, and nothing else', async (t) => {
  const found: Array<[string, string[]]> = [
    ['postgres://shop:URLPW1@db:5432/x', ['URLPW1']],
    ['"https://user:URLPW2@example.com/"', ['URLPW2']],
    ['redis://:only-a-password@cache:6379/0', ['only-a-password']],
    ['mongodb+srv://app:Mongo-pw@cluster0.example.net/db?retryWrites=true', ['Mongo-pw']],
    ['amqp://guest:p%40ss@rabbit', ['p%40ss']],
    // A raw `@` or `:` in the password: masked whole, to the authority's last `@`.
    ['https://u:p@ss:w@host/x', ['p@ss:w']],
    ['two: http://a:PW-A@h1/ and ftp://b:PW-B@h2', ['PW-A', 'PW-B']],
    // Percent-encoded, as in a query string or a form value.
    ['next=https%3A%2F%2Fu%3AENC-PW%40h.example%2Fcb&x=1', ['ENC-PW']],
    ['next=https%3a%2f%2fu%3aenc-lower%40h', ['enc-lower']],
    // The raw text of a JSON string: an escaped quote is part of the password.
    ['postgres://u:p\\"w@h', ['p\\"w']],
  ];
  for (const [text, want] of found) t.same(passwords(text), want, text);

  const none = [
    'postgres://shop@db:5432/x',
    'https://example.com:8443/path',
    'http://host:80/p@x',
    'https://example.com/?q=a:b@c',
    'mailto:ann@example.com',
    '://user:pw@host',
    'a :// b:c@d',
    'meet at 12:30, mail bob@example.com',
    '"http://h/", "x:y@z"',
    'next=https%3A%2F%2Fexample.com%2Fa%3Ab%40c',
    '',
  ];
  for (const text of none) t.same(passwords(text), [], `nothing in ${JSON.stringify(text)}`);
});

void t.test('maskText: the URL password is masked as url_password and the e-mail detector does not fire on it', async (t) => {
  const policy = resolveMaskPolicy({});
  const hits: string[] = [];
  const out = maskText('use https://user:URLPW2@example.com/ or mail bob@example.com', policy, (k, m) => hits.push(`${k}:${m}`));
  t.equal(out, 'use https://user:****@example.com/ or mail bob@example.com');
  t.same(hits, ['url_password:true', 'email:false'], 'one url_password; the only e-mail is the real one');
  const same = maskText('x postgres://shop:URLPW1@db/x', policy, () => {}, true);
  t.equal(same, 'x postgres://shop:******@db/x', 'byte for byte in binary bodies');
});

void t.test('every place the general detectors run masks the URL password, keeping scheme, user and host', async (t) => {
  const record = maskRecord({
    path: '/import?source=postgres%3A%2F%2Fshop%3AQUERYPW%40db%3A5432%2Fx&mode=full',
    request: message('{"conn":"postgres://shop:URLPW1@db:5432/x","site":"https://user:URLPW2@example.com/","n":1}', 'application/json', {
      'x-upstream': 'redis://:HEADERPW@cache:6379',
    }),
    response: message('connected to mysql://root:TEXTPW@mysql:3306/shop', 'text/plain'),
    redacted: [],
    sensitive: [],
  });
  const all = JSON.stringify({ ...record, request: bodyText(record.request), response: bodyText(record.response), headers: record.request?.headers });
  for (const secret of ['URLPW1', 'URLPW2', 'QUERYPW', 'HEADERPW', 'TEXTPW']) t.notOk(all.includes(secret), `${secret} is gone`);
  t.equal(bodyText(record.request), '{"conn":"postgres://shop:****@db:5432/x","site":"https://user:****@example.com/","n":1}');
  t.equal(record.request?.headers['x-upstream'], 'redis://:****@cache:6379');
  t.equal(record.path, '/import?source=postgres%3A%2F%2Fshop%3A****%40db%3A5432%2Fx&mode=full');
  t.equal(bodyText(record.response), 'connected to mysql://root:****@mysql:3306/shop');
  t.same(record.sensitive, ['url_password'], 'one kind, and no e-mail for user:…@example.com');
  t.same(record.redacted, ['path', 'request.headers.x-upstream', 'request.body.$.conn', 'request.body.$.site', 'response.body']);

  const form = maskRecord({ request: message('db=postgres%3A%2F%2Fu%3AFORMPW%40h%2Fd&raw=amqp://g:FORMPW2@r', 'application/x-www-form-urlencoded') });
  t.equal(bodyText(form.request), 'db=postgres%3A%2F%2Fu%3A****%40h%2Fd&raw=amqp://g:****@r', 'form values, encoded or not');
  t.same(form.sensitive, ['url_password']);

  const binary = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00]), Buffer.from(' dsn=postgres://u:BINPW@h/d '), Buffer.from([0xc3])]);
  const bin = maskRecord({ request: message(binary, 'application/octet-stream') });
  t.equal(bin.request?.body.length, binary.length, 'binary bodies keep their length');
  t.notOk(bodyText(bin.request).includes('BINPW'));
});

void t.test('found without any other trigger: no digit, no quote, no e-mail detection', async (t) => {
  // Neither a digit, a quote, `eyJ` nor (e-mails not detected) an `@` would send these to the detectors.
  const policy = resolveMaskPolicy({ detectEmails: false });
  const text = maskRecord({ request: message('see https://user:NoDigitsPw@example.com/docs', 'text/plain') }, policy);
  t.equal(bodyText(text.request), 'see https://user:****@example.com/docs', 'plain text body (the body prefilter)');
  const json = maskRecord({ request: message('{"a":"https://user:NoDigitsPw@example.com/docs","b":"plain"}', 'application/json') }, policy);
  t.equal(bodyText(json.request), '{"a":"https://user:****@example.com/docs","b":"plain"}', 'JSON string value (the scan triggers)');
});

void t.test('linear on adversarial input', async (t) => {
  const make: Array<[string, (n: number) => string]> = [
    ['separators', (n) => 'a://'.repeat(n / 4)],
    ['one authority of colons then @', (n) => `a://${':'.repeat(n)}@`],
    ['authorities of @ and :', (n) => `a://${'@:'.repeat(n / 2)}`],
    ['encoded separators', (n) => '%3A%2F%2F'.repeat(n / 9)],
    ['a long scheme before each separator', (n) => `${'a'.repeat(100)}://u:p@h `.repeat(n / 110)],
    ['no separator, many percents', (n) => '%3A%2F'.repeat(n / 6)],
  ];
  for (const [name, input] of make) {
    const steps = (n: number): number => {
      resetScanMeter();
      findUrlPasswords(input(n));
      return scanMeter.steps;
    };
    const small = steps(40_000);
    const large = steps(80_000);
    t.ok(large / Math.max(1, small) < 2.3, `${name}: 2n costs ${(large / Math.max(1, small)).toFixed(2)}× n`);
    t.ok(large / 80_000 < 40, `${name}: ${(large / 80_000).toFixed(1)} steps per character`);
  }
});

void t.test('user information in an authority (Host, :authority, the record\'s authority)', async (t) => {
  const headers = (h: Record<string, string>): HttpMessage => ({ headers: h, body: Buffer.alloc(0), body_size: 0, truncated: false });
  const r = maskRecord({ path: '/', authority: 'u:LKH5authpw@10.244.0.6:9091', request: headers({ host: 'u:LKB7hostpw@10.244.0.6', ':authority': 'LKB8token@api' }), redacted: [], sensitive: [] });
  t.equal(r.authority, 'u:****@10.244.0.6:9091');
  t.equal(r.request!.headers.host, 'u:****@10.244.0.6');
  t.equal(r.request!.headers[':authority'], '****@api', 'without a colon the user information is masked whole');
  t.same([...r.redacted].sort(), ['authority', 'request.headers.:authority', 'request.headers.host']);
  t.same(r.sensitive, ['url_password']);
  const plain = maskRecord({ path: '/', authority: 'shop.example:8443', request: headers({ host: 'shop.example' }), redacted: [], sensitive: [] });
  t.equal(plain.authority, 'shop.example:8443');
  t.same(plain.redacted, []);
});
